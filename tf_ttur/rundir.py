"""The run directory: the names of what it holds (`RunDir`), one run at a
time (`RunLock`), moved aside on --restart, and cleared of what a killed
run left half-written. Its checkpoints are found by tf_ttur.discovery, its
config.json and vocab.json read and written by tf_ttur.runconfig.

- `RunLock`: an OS lock (fcntl.flock) on `<workdir>/.lock`, held for the
  run's life and released by the kernel when the process ends however it
  ends, so a lock left by a killed run is simply taken over; the file
  names the holder (host, pid, start time) for the error a second run gets.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import os
import shutil
import socket

# One way to write a file whole, shared with fid; the run's files use it.
from fid.files import free_name
from tf_ttur.errors import ConfigError

# Every name a run directory holds (RunDir joins them to its root; what
# each promises: docs/design.md, "What a run directory promises").
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
LOCK_FILE = ".lock"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS_DIR = "checkpoints"
DAMAGED = "damaged"  # In CHECKPOINTS_DIR.
SAMPLES_DIR = "samples"
EXPORT_DIR = "saved_model"
BEST_DIR = "saved_model_best"
BEST_FILE = "best_fid.json"
TFLITE_FILE = "generator.tflite"  # In an export folder.
# Flags that fix the networks' shapes or what they learn: a checkpoint of
# one value cannot be resumed under another.
DEFINING_FLAGS = (
  "model",
  "dataset",
  "image_size",
  "width",
  "z_dim",
  "critic_flatten",
  "max_lines",
)


@dataclasses.dataclass(frozen=True)
class RunDir:
  """The one owner of a run directory's paths: every file and folder a run
  writes or reads is an attribute here."""

  root: str

  def _join(self, *names: str) -> str:
    return os.path.join(self.root, *names)

  @property
  def config(self) -> str:
    return self._join(CONFIG_FILE)

  @property
  def vocabulary(self) -> str:
    return self._join(VOCAB_FILE)

  @property
  def lock(self) -> str:
    return self._join(LOCK_FILE)

  @property
  def metrics(self) -> str:
    return self._join(METRICS_FILE)

  @property
  def checkpoints(self) -> str:
    return self._join(CHECKPOINTS_DIR)

  @property
  def checkpoint_state(self) -> str:
    """TensorFlow's `checkpoint` file, which names the latest one."""
    return self._join(CHECKPOINTS_DIR, "checkpoint")

  @property
  def damaged(self) -> str:
    return self._join(CHECKPOINTS_DIR, DAMAGED)

  @property
  def samples(self) -> str:
    return self._join(SAMPLES_DIR)

  @property
  def export(self) -> str:
    return self._join(EXPORT_DIR)

  @property
  def best_export(self) -> str:
    return self._join(BEST_DIR)

  @property
  def best_file(self) -> str:
    return self._join(BEST_FILE)

  @property
  def events(self) -> str:
    """Where TensorBoard's event files go: the top, so that `tensorboard
    --logdir runs/` names the run by its folder."""
    return self.root

  def scratch(self, role: str) -> RunDir:
    """A multi-worker worker's own folder (removed at its end)."""
    return RunDir(self._join(f".scratch-{role}"))


class RunInUseError(ConfigError):
  """Another process holds the run directory."""


class RunLock:
  """An exclusive lock on a run directory for the life of this process."""

  def __init__(self, run: RunDir):
    self.path = run.lock
    self._file = None

  def acquire(self) -> RunLock:
    import fcntl  # POSIX only.

    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held)
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      handle.seek(0)
      holder = handle.read().strip() or "another process"
      handle.close()
      raise RunInUseError(
        f"{os.path.dirname(self.path)} is in use by {holder}; wait for "
        "that run to end (or stop it), or choose another --workdir"
      ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(
      f"pid {os.getpid()} on {socket.gethostname()} since "
      f"{datetime.datetime.now().isoformat(timespec='seconds')}\n"
    )
    handle.flush()
    self._file = handle
    return self

  def release(self) -> None:
    if self._file is not None:
      self._file.close()  # Closing the descriptor releases the flock.
      self._file = None

  def __enter__(self) -> RunLock:
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()


def move_aside(run: RunDir) -> str | None:
  """--restart: renames the run directory to <workdir>.old-<time> (nothing
  is deleted); returns the new name, or None if there was nothing."""
  workdir = run.root
  if not os.path.exists(workdir) or not os.listdir(workdir):
    return None
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  target = free_name(f"{workdir.rstrip(os.sep)}.old-{stamp}")
  os.replace(workdir, target)
  return target


def remove_leftovers(run: RunDir) -> list[str]:
  """Deletes what a killed run can leave half-written: temporary exports,
  files being renamed into place, TensorFlow's temporary checkpoint
  folders. None of them is ever read; returns what was removed."""
  # fid.files' hidden ".NAME.XXXXXXXX.tmp"; "*.tmp*" of earlier versions.
  patterns = [
    ".export-*",
    ".*.tmp*",
    f"{SAMPLES_DIR}/.*.tmp*",
    "*.tmp",
    "*.tmp[0-9]*",
    f"{SAMPLES_DIR}/*.tmp*",
    f"{CHECKPOINTS_DIR}/*_temp*",
    ".classifier-*",
  ]
  removed = []
  for pattern in patterns:
    for path in glob.glob(os.path.join(run.root, pattern)):
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)
      removed.append(path)
  return removed
