"""tf_ttur.networks.spectral against Miyato et al. 2018's algorithm.

The reference is written here from the paper (Algorithm 1, eqs. 20-23):
u, v from one power iteration in float64 NumPy, sigma = v W u^T, and the
gradient of L(W / sigma(W)) with u, v constant in closed form,
dL/dW = (G - <G, W_bar> v^T u) / sigma with G = dL/dW_bar.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_ttur import builder
from tf_ttur.config import Config
from tf_ttur.networks import sngan
from tf_ttur.networks import spectral


def _unit(x):
  return x / (np.sqrt(np.sum(x * x)) + spectral.EPSILON)


def _reference(kernel: np.ndarray, u: np.ndarray):
  """(sigma, u_new, v) of one power iteration, float64, the paper's."""
  matrix = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
  v = _unit(u.astype(np.float64) @ matrix.T)
  u_new = _unit(v @ matrix)
  return float((v @ matrix @ u_new.T).item()), u_new, v


def _layers():
  rng = np.random.default_rng(0)
  dense = spectral.SNDense(5, kernel_initializer="glorot_uniform")
  dense_x = rng.normal(size=(4, 7)).astype(np.float32)
  conv = spectral.SNConv2D(
    6,
    4,
    strides=2,
    kernel_initializer=(keras.initializers.RandomNormal(stddev=0.02, seed=1)),
  )
  conv_x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
  return [(dense, dense_x), (conv, conv_x)]


def _plain(layer, x, kernel):
  """The layer's op with a given (already normalized) kernel."""
  if isinstance(layer, spectral.SNDense):
    return tf.matmul(x, kernel) + layer.bias
  return tf.nn.conv2d(x, kernel, layer.strides, "SAME") + layer.bias


@pytest.mark.parametrize("index", [0, 1], ids=["dense", "conv"])
def test_gradient_is_the_reparametrizations(index):
  layer, x = _layers()[index]
  layer.build(x.shape)
  kernel = layer.kernel.numpy().copy()
  u_old = layer.u.numpy().copy()
  weights = tf.constant(
    np.random.default_rng(3)
    .normal(size=layer.compute_output_shape(x.shape))
    .astype(np.float32)
  )
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x, training=True) * weights)
  grad = tape.gradient(loss, layer.kernel).numpy()

  sigma, u_new, v = _reference(kernel, u_old)
  w_bar = tf.Variable(kernel / sigma)
  with tf.GradientTape() as tape:
    plain = tf.reduce_sum(_plain(layer, x, w_bar) * weights)
  g = tape.gradient(plain, w_bar).numpy().astype(np.float64)
  matrix_g = g.reshape(-1, g.shape[-1])
  matrix_bar = (kernel / sigma).reshape(-1, kernel.shape[-1])
  expected = (matrix_g - np.sum(matrix_g * matrix_bar) * (v.T @ u_new)) / sigma
  np.testing.assert_allclose(
    grad,
    expected.reshape(kernel.shape),
    rtol=2e-4,
    atol=1e-6 * np.abs(expected).max(),
  )
  # The forward pass is W / sigma(W) and the value of the plain op with it.
  np.testing.assert_allclose(loss.numpy(), plain.numpy(), rtol=1e-5)
  # Not Keras's SpectralNormalization, whose gradient is dL/dW_bar itself.
  assert np.abs(grad - g).max() > 1e-2 * np.abs(g).max()
  # The kernel is never written by the forward pass; u moved once.
  np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
  np.testing.assert_allclose(layer.u.numpy(), u_new, rtol=1e-5, atol=1e-7)


def test_inference_uses_the_stored_u_and_moves_nothing():
  layer, x = _layers()[0]
  layer(x, training=True)
  u = layer.u.numpy().copy()
  kernel = layer.kernel.numpy()
  out = layer(x, training=False).numpy()
  np.testing.assert_array_equal(layer.u.numpy(), u)
  v = _unit(u.astype(np.float64) @ kernel.T)
  sigma = float((v @ kernel @ u.T).item())
  np.testing.assert_allclose(
    out, x @ (kernel / sigma) + layer.bias.numpy(), rtol=1e-5, atol=1e-6
  )


