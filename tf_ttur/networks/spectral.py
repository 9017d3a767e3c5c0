"""Spectral normalization as Miyato et al. 2018 define it (their Algorithm 1).

The trained variable is the raw kernel W (float32, never written by the
forward pass). Every call computes W_bar = W / sigma(W) in float32, with
sigma(W) = u^T W v from one power iteration on the persistent vector u;
u and v are constants to the gradient (the paper's eqs. 20-23 and its
authors' Chainer code, where they are arrays, not variables), so the
gradient reaches W through W / sigma(W):

    dL/dW = (G - <G, W_bar> u v^T) / sigma,   G = dL/dW_bar.

A training call stores the new u (one power iteration per call, as the
authors' code does for each discriminator evaluation); an inference call
uses the stored u without moving it. Only the matmul or convolution runs
at the layer's compute dtype (bfloat16 or float16 under mixed precision):
W_bar is cast to it after the division, so a small Adam step on W is never
rounded away by writing a low-precision W_bar back into W (which is what
`keras.layers.SpectralNormalization` does).

Kernels are laid out as Keras's: Dense [fan_in, units], Conv2D [kh, kw,
c_in, filters]; the matrix whose spectral norm is taken is the kernel
reshaped to [fan_in, out] (its singular values are those of the authors'
[out, fan_in] matrix).
"""

from __future__ import annotations

import keras
from keras import ops

EPSILON = 1e-12  # The authors' _l2normalize.


def _normalize(x):
  return x / (ops.sqrt(ops.sum(ops.square(x))) + EPSILON)


def _right_vector(matrix, u):
  """v = normalize(u W^T), a constant for the gradient."""
  return ops.stop_gradient(_normalize(ops.matmul(u, ops.transpose(matrix))))


def power_iteration(matrix, u):
  """One power iteration on `matrix` [fan_in, out] from `u` [1, out].

  Returns (sigma, u_new, v): v = normalize(u W^T), u_new = normalize(v W),
  sigma = v W u_new^T, with u_new and v held constant for the gradient.
  """
  v = _right_vector(matrix, u)
  vw = ops.matmul(v, matrix)
  u_new = ops.stop_gradient(_normalize(vw))
  return ops.sum(vw * u_new), u_new, v


def stored_sigma(matrix, u):
  """sigma from the stored u without iterating (inference):
  v = normalize(u W^T), sigma = v W u^T."""
  return ops.sum(ops.matmul(_right_vector(matrix, u), matrix) * u)


class SpectralNormalized(keras.layers.Layer):
  """Base: a float32 kernel, a bias, the persistent u, W / sigma(W)."""

  def __init__(
    self, kernel_initializer="glorot_uniform", use_bias=True, **kwargs
  ):
    super().__init__(**kwargs)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.use_bias = use_bias

  def _kernel_shape(self, input_shape) -> tuple[int, ...]:
    raise NotImplementedError

  def build(self, input_shape):
    shape = self._kernel_shape(input_shape)
    # autocast=False: the layer reads W in float32 under mixed precision.
    self.kernel = self.add_weight(
      shape=shape,
      initializer=self.kernel_initializer,
      name="kernel",
      dtype="float32",
      autocast=False,
    )
    self.bias = (
      self.add_weight(
        shape=(shape[-1],),
        initializer="zeros",
        name="bias",
        dtype="float32",
        autocast=False,
      )
      if self.use_bias
      else None
    )
    # The authors draw u ~ N(0, I) at the first call; only its direction
    # matters. Not trained; every replica computes the same u.
    self.u = self.add_weight(
      shape=(1, shape[-1]),
      initializer=keras.initializers.RandomNormal(
        stddev=1.0, seed=self._u_seed
      ),
      name="u",
      dtype="float32",
      trainable=False,
      autocast=False,
      aggregation="only_first_replica",
    )

  @property
  def _u_seed(self):
    seed = getattr(self.kernel_initializer, "seed", None)
    return seed + 7919 if isinstance(seed, int) else None

  def normalized_kernel(self, training: bool = False):
    """W / sigma(W) in float32; a training call also stores the new u."""
    kernel = ops.convert_to_tensor(self.kernel)
    matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))
    u = ops.convert_to_tensor(self.u)
    if training:
      sigma, u_new, _ = power_iteration(matrix, u)
      self.u.assign(u_new)
    else:
      sigma = stored_sigma(matrix, u)
    return kernel / sigma

  def _finish(self, outputs):
    if self.bias is not None:
      outputs = outputs + ops.cast(self.bias, outputs.dtype)
    return outputs

  def get_config(self):
    return {
      **super().get_config(),
      "use_bias": self.use_bias,
      "kernel_initializer": keras.initializers.serialize(
        self.kernel_initializer
      ),
    }


class SNDense(SpectralNormalized):
  """Dense with the paper's spectral normalization."""

  def __init__(self, units: int, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  def _kernel_shape(self, input_shape):
    return (int(input_shape[-1]), self.units)

  def call(self, inputs, training=False):
    kernel = ops.cast(self.normalized_kernel(bool(training)), inputs.dtype)
    return self._finish(ops.matmul(inputs, kernel))

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.units)

  def get_config(self):
    return {**super().get_config(), "units": self.units}


class SNConv2D(SpectralNormalized):
  """Conv2D (channels last, "same" padding) with the paper's spectral
  normalization."""

  def __init__(
    self, filters: int, kernel_size: int, strides: int = 1, **kwargs
  ):
    super().__init__(**kwargs)
    self.filters, self.kernel_size, self.strides = (
      filters,
      kernel_size,
      strides,
    )

  def _kernel_shape(self, input_shape):
    return (
      self.kernel_size,
      self.kernel_size,
      int(input_shape[-1]),
      self.filters,
    )

  def call(self, inputs, training=False):
    kernel = ops.cast(self.normalized_kernel(bool(training)), inputs.dtype)
    return self._finish(
      ops.conv(inputs, kernel, strides=self.strides, padding="same")
    )

  def compute_output_shape(self, input_shape):
    batch, height, width, _ = input_shape
    height, width = (
      None if n is None else -(-n // self.strides) for n in (height, width)
    )
    return (batch, height, width, self.filters)

  def get_config(self):
    return {
      **super().get_config(),
      "filters": self.filters,
      "kernel_size": self.kernel_size,
      "strides": self.strides,
    }
