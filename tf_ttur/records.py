"""metrics.jsonl: one JSON record per line, appended as training goes.

A run killed mid-write can leave a partial last line, and records of steps
after its last checkpoint, which the resumed run will log again. On resume,
`truncate_after` keeps exactly the whole records up to the restored step,
rewriting the file through a temporary name so that a kill during the
rewrite loses nothing either. A line that is not a record (damage, an
editor) is skipped by `read`, never dropped silently: before a rewrite
would lose it, the whole file is set aside under a free name, with one
WARNING naming it. `publish` is the one way a step's numbers
leave a run: the record, its TensorBoard scalars and one log line.
"""

from __future__ import annotations

import contextlib
import json
import os

from absl import logging

from fid.files import atomic_write
from fid.files import free_name
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.errors import StorageError
from tf_ttur.errors import first_line

# What TensorFlow's file writers say when the disk cannot take more.
_STORAGE_FAULTS = (
  "No space left on device",
  "Disk quota exceeded",
  "Read-only file system",
  "Permission denied",
)


@contextlib.contextmanager
def event_files():
  """TensorFlow's error from writing TensorBoard's event files (a full
  disk, a read-only or vanished folder) as one StorageError: the run stops
  at its last checkpoint with one `error:` line, not a traceback."""
  import tensorflow as tf

  try:
    yield
  except tf.errors.OpError as e:
    if any(fault in str(e) for fault in _STORAGE_FAULTS):
      raise StorageError(
        f"cannot write TensorBoard's event files: {first_line(e)}"
      ) from None
    raise


def append(run: rundir.RunDir, record: dict) -> None:
  """Appends one record (one line, flushed) to the run's metrics.jsonl."""
  path = run.metrics
  try:
    with open(path, "a") as f:
      f.write(json.dumps(record) + "\n")
      f.flush()
  except OSError as e:
    raise StorageError(f"cannot write {path}: {e.strerror or e}") from e


def publish(
  run: rundir.RunDir, writer, record: dict, scalars: dict, line: str
) -> None:
  """Appends `record` to metrics.jsonl, writes `scalars` ({name: value}) to
  TensorBoard's `writer` at record["step"], and logs `line`."""
  import tensorflow as tf

  append(run, record)
  with event_files(), writer.as_default(step=record["step"]):
    for name, value in scalars.items():
      tf.summary.scalar(name, value)
  logging.info("%s", line)


def _scan(path: str) -> tuple[list[dict], int, int]:
  """(the whole records, the number of complete lines that are not one,
  the number of lines, a partial last one included)."""
  records, damaged, lines = [], 0, 0
  with open(path, errors="replace") as f:
    for line in f:
      lines += 1
      if not line.endswith("\n"):
        break  # The last line, cut short by a kill.
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        record = None
      if isinstance(record, dict):
        records.append(record)
      else:
        damaged += 1
  return records, damaged, lines


def read(run: rundir.RunDir | str) -> list[dict]:
  """The whole records of a run's metrics.jsonl (a partial last line and
  lines that are not records are skipped); [] if there is no file. run:
  its RunDir, or the path of a run directory (a program given runs by
  path: compare, sweep)."""
  if isinstance(run, str):
    run = rundir.RunDir(run)
  path = run.metrics
  if not os.path.exists(path):
    return []
  return _scan(path)[0]


def truncate_after(run: rundir.RunDir, step: int) -> int:
  """Keeps the whole records with step <= `step`; returns how many were
  dropped (records after the checkpoint, a partial line)."""
  path = run.metrics
  if not os.path.exists(path):
    return 0
  records, damaged, total = _scan(path)
  kept = [r for r in records if r.get("step", 0) <= step]
  if len(kept) == total:
    return 0
  if damaged:
    aside = free_name(f"{path}.damaged")
    os.replace(path, aside)
    logging.warning(
      "%s: %d line(s) are not records; the file as it was is kept as %s.",
      path,
      damaged,
      aside,
    )
  atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept))
  return total - len(kept)


def summary(config: Config) -> list[str]:
  """The closing lines of a run: where it stopped, the best value of each
  metric it evaluates (lowest or highest: tf_ttur.evals) and its step,
  and where its samples, generator and TensorBoard's event files are."""
  from tf_ttur import evals

  run = rundir.RunDir(config.run.workdir)
  logged = read(run)
  step = max((r.get("step", 0) for r in logged), default=0)
  lines = [
    f"done: step {step} of {config.schedule.train_steps} in "
    f"{config.run.workdir}"
  ]
  for entry in evals.enabled(config.evaluation):
    for name in entry.values:
      points = [
        (r[name], r["step"])
        for r in logged
        if isinstance(r.get(name), (int, float)) and "step" in r
      ]
      if points:
        value = evals.best(name, *(v for v, _ in points))
        at = next(step for v, step in points if v == value)
        lines.append(
          f"  best {name} {value:.4f} at step {at} (one run's "
          f"{evals.best_word(name)})"
        )
  for label, path in (
    ("samples", run.samples),
    ("generator", run.export),
    ("best generator", run.best_export),
  ):
    if os.path.exists(path):
      lines.append(f"  {label}: {path}")
  lines.append(f"  curves: tensorboard --logdir {run.events}")
  return lines
