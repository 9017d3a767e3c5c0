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

import keras
import numpy as np
import tensorflow as tf

from fid.files import atomic_write
from tf_ttur import checkpointing
from tf_ttur import grid as grid_lib
from tf_ttur import pixels
from tf_ttur import records
from tf_ttur.config import Config
from tf_ttur.errors import NonFiniteLossError
from tf_ttur.errors import StorageError


def format_duration(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m{secs:02d}s"
  return f"{minutes}m{secs:02d}s"


class MetricsLogger(keras.callbacks.Callback):
  """One log line per interval; metrics.jsonl and TensorBoard scalars."""

  def __init__(self, workdir: str, total_steps: int,
               writer: tf.summary.SummaryWriter):
    super().__init__()
    self.workdir = workdir
    self.total_steps = total_steps
    self.writer = writer

  def on_train_begin(self, logs=None):
    self._start = self._last_time = time.time()
    self._last_step = int(self.model.step.numpy())
    self._first_step = self._last_step

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    now = time.time()
    steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
    rate = (step - self._first_step) / max(now - self._start, 1e-9)
    eta = (self.total_steps - step) / max(rate, 1e-9)
    self._last_time, self._last_step = now, step
    record = {"step": step, "time": now,
              "elapsed_sec": now - self._start,
              "steps_per_sec": steps_per_sec}
    record.update({k: float(v) for k, v in (logs or {}).items()})
    losses = " ".join(f"{k}={float(v):.4f}" for k, v in (logs or {}).items())
    records.publish(
        self.workdir, self.writer, record,
        {k: v for k, v in record.items() if k not in ("step", "time")},
        f"step {step}/{self.total_steps} {losses} | {steps_per_sec:.2f} "
        f"steps/s | elapsed {format_duration(now - self._start)} | left "
        f"{format_duration(eta)}")


class Periodic(keras.callbacks.Callback):
  """Calls at_step(step) at the end of each interval whose step is a
  multiple of `every`."""

  def __init__(self, every: int):
    super().__init__()
    self.every = every

  def at_step(self, step: int) -> None:
    raise NotImplementedError

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    if step % self.every == 0:
      self.at_step(step)


class SampleGrid(Periodic):
  """PNG grids (and TensorBoard images) of the generator at a fixed z."""

  def __init__(self, workdir: str, z: np.ndarray, every: int,
               writer: tf.summary.SummaryWriter):
    super().__init__(every)
    self.directory = os.path.join(workdir, "samples")
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


class TextSamples(Periodic):
  """Text files of the language generator's lines at a fixed z; decode
  maps a row of ids to characters (the run's vocabulary)."""

  def __init__(self, workdir: str, z: np.ndarray, every: int,
               decode: Callable[[np.ndarray], list[str]]):
    super().__init__(every)
    self.directory = os.path.join(workdir, "samples")
    self.z = z
    self.decode = decode

  def at_step(self, step: int) -> None:
    probs = keras.ops.convert_to_numpy(self.model.generator(self.z))
    lines = ["".join(self.decode(row)) for row in probs.argmax(-1)]
    path = os.path.join(self.directory, f"step_{step:08d}.txt")
    try:
      os.makedirs(self.directory, exist_ok=True)
      atomic_write(path, "\n".join(lines) + "\n")
    except OSError as e:
      raise StorageError(f"cannot write {path}: {e.strerror or e}") from None


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
        "noise seed.")


def _image_samples(config: Config, data, write_dir: str, z: np.ndarray,
                   writer: tf.summary.SummaryWriter) -> SampleGrid:
  del data
  return SampleGrid(write_dir, z, config.schedule.sample_every, writer)


def _text_samples(config: Config, data, write_dir: str, z: np.ndarray,
                  writer: tf.summary.SummaryWriter) -> TextSamples:
  del writer
  return TextSamples(write_dir, z, config.schedule.sample_every,
                     data.vocabulary.decode)


# How each modality writes its samples: (config, the run's data, the
# folder, the fixed z, the TensorBoard writer) -> a callback.
SAMPLE_WRITERS = {"image": _image_samples, "text": _text_samples}


def sample_writer(config: Config, data, write_dir: str, z: np.ndarray,
                  writer: tf.summary.SummaryWriter) -> Periodic:
  """The sample callback of config's modality."""
  return SAMPLE_WRITERS[config.family.modality.name](config, data, write_dir,
                                                     z, writer)
