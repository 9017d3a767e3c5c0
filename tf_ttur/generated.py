"""What an evaluator measures: generated batches mapped to [0, 255] as
the original code did for the family (z from numpy, keyed by the seed and
the step), the first training images, and the stop check a signal acts
through between two batches."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from fid import generator as fid_generator


def to_pixels(images: np.ndarray, mode: str) -> np.ndarray:
  """Generator output in [-1, 1] -> [0, 255] as the original FID code did."""
  pixels = (np.asarray(images, np.float32) + 1.0) * 127.5
  if mode == "float":
    return pixels
  if mode == "truncate":
    # ((x + 1) * 127.5).astype(uint8): wraps outside [0, 256) in numpy, but
    # tanh keeps it inside; clip first so a rounding excess cannot wrap.
    return np.clip(pixels, 0, 255).astype(np.uint8).astype(np.float32)
  if mode == "clip":
    return np.clip(pixels, 0.0, 255.0)
  raise ValueError(f"unknown pixel mapping {mode!r}")


class Abandoned(Exception):
  """An evaluation stopped between two batches (a signal arrived)."""


def abandonable(batches, stop):
  """The batches, checking `stop()` before each: Abandoned when it says
  so, so that a SIGTERM is served within a batch, not an evaluation."""
  for batch in batches:
    if stop():
      raise Abandoned
    yield batch


def generated(
  model, samples: int, seed, batch_size: int, pixels: str, stop=lambda: False
):
  """Batches of `samples` generated images in [0, 255], mapped as the
  original did for the family, from z drawn from numpy with `seed`, so
  that evaluation neither consumes the training noise stream nor depends
  on when it runs. Batch norm in inference mode for DCGAN; the WGAN-GP
  generator's ignores the flag and uses batch statistics. The same path
  as `python -m fid savedmodel:DIR` (fid.generator)."""
  return abandonable(
    fid_generator.generated_batches(
      lambda z: keras.ops.convert_to_numpy(model.generator(z, training=False)),
      samples,
      model.z_dim,
      model.z_distribution,
      seed,
      batch_size,
      to_pixels=lambda images: to_pixels(images, pixels),
    ),
    stop,
  )


def samples_of(evaluator, model, step: int):
  """An evaluator's generated batches at `step`: its `samples` images, z
  from (its seed, step), its batch size, pixel mapping and stop check."""
  return generated(
    model,
    evaluator.samples,
    [evaluator.seed, step],
    evaluator.batch_size,
    evaluator.pixels,
    evaluator.stop,
  )


def real_batches(
  images: tf.data.Dataset, samples: int, batch_size: int
) -> list[np.ndarray]:
  """The first `samples` training images, float32 batches in [0, 255]."""
  return [
    keras.ops.convert_to_numpy(b).astype(np.float32)
    for b in images.take(samples).batch(batch_size)
  ]
