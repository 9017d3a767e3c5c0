"""BEGAN of TTUR's `BEGAN_FID_batched` (a carpedm20 fork), docs/paper.md A.3.3.

n = width filters (128 in the paper), z = 64-dim U(-1, 1), 64x64 images,
repeat_num = 4, ELU everywhere, slim's defaults (Glorot uniform, zero bias).

Generator and decoder: FC -> 8*8*n -> 4 stages of [Conv3x3 n + ELU] x 2 with
nearest-neighbour x2 upsampling between stages -> Conv3x3 to 3, linear.
Discriminator (an autoencoder): Conv3x3 n + ELU; stages k = 1..4 of
[Conv3x3 k*n + ELU] x 2, each but the last followed by a stride-2 Conv3x3
k*n + ELU; FC to the 64-d bottleneck; then the decoder above. Its output is
the reconstruction; the losses are L1 (losses.py).
"""

from __future__ import annotations

import keras
from keras import layers

from tf_ttur.config import Config
from tf_ttur.networks.seeds import Seeds
from tf_ttur.networks.upsampling import UpSampling2D

REPEAT = 4


def _conv(filters, seeds, name, stride=1, activation="elu", dtype=None):
  return layers.Conv2D(
    filters,
    3,
    strides=stride,
    padding="same",
    activation=activation,
    dtype=dtype,
    kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
    name=name,
  )


def _decoder(h, width, seeds, prefix):
  x = layers.Dense(
    8 * 8 * width,
    kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
    name=f"{prefix}_fc",
  )(h)
  x = layers.Reshape((8, 8, width))(x)
  for idx in range(REPEAT):
    x = _conv(width, seeds, f"{prefix}_conv{idx}_a")(x)
    x = _conv(width, seeds, f"{prefix}_conv{idx}_b")(x)
    if idx < REPEAT - 1:
      x = UpSampling2D(2)(x)
  return _conv(3, seeds, f"{prefix}_out", activation=None, dtype="float32")(x)


def make_generator(
  image_size: int = 64,
  z_dim: int = 64,
  width: int = 128,
  seed: int | None = None,
) -> keras.Model:
  """z [B, z_dim] -> images [B, 64, 64, 3], linear output (about [-1, 1])."""
  del image_size  # 64 only: 8 * 2^(REPEAT - 1).
  z = keras.Input((z_dim,), name="z")
  images = _decoder(z, width, Seeds(seed, 0), "g")
  return keras.Model(z, images, name="generator")


def make_discriminator(
  image_size: int = 64,
  width: int = 128,
  seed: int | None = None,
  z_dim: int = 64,
) -> keras.Model:
  """The autoencoder D: images [B, 64, 64, 3] -> reconstructions, same shape."""
  seeds = Seeds(seed, 500)
  images = keras.Input((image_size, image_size, 3), name="images")
  x = _conv(width, seeds, "d_enc_in")(images)
  for idx in range(REPEAT):
    channels = width * (idx + 1)
    x = _conv(channels, seeds, f"d_enc{idx}_a")(x)
    x = _conv(channels, seeds, f"d_enc{idx}_b")(x)
    if idx < REPEAT - 1:
      x = _conv(channels, seeds, f"d_enc{idx}_down", stride=2)(x)
  x = layers.Flatten()(x)
  h = layers.Dense(
    z_dim,
    kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
    name="d_bottleneck",
  )(x)
  return keras.Model(
    images, _decoder(h, width, seeds, "d_dec"), name="discriminator"
  )


def discriminator_for(config: Config, size: int) -> keras.Model:
  """The discriminator of a run's config (tf_ttur.builder)."""
  return make_discriminator(
    size, config.network.width, seed=config.run.seed, z_dim=config.network.z_dim
  )
