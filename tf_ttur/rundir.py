"""The run directory: one run at a time, checkpoints found from the files on
disk, and a config that only changes once the run has been restored.

- `RunLock`: an OS lock (fcntl.flock) on `<workdir>/.lock`, held for the
  run's life and released by the kernel when the process ends however it
  ends, so a lock left by a killed run is simply taken over; the file
  names the holder (host, pid, start time) for the error a second run gets.
- `find_checkpoint`: TensorFlow's `checkpoint` state file is one more file
  that can be lost or cut; the checkpoints are found from their `.index`
  files, newest first, and the first one that reads completely is used.
  Those that do not read are moved aside into `checkpoints/damaged/` (never
  deleted) and the state file is rewritten to list the readable ones, so
  the CheckpointManager built afterwards continues from the one restored.
- `check_resume`: the flags that define the model or its data must equal
  those recorded in `config.json`; compared before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import json
import os
import re
import shutil
import socket

# One way to write a file whole, shared with fid; the run's files use it.
from fid.errors import clipped
from fid.files import atomic_write
from fid.files import free_name
from fid.files import read_json
from tf_ttur.config import PARTS
from tf_ttur.config import Config
from tf_ttur.config import flatten
from tf_ttur.errors import ConfigError
from tf_ttur.errors import first_line

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
_CKPT = re.compile(r"^ckpt-(\d+)\.index$")


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

  def __init__(self, workdir: str):
    self.path = RunDir(workdir).lock
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


def checkpoints_on_disk(directory: str) -> list[tuple[int, str]]:
  """(step, prefix) of every `ckpt-N.index` in directory, newest first.

  Raises:
    ConfigError: `directory` is a file (a run's checkpoints are a folder).
  """
  try:
    names = os.listdir(directory)
  except FileNotFoundError:
    return []
  except NotADirectoryError:
    raise ConfigError(
      f"{directory} is a file; a run's checkpoints are a "
      "folder (move the file away)"
    ) from None
  found = [
    (int(m.group(1)), os.path.join(directory, m.group(0)[:-6]))
    for m in map(_CKPT.match, names)
    if m
  ]
  return sorted(found, reverse=True)


def unreadable(prefix: str) -> str | None:
  """Why checkpoint `prefix` cannot be read completely, or None if it can.

  Reads every tensor, so a truncated or missing data shard, a damaged
  index or a wrong checksum is found before anything is restored.
  """
  import tensorflow as tf

  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, OSError, ValueError, IndexError) as e:
    return first_line(e)
  return None


def find_checkpoint(
  directory: str, log=print, repair: bool = True
) -> str | None:
  """The newest checkpoint in directory that reads completely, or None if
  there is no checkpoint at all.

  Damaged ones newer than it are named in one log line each and, with
  repair (a training run holding the run's lock), moved into
  directory/damaged/, and the `checkpoint` state file is rewritten to list
  the readable ones, newest last.

  Raises:
    ConfigError: there are checkpoints, but none reads: the run directory
      is not started over silently.
  """
  import tensorflow as tf

  found = checkpoints_on_disk(directory)
  if not found:
    return None
  chosen, damaged = None, []
  for step, prefix in found:
    reason = unreadable(prefix)
    if reason is None:
      chosen = prefix
      break
    damaged.append((step, prefix, reason))
  if chosen is None:
    raise ConfigError(
      f"none of the {len(found)} checkpoints in {directory} reads "
      f"completely (newest: {os.path.basename(found[0][1])}: "
      f"{damaged[0][2]}); nothing was changed. Restore them from a copy, "
      "or pass --restart to move this run aside and start a new one"
    )
  for step, prefix, reason in damaged:
    where = (
      f"moved to {_move_aside(prefix, os.path.join(directory, DAMAGED))}"
      if repair
      else "left in place"
    )
    log(
      f"Skipped checkpoint {os.path.basename(prefix)} (step {step}): "
      f"{reason}; {where}"
    )
  if not repair:
    return chosen
  # The older ones (oldest first), then the one restored: the manager keeps
  # rotating them as it would have.
  older = [prefix for _, prefix in found[len(damaged) + 1 :]][::-1]
  state = tf.train.get_checkpoint_state(directory)
  if damaged or state is None or state.model_checkpoint_path != chosen:
    tf.compat.v1.train.update_checkpoint_state(
      directory, chosen, all_model_checkpoint_paths=[*older, chosen]
    )
  return chosen


def _move_aside(prefix: str, folder: str) -> str:
  """Moves the files of checkpoint `prefix` into folder, or, where a
  checkpoint of that name was set aside before, into a free subfolder
  (folder/ckpt-N, ckpt-N-2, ...): nothing set aside is replaced. Returns
  where they went."""
  directory, base = os.path.split(prefix)
  names = [
    name
    for name in os.listdir(directory)
    if name == f"{base}.index" or name.startswith(f"{base}.data-")
  ]
  if any(os.path.lexists(os.path.join(folder, name)) for name in names):
    folder = free_name(os.path.join(folder, base))
  os.makedirs(folder, exist_ok=True)
  for name in names:
    os.replace(os.path.join(directory, name), os.path.join(folder, name))
  return folder


def _read_run_file(path: str, what: str) -> dict | None:
  """A JSON object the run directory keeps, or None when there is none;
  ConfigError naming the file when it is damaged or not `what`."""
  try:
    recorded = read_json(path)
  except ValueError as e:
    raise ConfigError(
      f"{path} cannot be read ({e}); the run directory is "
      "damaged (--restart moves it aside)"
    ) from None
  if recorded is not None and not isinstance(recorded, dict):
    raise ConfigError(f"{path} is not {what} (--restart moves the run aside)")
  return recorded


_TYPES = {
  "int": (int,),
  "float": (int, float),
  "bool": (bool,),
  "str": (str,),
  "str | None": (str, type(None)),
}
_TYPE_NAMES = {
  "int": "an integer",
  "float": "a number",
  "bool": "true or false",
  "str": "a string",
  "str | None": "a string or null",
}


def recorded_config(workdir: str, log=None) -> dict | None:
  """The run's config.json as {flag: value} (nested by part, or flat as
  runs before the nested config wrote it), or None for a new run
  directory (no config.json).

  Read strictly: a file that holds `null` or lacks one of the config's
  parts, or a value of the wrong type, is a ConfigError naming the file,
  the field and what it should be, before any checkpoint is opened. Keys
  this version does not know are named in one warning through `log`
  (they are not written again).
  """
  path = RunDir(workdir).config
  if not os.path.exists(path):
    return None
  recorded = _read_run_file(path, "a config")
  if recorded is None:
    raise ConfigError(
      f"{path} holds null, not the run's config; the run "
      "directory is damaged (--restart moves it aside)"
    )
  nested = [name for name in PARTS if name in recorded]
  if nested and len(nested) < len(PARTS):
    missing = [name for name in PARTS if name not in recorded]
    raise ConfigError(
      f"{path} lacks the part(s) {', '.join(missing)} of "
      "the run's config; the run directory is damaged "
      "(--restart moves it aside)"
    )
  for part in nested:
    if not isinstance(recorded[part], dict):
      raise ConfigError(
        f"{path}: the part {part} is "
        f"{clipped(json.dumps(recorded[part]))}, not an "
        "object of its flags; the file was edited or "
        "damaged (fix it, or --restart moves the run aside)"
      )
  flat = flatten(recorded)
  fields = {name: field for name, _, field in Config().flags()}
  absent = [name for name in fields if nested and name not in flat]
  lost = [name for name in absent if name in DEFINING_FLAGS]
  if lost:
    raise ConfigError(
      f"{path} lacks {', '.join(lost)}, which define the "
      "run's model or data; the file was edited or damaged "
      "(fix it, or --restart moves the run aside)"
    )
  if absent and log is not None:
    log(
      f"{path} does not record {', '.join(absent)}: taken from the "
      "command line or their defaults"
    )
  for name, value in flat.items():
    if name not in fields:
      continue
    kind = fields[name].type
    if not isinstance(value, _TYPES[kind]) or (
      kind in ("int", "float") and isinstance(value, bool)
    ):
      raise ConfigError(
        f"{path}: {name} is {json.dumps(value)}, not "
        f"{_TYPE_NAMES[kind]}; the file was edited or "
        "damaged (fix it, or --restart moves the run aside)"
      )
  unknown = sorted(set(flat) - set(fields))
  if unknown and log is not None:
    log(
      f"{path} has keys this version does not know, which are not "
      f"written again: {', '.join(unknown)}"
    )
  return flat


def check_resume(config: Config, recorded: dict | None) -> list[str]:
  """Raises ConfigError listing every defining flag that differs from the
  run's recorded config; returns the other changed flags (to be logged)."""
  if recorded is None:
    return []
  current = config.flat()
  defining = [
    f"--{name}: {recorded[name]!r} in {CONFIG_FILE}, now {current[name]!r}"
    for name in DEFINING_FLAGS
    if name in recorded and recorded[name] != current[name]
  ]
  if defining:
    raise ConfigError(
      f"{config.run.workdir} holds a run with other model or data settings ("
      + "; ".join(defining)
      + "). Nothing was changed. Use another "
      "--workdir, drop these flags to resume, or pass --restart to move "
      "the old run aside"
    )
  ignored = {"precision", "mode", "workdir", "restart"}
  return [
    f"--{name}: {recorded[name]!r} -> {current[name]!r}"
    for name in sorted(current)
    if name in recorded
    and name not in ignored
    and recorded[name] != current[name]
  ]


def move_aside(workdir: str) -> str | None:
  """--restart: renames the run directory to <workdir>.old-<time> (nothing
  is deleted); returns the new name, or None if there was nothing."""
  if not os.path.exists(workdir) or not os.listdir(workdir):
    return None
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  target = free_name(f"{workdir.rstrip(os.sep)}.old-{stamp}")
  os.replace(workdir, target)
  return target


def write_config(config: Config, workdir: str) -> None:
  """workdir/config.json: the run's resolved config."""
  atomic_write(RunDir(workdir).config, config.to_json() + "\n")


def load_vocabulary(workdir: str):
  """The run's vocabulary (tf_ttur.data.text.Vocabulary), from vocab.json;
  ConfigError when it is missing or damaged (read as config.json is)."""
  from tf_ttur.data import text

  path = RunDir(workdir).vocabulary
  recorded = _read_run_file(path, "a vocabulary")
  if recorded is None:
    raise ConfigError(
      f"{path}: no such file; the language model's run "
      "directory keeps its vocabulary there"
    )
  if not isinstance(recorded.get("chars"), list):
    raise ConfigError(f"{path} is not a vocabulary (no list of chars)")
  try:
    return text.Vocabulary(recorded["chars"])
  except ValueError as e:
    raise ConfigError(f"{path} is not a vocabulary ({e})") from None


def write_vocabulary(vocab, workdir: str) -> None:
  """Writes vocab.json once; a run directory of another corpus is an error."""
  path = RunDir(workdir).vocabulary
  if os.path.exists(path):
    if load_vocabulary(workdir).chars != vocab.chars:
      raise ConfigError(
        f"{path} differs from the vocabulary of this corpus: "
        "the run directory belongs to another dataset"
      )
    return
  if checkpoints_on_disk(RunDir(workdir).checkpoints):
    from absl import logging

    logging.warning(
      "%s is missing beside the checkpoints; written again "
      "from the corpus (the checkpoints' vocabulary cannot be "
      "checked).",
      path,
    )
  atomic_write(path, vocab.to_json())


def remove_leftovers(workdir: str) -> list[str]:
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
    for path in glob.glob(os.path.join(workdir, pattern)):
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)
      removed.append(path)
  return removed
