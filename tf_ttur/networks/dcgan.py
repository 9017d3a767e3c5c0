"""DCGAN of TTUR's `DCGAN_FID_batched` (a carpedm20 fork), docs/paper.md A.3.1.

Generator: z -> Linear(s16*s16*8w) -> BN -> ReLU -> 3 x [Deconv5x5/2 -> BN ->
ReLU] (4w, 2w, w) -> Deconv5x5/2 to 3 -> tanh. Discriminator: Conv5x5/2 (w,
no BN) -> LReLU(0.2) -> 3 x [Conv5x5/2 -> BN -> LReLU] (2w, 4w, 8w) -> Linear
to one logit. w = 64 in the paper. Every conv and linear layer has a bias, as
in the original. The last layer of each network computes in float32 so that
losses are float32 under a mixed-precision policy.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from tf_ttur.config import Config
from tf_ttur.networks.seeds import Seeds

# tf.contrib.layers.batch_norm(decay=0.9, epsilon=1e-5, scale=True).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
INIT_STDDEV = 0.02


def _batch_norm(name: str) -> layers.BatchNormalization:
  return layers.BatchNormalization(
    momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name
  )


def _normal(seed: int | None) -> keras.initializers.Initializer:
  return keras.initializers.RandomNormal(stddev=INIT_STDDEV, seed=seed)


def make_generator(
  image_size: int, z_dim: int = 100, width: int = 64, seed: int | None = None
) -> keras.Model:
  """The DCGAN generator: float32 z [B, z_dim] -> images [B, s, s, 3] in [-1,
  1].

  Args:
    image_size: 32 (CIFAR-10, SVHN: 2->4->8->16->32) or 64 (4->...->64).
    z_dim: latent dimension (100 in the paper).
    width: gf, the last hidden width (64 in the paper).
    seed: fixes the initial weights.
  """
  s16 = math.ceil(image_size / 16)
  seeds = Seeds(seed, -1, scale=100)  # seed * 100 + 0, 1, ..., 4.
  z = keras.Input((z_dim,), name="z")
  x = layers.Dense(
    s16 * s16 * 8 * width, kernel_initializer=_normal(seeds()), name="g_h0_lin"
  )(z)
  x = layers.Reshape((s16, s16, 8 * width))(x)
  x = layers.ReLU()(_batch_norm("g_bn0")(x))
  for i, mult in enumerate((4, 2, 1), start=1):
    x = layers.Conv2DTranspose(
      mult * width,
      5,
      strides=2,
      padding="same",
      kernel_initializer=_normal(seeds()),
      name=f"g_h{i}",
    )(x)
    x = layers.ReLU()(_batch_norm(f"g_bn{i}")(x))
  x = layers.Conv2DTranspose(
    3,
    5,
    strides=2,
    padding="same",
    kernel_initializer=_normal(seeds()),
    dtype="float32",
    name="g_h4",
  )(x)
  images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
  return keras.Model(z, images, name="generator")


def make_discriminator(
  image_size: int, width: int = 64, seed: int | None = None
) -> keras.Model:
  """The DCGAN discriminator: images [B, s, s, 3] in [-1, 1] -> logits [B, 1].

  Args:
    image_size: 32 or 64; the flattened size is (s/16)^2 * 8 * width.
    width: df, the first conv's width (64 in the paper).
    seed: fixes the initial weights.
  """
  seeds = Seeds(seed, 9, scale=100)  # seed * 100 + 10, 11, ..., 14.
  images = keras.Input((image_size, image_size, 3), name="images")
  x = images
  for i, mult in enumerate((1, 2, 4, 8)):
    x = layers.Conv2D(
      mult * width,
      5,
      strides=2,
      padding="same",
      kernel_initializer=keras.initializers.TruncatedNormal(
        stddev=INIT_STDDEV, seed=seeds()
      ),
      name=f"d_h{i}_conv",
    )(x)
    if i > 0:  # No batch norm on the first layer.
      x = _batch_norm(f"d_bn{i}")(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
  x = layers.Flatten()(x)
  logits = layers.Dense(
    1, kernel_initializer=_normal(seeds()), dtype="float32", name="d_h4_lin"
  )(x)
  return keras.Model(images, logits, name="discriminator")


def discriminator_for(config: Config, size: int) -> keras.Model:
  """The discriminator of a run's config (tf_ttur.builder)."""
  return make_discriminator(size, config.network.width, seed=config.run.seed)
