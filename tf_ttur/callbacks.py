"""Keras callbacks of a run: progress log, metrics.jsonl, TensorBoard,
sample grids at a fixed z, checkpoints.

fit() runs one "epoch" per `log_every` steps, so the loss trackers average
over exactly one logging interval, and every action happens at an epoch end
where the step is a multiple of `log_every` (config validation ensures that
the other intervals are multiples of it).
"""

from __future__ import annotations

from collections.abc import Callable
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from fid.files import atomic_write
from tf_ttur import checkpointing
from tf_ttur import grid as grid_lib
from tf_ttur import pixels
from tf_ttur import records
from tf_ttur import rundir
from tf_ttur import summaries
from tf_ttur.errors import NonFiniteLossError
from tf_ttur.errors import StorageError
from tf_ttur.families import Family
from tf_ttur.run import Run


def format_duration(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m{secs:02d}s"
  return f"{minutes}m{secs:02d}s"


# A progress line (step, speed, time left; not a record) at least this
# often between the interval lines of --log_every.
PROGRESS_SECONDS = 60.0


class MetricsLogger(keras.callbacks.Callback):
  """One log line per interval; metrics.jsonl and TensorBoard scalars
  (grouped tags, tf_ttur.summaries), the learning rates when they change.

  Between intervals, a line once the first step is done (it includes
  tracing the step, and XLA's compilation) and then at least every
  PROGRESS_SECONDS: a paper run's first interval can take minutes.

  family: the run's (tf_ttur.families), whose tags name its losses;
  log_every: the interval, named in the first step's line.
  """

  def __init__(
    self,
    run: rundir.RunDir,
    total_steps: int,
    writer: tf.summary.SummaryWriter,
    family: Family,
    log_every: int = 0,
  ):
    super().__init__()
    self.log_every = log_every
    self.run = run
    self.total_steps = total_steps
    self.writer = writer
    self.family = family

  def on_train_begin(self, logs=None):
    self._start = self._last_time = time.time()
    self._last_step = int(self.model.step.numpy())
    self._first_step = self._last_step
    # Elapsed time goes on from the run's last record (a resume does not
    # start the clock again).
    earlier = [
      r["elapsed_sec"]
      for r in records.read(self.run)
      if isinstance(r.get("elapsed_sec"), (int, float))
    ]
    self._elapsed_before = float(earlier[-1]) if earlier else 0.0
    self._said = self._start
    self._write_rates(self._last_step)

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_step = int(self.model.step.numpy())

  def on_train_batch_end(self, batch, logs=None):
    now = time.time()
    step = self._epoch_step + batch + 1
    if step == self._first_step + 1 and step < self.total_steps:
      logging.info(
        "step %d/%d: the first step took %.1f s (tracing it "
        "included); then a line every %d steps and at least "
        "every %d s",
        step,
        self.total_steps,
        now - self._start,
        self.log_every,
        PROGRESS_SECONDS,
      )
      self._said = now
    elif now - self._said >= PROGRESS_SECONDS and step < self.total_steps:
      done = step - self._first_step
      rate = done / max(now - self._start, 1e-9)
      logging.info(
        "step %d/%d | %.2f steps/s | elapsed %s | left %s",
        step,
        self.total_steps,
        rate,
        format_duration(self._elapsed_before + now - self._start),
        format_duration((self.total_steps - step) / max(rate, 1e-9)),
      )
      self._said = now

  def _write_rates(self, step: int) -> None:
    """Both learning rates, at every log step (a constant rate is a line,
    a halving a step in it)."""
    with self.writer.as_default(step=step):
      for name, value in summaries.learning_rates(self.model).items():
        tf.summary.scalar(name, value)

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    now = time.time()
    first_interval = self._last_step == self._first_step
    steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
    rate = (step - self._first_step) / max(now - self._start, 1e-9)
    eta = (self.total_steps - step) / max(rate, 1e-9)
    self._last_time, self._last_step = now, step
    self._said = now
    record = {
      "step": step,
      "time": now,
      "elapsed_sec": self._elapsed_before + now - self._start,
      "steps_per_sec": steps_per_sec,
    }
    record.update({k: float(v) for k, v in (logs or {}).items()})
    losses = " ".join(f"{k}={float(v):.4f}" for k, v in (logs or {}).items())
    shown = summaries.scalars(record, self.family)
    if first_interval:
      # The first interval after a start includes tracing (and XLA's
      # compilation): its own tag, not a point of the speed curve.
      shown["speed/first_interval_steps_per_sec"] = shown.pop(
        "speed/steps_per_sec"
      )
    records.publish(
      self.run,
      self.writer,
      record,
      shown,
      f"step {step}/{self.total_steps} {losses} | {steps_per_sec:.2f} "
      f"steps/s | elapsed "
      f"{format_duration(self._elapsed_before + now - self._start)} | left "
      f"{format_duration(eta)}",
    )
    self._write_rates(step)


class Periodic(keras.callbacks.Callback):
  """Calls at_step(step) at the end of each interval whose step is a
  multiple of `every`, and at `last_step` (the run's last) whatever it is."""

  def __init__(self, every: int, last_step: int | None = None):
    super().__init__()
    self.every = every
    self.last_step = last_step

  def at_step(self, step: int) -> None:
    raise NotImplementedError

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    if step % self.every == 0 or step == self.last_step:
      with records.event_files():
        self.at_step(step)


class Samples(Periodic):
  """Periodic, and at the start of a new run too (step 0: what the
  untrained generator makes, to compare the later ones with)."""

  def on_train_begin(self, logs=None):
    if int(self.model.step.numpy()) == 0:
      with records.event_files():
        self.at_step(0)


class SampleGrid(Samples):
  """PNG grids (and TensorBoard images) of the generator at a fixed z."""

  def __init__(
    self,
    run: rundir.RunDir,
    z: np.ndarray,
    every: int,
    writer: tf.summary.SummaryWriter,
    last_step: int | None = None,
  ):
    super().__init__(every, last_step)
    self.directory = run.samples
    self.z = z
    self.writer = writer

  def at_step(self, step: int) -> str:
    images = self.model.generator(self.z, training=False)
    images = pixels.to_uint8(images).numpy()
    grid = grid_lib.make_grid(images)
    try:
      os.makedirs(self.directory, exist_ok=True)
    except OSError as e:
      raise StorageError(f"cannot create {self.directory}: {e}") from None
    path = os.path.join(self.directory, f"step_{step:08d}.png")
    grid_lib.write_png(grid, path)
    with self.writer.as_default(step=step):
      tf.summary.image("samples", grid[None])
    return path


class TextSamples(Samples):
  """Text files (and TensorBoard text) of the language generator's lines
  at a fixed z; decode maps a row of ids to characters (the run's
  vocabulary)."""

  def __init__(
    self,
    run: rundir.RunDir,
    z: np.ndarray,
    every: int,
    decode: Callable[[np.ndarray], list[str]],
    writer: tf.summary.SummaryWriter | None = None,
    last_step: int | None = None,
  ):
    super().__init__(every, last_step)
    self.directory = run.samples
    self.z = z
    self.decode = decode
    self.writer = writer

  def at_step(self, step: int) -> None:
    probs = keras.ops.convert_to_numpy(self.model.generator(self.z))
    lines = ["".join(self.decode(row)) for row in probs.argmax(-1)]
    path = os.path.join(self.directory, f"step_{step:08d}.txt")
    try:
      os.makedirs(self.directory, exist_ok=True)
      atomic_write(path, "\n".join(lines) + "\n")
    except OSError as e:
      raise StorageError(f"cannot write {path}: {e.strerror or e}") from None
    if self.writer is not None:
      with self.writer.as_default(step=step):
        tf.summary.text("samples", summaries.code_block("\n".join(lines)))


class Checkpointer(Periodic):
  """Saves a checkpoint every `every` steps and at the end of training."""

  def __init__(self, manager: tf.train.CheckpointManager, every: int):
    super().__init__(every)
    self.manager = manager

  def at_step(self, step: int) -> None:
    checkpointing.save_step(self.manager, step)

  def on_train_end(self, logs=None):
    self.at_step(int(self.model.step.numpy()))


class NonFiniteGuard(keras.callbacks.Callback):
  """Stops training at the end of an interval in which a loss was NaN or
  infinite, before anything of that interval is logged or saved (it must
  come first in the callback list)."""

  def __init__(self, manager: tf.train.CheckpointManager):
    super().__init__()
    self.manager = manager

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.nonfinite_step.numpy())
    if step < 0:
      return
    losses = ", ".join(f"{k}={float(v):.4g}" for k, v in (logs or {}).items())
    last = self.manager.latest_checkpoint or "none (no step saved yet)"
    raise NonFiniteLossError(
      f"non-finite loss at step {step} ({losses}). The last good "
      f"checkpoint is {last}; "
      "nothing after it was saved. Rerun to resume from it, or pass "
      "--on_nonfinite=restore to restore it and continue with a fresh "
      "noise seed."
    )


def _image_samples(
  run: Run, z: np.ndarray, writer: tf.summary.SummaryWriter
) -> SampleGrid:
  schedule = run.config.schedule
  return SampleGrid(
    run.out, z, schedule.sample_every, writer, last_step=schedule.train_steps
  )


def _text_samples(
  run: Run, z: np.ndarray, writer: tf.summary.SummaryWriter
) -> TextSamples:
  schedule = run.config.schedule
  return TextSamples(
    run.out,
    z,
    schedule.sample_every,
    run.data.vocabulary.decode,
    writer,
    last_step=schedule.train_steps,
  )


# How each modality writes its samples: (the run, the fixed z, the
# TensorBoard writer) -> a callback.
SAMPLE_WRITERS = {"image": _image_samples, "text": _text_samples}


def sample_writer(
  run: Run, z: np.ndarray, writer: tf.summary.SummaryWriter
) -> Periodic:
  """The sample callback of the run's modality."""
  return SAMPLE_WRITERS[run.config.family.modality.name](run, z, writer)
