"""Keras callbacks of a run: progress log, metrics.jsonl, TensorBoard,
sample grids at a fixed z, checkpoints.

fit() runs one "epoch" per `log_every` steps, so the loss trackers average
over exactly one logging interval, and every action happens at an epoch end
where the step is a multiple of `log_every` (config validation ensures that
the other intervals are multiples of it).
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf

from tf_ttur import checkpointing
from tf_ttur import export as export_lib
from tf_ttur import grid as grid_lib
from tf_ttur import records
from tf_ttur import rundir
from tf_ttur.errors import NonFiniteLossError, StorageError


def format_duration(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


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


class SampleGrid(keras.callbacks.Callback):
  """PNG grids (and TensorBoard images) of the generator at a fixed z."""

  def __init__(self, workdir: str, z: np.ndarray, every: int,
               writer: tf.summary.SummaryWriter):
    super().__init__()
    self.directory = os.path.join(workdir, "samples")
    self.z = z
    self.every = every
    self.writer = writer

  def write(self, step: int) -> str:
    images = self.model.generator(self.z, training=False)
    images = export_lib.to_uint8(images).numpy()
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

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    if step % self.every == 0:
      self.write(step)


class TextSamples(keras.callbacks.Callback):
  """Text files of the language generator's lines at a fixed z."""

  def __init__(self, workdir: str, z: np.ndarray, every: int, vocab):
    super().__init__()
    self.directory = os.path.join(workdir, "samples")
    self.z = z
    self.every = every
    self.vocab = vocab

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    if step % self.every:
      return
    probs = keras.ops.convert_to_numpy(self.model.generator(self.z))
    lines = ["".join(self.vocab.decode(row)) for row in probs.argmax(-1)]
    path = os.path.join(self.directory, f"step_{step:08d}.txt")
    try:
      os.makedirs(self.directory, exist_ok=True)
      rundir.atomic_write(path, "\n".join(lines) + "\n")
    except OSError as e:
      raise StorageError(f"cannot write {path}: {e.strerror or e}") from None


class Checkpointer(keras.callbacks.Callback):
  """Saves a checkpoint every `every` steps and at the end of training."""

  def __init__(self, manager: tf.train.CheckpointManager, every: int):
    super().__init__()
    self.manager = manager
    self.every = every

  def save(self) -> None:
    checkpointing.save_step(self.manager, int(self.model.step.numpy()))

  def on_epoch_end(self, epoch, logs=None):
    if int(self.model.step.numpy()) % self.every == 0:
      self.save()

  def on_train_end(self, logs=None):
    self.save()


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
    raise NonFiniteLossError(
        f"non-finite loss at step {step} ({losses}). The last good "
        f"checkpoint is {self.manager.latest_checkpoint or 'none (no step saved yet)'}; "
        "nothing after it was saved. Rerun to resume from it, or pass "
        "--on_nonfinite=restore to restore it and continue with a fresh "
        "noise seed.")


def assemble(config, model, manager: tf.train.CheckpointManager, catcher,
             writer: tf.summary.SummaryWriter, write_dir: str, z: np.ndarray,
             chief: bool, fid_strategy=None, vocab=None, padded=None,
             export_best=None) -> list[keras.callbacks.Callback]:
  """The callbacks of a run, in the order they act at an interval's end:
  the signal catcher, the non-finite guard, metrics, samples, checkpoints,
  then the evaluations its flags ask for (FID and fd_shapes by the chief
  alone, the other workers only saving at the same steps; JSD by the
  chief). export_best(directory) exports the generator of a best FID."""
  from tf_ttur.networks import NETWORKS  # pylint: disable=g-import-not-at-top
  samples = (TextSamples(write_dir, z, config.sample_every, vocab)
             if vocab is not None else
             SampleGrid(write_dir, z, config.sample_every, writer))
  callbacks = [catcher, NonFiniteGuard(manager),
               MetricsLogger(write_dir, config.train_steps, writer), samples,
               Checkpointer(manager, config.checkpoint_every)]
  if not (config.fid_every or config.jsd_every or config.quality_every):
    return callbacks
  from tf_ttur import evaluation  # pylint: disable=g-import-not-at-top
  from tf_ttur.data import images  # pylint: disable=g-import-not-at-top
  pixels = NETWORKS[config.model].fid_pixels
  if config.fid_every:
    evaluator = (evaluation.FIDEvaluator(config, pixels,
                                         strategy=fid_strategy)
                 if chief else None)
    callbacks.append(evaluation.FIDCallback(
        evaluator, write_dir, config.fid_every, writer, manager,
        export_best=(None if export_best is None else
                     lambda: export_best(evaluation.BEST_DIR))))
  if config.quality_every:
    evaluator = (evaluation.ShapesEvaluator(
        config, pixels, images.load_images(config.dataset, config.image_size,
                                           data_dir=config.data_dir))
                 if chief else None)
    callbacks.append(evaluation.FIDCallback(
        evaluator, write_dir, config.quality_every, writer, manager,
        metric=evaluation.ShapesEvaluator.metric))
  if config.jsd_every and chief:
    callbacks.append(evaluation.JSDCallback(padded, vocab, config, write_dir,
                                            writer))
  return callbacks
