"""The "standard CNN" of Miyato et al. 2018 (SNGAN, its Table 3), 32x32.

Generator: z [128] -> Linear(4*4*8w) -> BN -> ReLU -> reshape -> 3 x
[Deconv4x4/2 -> BN -> ReLU] (4w, 2w, w) -> Conv3x3/1 to 3 -> tanh.
Discriminator, every layer spectrally normalized as the paper defines it
(tf_ttur.networks.spectral: the raw kernel trained, W / sigma(W) in
float32, one power iteration per training call): Conv3x3/1 w, Conv4x4/2
w, Conv3x3/1 2w, Conv4x4/2 2w, Conv3x3/1 4w, Conv4x4/2 4w, Conv3x3/1 8w,
each followed by LReLU(0.1), then Linear to one value. w = 64 in the
paper (G: 512 -> 64 channels, D: 64 -> 512). The generator's first map is
4x4 (M_g = 4 for 32x32). The last layer of each network computes in
float32.

Where the authors' Chainer code (chainer-gan-lib, common/net.py:
DCGANGenerator, SNDCGANDiscriminator) says more than Table 3, it is
followed: BN + ReLU after the generator's Linear (over its 4*4*8w
outputs, before the reshape), every weight drawn from N(0, 0.02) and every
bias 0, Chainer's batch normalization (decay 0.9, eps 2e-5). One
difference is kept on purpose: the LReLU slope is Table 3's 0.1; that code
calls Chainer's leaky_relu with its default slope, 0.2.
"""

from __future__ import annotations

import keras
from keras import layers

from tf_ttur.config import Config
from tf_ttur.networks import spectral
from tf_ttur.networks.seeds import Seeds

LEAK = 0.1
# Chainer's BatchNormalization (the paper's framework): decay 0.9, eps 2e-5.
BN_MOMENTUM = 0.9
BN_EPSILON = 2e-5


def _init(seed: int | None) -> keras.initializers.Initializer:
  # The authors' code: chainer.initializers.Normal(0.02) for every weight.
  return keras.initializers.RandomNormal(stddev=0.02, seed=seed)


def make_generator(
  image_size: int, z_dim: int = 128, width: int = 64, seed: int | None = None
) -> keras.Model:
  """float32 z [B, z_dim] -> images [B, s, s, 3] in [-1, 1]; s = 32."""
  first = image_size // 8
  seeds = Seeds(seed, 0)
  z = keras.Input((z_dim,), name="z")
  x = layers.Dense(
    first * first * 8 * width,
    kernel_initializer=_init(seeds()),
    name="g_linear",
  )(z)
  x = layers.BatchNormalization(
    momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="g_bn0"
  )(x)
  x = layers.ReLU()(x)
  x = layers.Reshape((first, first, 8 * width))(x)
  for i, mult in enumerate((4, 2, 1), start=1):
    x = layers.Conv2DTranspose(
      mult * width,
      4,
      strides=2,
      padding="same",
      kernel_initializer=_init(seeds()),
      name=f"g_deconv{i}",
    )(x)
    x = layers.BatchNormalization(
      momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"g_bn{i}"
    )(x)
    x = layers.ReLU()(x)
  x = layers.Conv2D(
    3,
    3,
    padding="same",
    kernel_initializer=_init(seeds()),
    dtype="float32",
    name="g_output",
  )(x)
  images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
  return keras.Model(z, images, name="generator")


def make_discriminator(
  image_size: int, width: int = 64, seed: int | None = None
) -> keras.Model:
  """images [B, s, s, 3] in [-1, 1] -> values [B, 1]."""
  seeds = Seeds(seed, 500)
  images = keras.Input((image_size, image_size, 3), name="images")
  x = images
  shape = (
    (3, 1, 1),
    (4, 2, 1),
    (3, 1, 2),
    (4, 2, 2),
    (3, 1, 4),
    (4, 2, 4),
    (3, 1, 8),
  )
  for i, (kernel, stride, mult) in enumerate(shape):
    x = spectral.SNConv2D(
      mult * width,
      kernel,
      strides=stride,
      kernel_initializer=_init(seeds()),
      name=f"d_sn_conv{i}",
    )(x)
    x = layers.LeakyReLU(negative_slope=LEAK)(x)
  x = layers.Flatten()(x)
  out = spectral.SNDense(
    1, kernel_initializer=_init(seeds()), dtype="float32", name="d_sn_linear"
  )(x)
  return keras.Model(images, out, name="discriminator")


def discriminator_for(config: Config, size: int) -> keras.Model:
  """The discriminator of a run's config (tf_ttur.builder)."""
  return make_discriminator(size, config.network.width, seed=config.run.seed)
