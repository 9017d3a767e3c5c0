"""The noise of each train step, drawn in the input pipeline.

z (and WGAN-GP's interpolation weights alpha) come with the data, one per
example, from stateless random ops keyed by (seed, step). A distribution
strategy then splits noise and images together, so a step sees the same
numbers on one device or on many, and a resumed run continues the stream
at its step instead of repeating it.
"""

from __future__ import annotations

import tensorflow as tf

# z drawn with numpy (grids, FID, JSD): the one function fid also uses.
from fid.generator import draw_z  # noqa: F401


def stateless_z(shape, seed, distribution: str) -> tf.Tensor:
  """z of `shape` for a stateless seed [2]: U(-1, 1) or N(0, I) (the
  training stream and the SavedModel's `sample` endpoint)."""
  if distribution == "uniform":
    return tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
  return tf.random.stateless_normal(shape, seed)


def attach_noise(
  batches: tf.data.Dataset,
  z_dim: int,
  distribution: str,
  seed: int,
  start_step: int = 0,
  extra_z: int = 0,
) -> tf.data.Dataset:
  """[B, n_critic, ...] real batches -> {"real", "z" [B, n + extra_z,
  z_dim], "alpha" [B, n]}; extra_z = 1 gives the generator update a z of
  its own (gan.GAN.fresh_g_z)."""
  steps = tf.data.Dataset.counter(start=start_step, dtype=tf.int64)

  def add(real, step):
    shape = tf.shape(real)[:2]
    z_seed = tf.stack([tf.cast(seed, tf.int64), 2 * step])
    alpha_seed = tf.stack([tf.cast(seed, tf.int64), 2 * step + 1])
    z_shape = tf.concat([shape + [0, extra_z], [z_dim]], axis=0)
    z = stateless_z(z_shape, z_seed, distribution)
    alpha = tf.random.stateless_uniform(shape, alpha_seed)
    return {"real": real, "z": z, "alpha": alpha}

  return (
    tf.data.Dataset.zip(batches, steps)
    .map(add, num_parallel_calls=tf.data.AUTOTUNE)
    .prefetch(tf.data.AUTOTUNE)
  )
