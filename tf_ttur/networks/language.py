"""The character-level WGAN-GP language model (igul222's gan_language.py,
used by TTUR's gan_language_JSD.py), docs/paper.md A.4, in NWC.

Generator: z ~ N(0, I_128) -> Linear(32 * width) -> [32, width] -> 5
residual blocks -> Conv1D k1 to V -> softmax per position. Critic: one-hot
[32, V] -> Conv1D k1 to width -> 5 residual blocks -> flatten -> Linear to
1. Residual block: ReLU -> Conv1D k5 -> ReLU -> Conv1D k5, added to the
input scaled by 0.3; no normalisation. Conv1D "he" uniform (variance
4 / (k in + k out)), linear layers Glorot uniform, biases 0. width = 512 in
the paper.
"""

from __future__ import annotations

import keras
from keras import layers

from tf_ttur.config import Config
from tf_ttur.networks.seeds import Seeds

SEQ_LEN = 32
BLOCKS = 5
RESIDUAL_SCALE = 0.3


def _conv(filters, kernel, seeds, name, dtype=None):
  return layers.Conv1D(
    filters,
    kernel,
    padding="same",
    dtype=dtype,
    kernel_initializer=keras.initializers.VarianceScaling(
      2.0, "fan_avg", "uniform", seed=seeds()
    ),
    name=name,
  )


def _res_block(x, width, seeds, name):
  y = layers.ReLU()(x)
  y = _conv(width, 5, seeds, f"{name}_conv1")(y)
  y = layers.ReLU()(y)
  y = _conv(width, 5, seeds, f"{name}_conv2")(y)
  y = layers.Rescaling(RESIDUAL_SCALE)(y)
  return layers.Add()([x, y])


def make_generator(
  vocab_size: int, z_dim: int = 128, width: int = 512, seed: int | None = None
) -> keras.Model:
  """z [B, z_dim] -> per-position character distributions [B, 32, V]."""
  seeds = Seeds(seed, 0)
  z = keras.Input((z_dim,), name="z")
  x = layers.Dense(
    SEQ_LEN * width,
    kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
    name="g_input",
  )(z)
  x = layers.Reshape((SEQ_LEN, width))(x)
  for i in range(BLOCKS):
    x = _res_block(x, width, seeds, f"g_res{i + 1}")
  x = _conv(vocab_size, 1, seeds, "g_output", dtype="float32")(x)
  probs = layers.Softmax(axis=-1, dtype="float32", name="softmax")(x)
  return keras.Model(z, probs, name="generator")


def make_discriminator(
  vocab_size: int, width: int = 512, seed: int | None = None
) -> keras.Model:
  """One-hot (or soft) text [B, 32, V] -> critic values [B, 1]."""
  seeds = Seeds(seed, 500)
  text = keras.Input((SEQ_LEN, vocab_size), name="text")
  x = _conv(width, 1, seeds, "d_input")(text)
  for i in range(BLOCKS):
    x = _res_block(x, width, seeds, f"d_res{i + 1}")
  x = layers.Flatten()(x)
  out = layers.Dense(
    1,
    kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
    dtype="float32",
    name="d_output",
  )(x)
  return keras.Model(text, out, name="discriminator")


def discriminator_for(config: Config, size: int) -> keras.Model:
  """The discriminator of a run's config (tf_ttur.builder)."""
  return make_discriminator(size, config.network.width, seed=config.run.seed)
