"""The WGAN-GP ResNet of `gan_64x64_FID.py` (GoodGenerator and
GoodDiscriminator of igul222's improved_wgan_training), docs/paper.md A.3.2, in
NHWC.

Generator: z ~ N(0, I_128) -> Linear(s16*s16*8w) -> 4 up blocks
8w->8w->4w->2w->w -> BN -> ReLU -> Conv3x3 to 3 -> tanh, its batch norm
always in training mode (batch statistics, also when sampling); s16 = s / 16
(64: 4x4 -> 64x64; 32: 2x2 -> 32x32, the original's `fact = DIM // 16`).
Critic: Conv3x3 to w -> 4 down blocks w->2w->4w->8w->8w -> flatten ->
Linear to 1, with layer norm over (H, W, C) and a per-channel scale and
offset.

The critic's flatten (docs/paper.md A.3.2): the original always reshapes
to [-1, 4*4*8w]. At 64x64 that is one sample's 4x4x8w map. At 32x32 (its
"DIM = 32", the CIFAR-10 run) the map is 2x2x8w, so each row holds 4
consecutive samples and the critic gives one value per 4 samples
(`critic_flatten="original"`, the paper's CIFAR-10 WGAN-GP);
`critic_flatten="per_sample"` flattens 2x2x8w, one value per sample.

Initialisers (tflib): convs "he" uniform with variance 4 / (fan_in +
fan_out), i.e. VarianceScaling(2, "fan_avg", "uniform"); 1x1 shortcuts, the
critic's input conv and linear layers Glorot uniform; biases 0.
"""

from __future__ import annotations

import keras
from keras import layers
from keras import ops

from tf_ttur.config import Config
from tf_ttur.families import samples_per_critic_row
from tf_ttur.networks.seeds import Seeds
from tf_ttur.networks.upsampling import UpSampling2D

BN_EPSILON = 1e-5
LN_EPSILON = 1e-5


def _he(seed):
  return keras.initializers.VarianceScaling(
    2.0, "fan_avg", "uniform", seed=seed
  )


def _glorot(seed):
  return keras.initializers.GlorotUniform(seed=seed)


class TrainingBatchNorm(layers.BatchNormalization):
  """Batch norm that always uses the batch's statistics (WGAN-GP's G).

  update_statistics False (the serving copy, tf_ttur.export): the same
  normalization without assigning the moving statistics, which nothing
  reads, so that serving is stateless (TFLite cannot convert the assigns).
  """

  update_statistics = True

  def call(self, inputs, training=None, mask=None):
    del training
    if self.update_statistics:
      return super().call(inputs, training=True, mask=mask)
    x = ops.cast(inputs, "float32")
    axis = self.axis % len(x.shape)
    mean, variance = ops.moments(
      x, axes=[i for i in range(len(x.shape)) if i != axis]
    )
    y = ops.batch_normalization(
      x,
      mean,
      variance,
      axis=axis,
      offset=ops.cast(self.beta, "float32"),
      scale=ops.cast(self.gamma, "float32"),
      epsilon=self.epsilon,
    )
    return ops.cast(y, self.compute_dtype)


class ChannelLayerNorm(layers.Layer):
  """Layer norm over (H, W, C) with a scale and offset per channel.

  keras.layers.LayerNormalization(axis=[1, 2, 3]) would learn (H, W, C)
  parameters; the original learns one scale and offset per channel.
  """

  def __init__(self, epsilon=LN_EPSILON, **kwargs):
    super().__init__(**kwargs)
    self.epsilon = epsilon

  def build(self, input_shape):
    channels = input_shape[-1]
    self.gamma = self.add_weight(
      shape=(channels,), initializer="ones", name="gamma"
    )
    self.beta = self.add_weight(
      shape=(channels,), initializer="zeros", name="beta"
    )

  def call(self, x):
    x32 = ops.cast(x, "float32")
    mean, variance = ops.moments(x32, axes=[1, 2, 3], keepdims=True)
    y = (x32 - mean) * ops.rsqrt(variance + self.epsilon)
    y = y * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
    return ops.cast(y, x.dtype)


def _mean_pool(x):
  return layers.AveragePooling2D(2)(x)


def _up_block(x, c_out, seeds, name):
  shortcut = UpSampling2D(2)(x)
  shortcut = layers.Conv2D(
    c_out, 1, kernel_initializer=_glorot(seeds()), name=f"{name}_shortcut"
  )(shortcut)
  y = TrainingBatchNorm(epsilon=BN_EPSILON, name=f"{name}_bn1")(x)
  y = layers.ReLU()(y)
  y = UpSampling2D(2)(y)
  y = layers.Conv2D(
    c_out,
    3,
    padding="same",
    use_bias=False,
    kernel_initializer=_he(seeds()),
    name=f"{name}_conv1",
  )(y)
  y = TrainingBatchNorm(epsilon=BN_EPSILON, name=f"{name}_bn2")(y)
  y = layers.ReLU()(y)
  y = layers.Conv2D(
    c_out,
    3,
    padding="same",
    kernel_initializer=_he(seeds()),
    name=f"{name}_conv2",
  )(y)
  return layers.Add()([shortcut, y])


