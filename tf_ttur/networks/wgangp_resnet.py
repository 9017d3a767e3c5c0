"""The WGAN-GP ResNet of `gan_64x64_FID.py` (GoodGenerator and
GoodDiscriminator of igul222's improved_wgan_training), docs/paper.md A.3.2, in NHWC.

Generator: z ~ N(0, I_128) -> Linear(4*4*8w) -> up blocks -> BN -> ReLU ->
Conv3x3 to 3 -> tanh, its batch norm always in training mode (batch
statistics, also when sampling). Critic: Conv3x3 to w -> down blocks ->
flatten -> Linear to 1, with layer norm over (H, W, C) and a per-channel
scale and offset. 64x64: 4 up blocks 8w->8w->4w->2w->w, 4 down blocks
w->2w->4w->8w->8w, flatten 4*4*8w. 32x32: 3 up blocks 8w->4w->2w->w and the
same 4 down blocks, so the critic flattens 2*2*8w per sample (the
original's "DIM = 32" note kept 4*4*8*dim and merged 4 samples per row).

Initialisers (tflib): convs "he" uniform with variance 4 / (fan_in +
fan_out), i.e. VarianceScaling(2, "fan_avg", "uniform"); 1x1 shortcuts, the
critic's input conv and linear layers Glorot uniform; biases 0.
"""

from __future__ import annotations

import keras
from keras import layers

from tf_ttur.networks.seeds import Seeds
from tf_ttur.networks.upsampling import UpSampling2D
from keras import ops

BN_EPSILON = 1e-5
LN_EPSILON = 1e-5


def _he(seed):
  return keras.initializers.VarianceScaling(2.0, "fan_avg", "uniform",
                                            seed=seed)


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
        x, axes=[i for i in range(len(x.shape)) if i != axis])
    y = ops.batch_normalization(
        x, mean, variance, axis=axis, offset=ops.cast(self.beta, "float32"),
        scale=ops.cast(self.gamma, "float32"), epsilon=self.epsilon)
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
    self.gamma = self.add_weight(shape=(channels,), initializer="ones",
                                 name="gamma")
    self.beta = self.add_weight(shape=(channels,), initializer="zeros",
                                name="beta")

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
  shortcut = layers.Conv2D(c_out, 1, kernel_initializer=_glorot(seeds()),
                           name=f"{name}_shortcut")(shortcut)
  y = TrainingBatchNorm(epsilon=BN_EPSILON, name=f"{name}_bn1")(x)
  y = layers.ReLU()(y)
  y = UpSampling2D(2)(y)
  y = layers.Conv2D(c_out, 3, padding="same", use_bias=False,
                    kernel_initializer=_he(seeds()), name=f"{name}_conv1")(y)
  y = TrainingBatchNorm(epsilon=BN_EPSILON, name=f"{name}_bn2")(y)
  y = layers.ReLU()(y)
  y = layers.Conv2D(c_out, 3, padding="same", kernel_initializer=_he(seeds()),
                    name=f"{name}_conv2")(y)
  return layers.Add()([shortcut, y])


def _down_block(x, c_in, c_out, seeds, name):
  shortcut = _mean_pool(x)
  shortcut = layers.Conv2D(c_out, 1, kernel_initializer=_glorot(seeds()),
                           name=f"{name}_shortcut")(shortcut)
  y = ChannelLayerNorm(name=f"{name}_ln1")(x)
  y = layers.ReLU()(y)
  y = layers.Conv2D(c_in, 3, padding="same", use_bias=False,
                    kernel_initializer=_he(seeds()), name=f"{name}_conv1")(y)
  y = ChannelLayerNorm(name=f"{name}_ln2")(y)
  y = layers.ReLU()(y)
  y = layers.Conv2D(c_out, 3, padding="same", kernel_initializer=_he(seeds()),
                    name=f"{name}_conv2")(y)
  y = _mean_pool(y)
  return layers.Add()([shortcut, y])


def _up_widths(image_size, width):
  mults = {64: (8, 8, 4, 2, 1), 32: (8, 4, 2, 1)}[image_size]
  return [m * width for m in mults]


def make_generator(image_size: int, z_dim: int = 128, width: int = 64,
                   seed: int | None = None) -> keras.Model:
  """z [B, z_dim] -> images [B, s, s, 3] in [-1, 1]; s = 32 or 64."""
  seeds = Seeds(seed)
  widths = _up_widths(image_size, width)
  z = keras.Input((z_dim,), name="z")
  x = layers.Dense(4 * 4 * widths[0], kernel_initializer=_glorot(seeds()),
                   name="g_input")(z)
  x = layers.Reshape((4, 4, widths[0]))(x)
  for i, c_out in enumerate(widths[1:], start=1):
    x = _up_block(x, c_out, seeds, f"g_res{i}")
  x = TrainingBatchNorm(epsilon=BN_EPSILON, name="g_out_bn")(x)
  x = layers.ReLU()(x)
  x = layers.Conv2D(3, 3, padding="same", kernel_initializer=_he(seeds()),
                    dtype="float32", name="g_output")(x)
  images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
  return keras.Model(z, images, name="generator")


def make_discriminator(image_size: int, width: int = 64,
                       seed: int | None = None) -> keras.Model:
  """images [B, s, s, 3] -> critic values [B, 1]; 4 down blocks."""
  seeds = Seeds(seed, 500)
  widths = [width, 2 * width, 4 * width, 8 * width, 8 * width]
  images = keras.Input((image_size, image_size, 3), name="images")
  x = layers.Conv2D(width, 3, padding="same",
                    kernel_initializer=_glorot(seeds()), name="d_input")(images)
  for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
    x = _down_block(x, c_in, c_out, seeds, f"d_res{i}")
  side = image_size // 16
  x = layers.Reshape((side * side * widths[-1],))(x)
  out = layers.Dense(1, kernel_initializer=_glorot(seeds()), dtype="float32",
                     name="d_output")(x)
  return keras.Model(images, out, name="discriminator")


def discriminator_for(config, size: int) -> keras.Model:
  """The discriminator of a run's config (tf_ttur.families' builder)."""
  return make_discriminator(size, config.width, seed=config.seed)