def test_sigma_converges_to_the_largest_singular_value():
  layer, x = _layers()[1]
  for _ in range(200):
    layer(x, training=True)
  kernel = layer.kernel.numpy()
  top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
  bar = layer.normalized_kernel(training=False).numpy()
  assert (
    abs(
      np.linalg.svd(bar.reshape(-1, bar.shape[-1]), compute_uv=False)[0] - 1.0
    )
    < 1e-4
  )
  sigma, _, _ = _reference(kernel, layer.u.numpy())
  assert abs(sigma - top) < 1e-4 * top


@pytest.mark.parametrize(
  "policy", ["float32", "mixed_bfloat16", "mixed_float16"]
)
def test_a_small_adam_step_changes_the_kernel(policy):
  """The kernel stays float32 and every Adam step of 2e-4 moves it: W_bar
  is cast to the compute dtype only for the convolution, never written
  back (Keras's SpectralNormalization loses most such steps under
  bfloat16)."""
  rng = np.random.default_rng(1)
  layer = spectral.SNConv2D(
    16,
    3,
    kernel_initializer=(keras.initializers.RandomNormal(stddev=0.02, seed=2)),
    dtype=policy,
  )
  x = rng.normal(size=(8, 8, 8, 16)).astype(np.float32)
  layer.build(x.shape)
  assert layer.kernel.dtype == "float32" and layer.u.dtype == "float32"
  adam = keras.optimizers.Adam(2e-4)
  stepped = layer.kernel.numpy().copy()
  for _ in range(3):
    with tf.GradientTape() as tape:
      out = tf.cast(layer(x, training=True), tf.float32)
      loss = tf.reduce_mean(tf.square(out - 1.0))
    # The forward pass leaves the last step's kernel as it was.
    np.testing.assert_array_equal(layer.kernel.numpy(), stepped)
    grads = tape.gradient(loss, [layer.kernel])
    adam.apply_gradients(zip(grads, [layer.kernel]))
    moved = layer.kernel.numpy() != stepped
    assert moved.mean() > 0.99, (policy, moved.mean())
    stepped = layer.kernel.numpy().copy()


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "float32"])
def test_sngan_discriminator_learns_in_every_precision(precision):
  """Two GAN steps of the SNGAN family: every spectrally normalized kernel
  of the discriminator moves at its rate, its u vectors are stored."""
  config = Config.of(
    model="sngan",
    image_size=32,
    z_dim=16,
    width=4,
    batch_size=4,
    d_lr=2e-4,
    g_lr=2e-4,
    beta_1=0.5,
    beta_2=0.999,
  )
  keras.utils.set_random_seed(0)
  model = builder.build_model(config, precision)
  d = model.discriminator
  sn = [
    layer
    for layer in d.layers
    if isinstance(layer, spectral.SpectralNormalized)
  ]
  assert len(sn) == 8
  rng = np.random.default_rng(0)
  batch = {
    "real": rng.uniform(-1, 1, (4, 1, 32, 32, 3)).astype(np.float32),
    "z": rng.normal(size=(4, model.z_columns, 16)).astype(np.float32),
    "alpha": rng.uniform(size=(4, 1)).astype(np.float32),
  }
  ds = tf.data.Dataset.from_tensors(batch)
  model.fit(
    ds, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False
  )  # builds, 1 step
  kernels = [np.array(layer.kernel.numpy()) for layer in sn]
  us = [np.array(layer.u.numpy()) for layer in sn]
  model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
  for layer, kernel, u in zip(sn, kernels, us):
    assert layer.kernel.dtype == "float32"
    assert (layer.kernel.numpy() != kernel).mean() > 0.99, layer.name
    if u.size > 1:  # The last layer's u is +-1 whatever the kernel.
      assert not np.array_equal(layer.u.numpy(), u), layer.name


def test_generator_and_initialization_follow_the_authors_code():
  g = sngan.make_generator(32, z_dim=128, width=64, seed=3)
  names = [layer.name for layer in g.layers]
  # Linear -> BN -> ReLU before the reshape (chainer-gan-lib's bn0).
  assert names.index("g_bn0") == names.index("g_linear") + 1
  assert g.get_layer("g_bn0").output.shape[-1] == 4 * 4 * 512
  d = sngan.make_discriminator(32, width=64, seed=3)
  for kernel in (
    g.get_layer("g_deconv1").kernel,
    d.get_layer("d_sn_conv6").kernel,
  ):
    values = np.asarray(kernel)
    assert abs(values.std() - 0.02) < 5e-4 and abs(values.mean()) < 5e-4