def _down_block(x, c_in, c_out, seeds, name):
  shortcut = _mean_pool(x)
  shortcut = layers.Conv2D(
    c_out, 1, kernel_initializer=_glorot(seeds()), name=f"{name}_shortcut"
  )(shortcut)
  y = ChannelLayerNorm(name=f"{name}_ln1")(x)
  y = layers.ReLU()(y)
  y = layers.Conv2D(
    c_in,
    3,
    padding="same",
    use_bias=False,
    kernel_initializer=_he(seeds()),
    name=f"{name}_conv1",
  )(y)
  y = ChannelLayerNorm(name=f"{name}_ln2")(y)
  y = layers.ReLU()(y)
  y = layers.Conv2D(
    c_out,
    3,
    padding="same",
    kernel_initializer=_he(seeds()),
    name=f"{name}_conv2",
  )(y)
  y = _mean_pool(y)
  return layers.Add()([shortcut, y])


UP_MULTIPLIERS = (8, 8, 4, 2, 1)
DOWN_MULTIPLIERS = (1, 2, 4, 8, 8)


class MergedFlatten(layers.Layer):
  """[B, h, w, c] -> [B / k, k * h * w * c]: k consecutive samples a row,
  as the original's reshape(output, [-1, 4*4*8*dim]) of a 2x2 map.

  The original is NCHW, so its row is 4 samples' (C, H, W) values; here
  each sample's (H, W, C) values: a fixed permutation of the linear layer's
  inputs, which the Glorot initialisation does not see.
  """

  def __init__(self, samples_per_row: int, **kwargs):
    super().__init__(**kwargs)
    self.samples_per_row = samples_per_row

  def call(self, x):
    features = self.samples_per_row * x.shape[1] * x.shape[2] * x.shape[3]
    return ops.reshape(x, (-1, features))

  def compute_output_shape(self, input_shape):
    features = self.samples_per_row * (
      input_shape[1] * input_shape[2] * input_shape[3]
    )
    batch = input_shape[0]
    return (None if batch is None else batch // self.samples_per_row, features)

  def get_config(self):
    return {**super().get_config(), "samples_per_row": self.samples_per_row}


def make_generator(
  image_size: int, z_dim: int = 128, width: int = 64, seed: int | None = None
) -> keras.Model:
  """z [B, z_dim] -> images [B, s, s, 3] in [-1, 1]; s = 32 or 64."""
  seeds = Seeds(seed)
  widths = [m * width for m in UP_MULTIPLIERS]
  side = image_size // 16
  z = keras.Input((z_dim,), name="z")
  x = layers.Dense(
    side * side * widths[0], kernel_initializer=_glorot(seeds()), name="g_input"
  )(z)
  x = layers.Reshape((side, side, widths[0]))(x)
  for i, c_out in enumerate(widths[1:], start=1):
    x = _up_block(x, c_out, seeds, f"g_res{i}")
  x = TrainingBatchNorm(epsilon=BN_EPSILON, name="g_out_bn")(x)
  x = layers.ReLU()(x)
  x = layers.Conv2D(
    3,
    3,
    padding="same",
    kernel_initializer=_he(seeds()),
    dtype="float32",
    name="g_output",
  )(x)
  images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
  return keras.Model(z, images, name="generator")


def make_discriminator(
  image_size: int,
  width: int = 64,
  seed: int | None = None,
  critic_flatten: str = "per_sample",
) -> keras.Model:
  """images [B, s, s, 3] -> critic values [B / k, 1]; 4 down blocks.

  k = samples_per_critic_row(image_size, critic_flatten): 4 for the
  original's flatten at 32x32 (B must then be a multiple of 4), else 1.
  """
  per_row = samples_per_critic_row(image_size, critic_flatten)
  seeds = Seeds(seed, 500)
  widths = [m * width for m in DOWN_MULTIPLIERS]
  images = keras.Input((image_size, image_size, 3), name="images")
  x = layers.Conv2D(
    width,
    3,
    padding="same",
    kernel_initializer=_glorot(seeds()),
    name="d_input",
  )(images)
  for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
    x = _down_block(x, c_in, c_out, seeds, f"d_res{i}")
  if per_row > 1:
    x = MergedFlatten(per_row, name="d_merged_flatten")(x)
  else:
    x = layers.Flatten()(x)
  out = layers.Dense(
    1, kernel_initializer=_glorot(seeds()), dtype="float32", name="d_output"
  )(x)
  return keras.Model(images, out, name="discriminator")


def discriminator_for(config: Config, size: int) -> keras.Model:
  """The discriminator of a run's config (tf_ttur.builder)."""
  return make_discriminator(
    size,
    config.network.width,
    seed=config.run.seed,
    critic_flatten=config.network.critic_flatten,
  )
