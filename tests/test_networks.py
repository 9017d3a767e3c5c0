"""DCGAN shapes and parameter counts against docs/paper.md A.3.1, computed by
hand."""

import numpy as np
import pytest

from tf_ttur.networks import dcgan


def _bn(c):  # gamma, beta, moving mean, moving variance
  return 4 * c


def _expected_generator_params(size, z_dim=100, w=64):
  s16 = -(-size // 16)
  n = z_dim * s16 * s16 * 8 * w + s16 * s16 * 8 * w + _bn(8 * w)
  for c_in, c_out in ((8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w)):
    n += 25 * c_in * c_out + c_out + _bn(c_out)
  return n + 25 * w * 3 + 3


def _expected_discriminator_params(size, w=64):
  n = 25 * 3 * w + w  # first conv, no batch norm
  for c_in, c_out in ((w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w)):
    n += 25 * c_in * c_out + c_out + _bn(c_out)
  flat = (size // 16) ** 2 * 8 * w
  return n + flat + 1


@pytest.mark.parametrize("size", [32, 64])
def test_generator_matches_spec(size):
  g = dcgan.make_generator(size, seed=0)
  assert g.output_shape == (None, size, size, 3)
  assert g.count_params() == _expected_generator_params(size)
  first = g.get_layer("g_h0_lin")
  assert first.output.shape[-1] == (size // 16) ** 2 * 512
  z = np.random.default_rng(0).uniform(-1, 1, (3, 100)).astype("float32")
  out = np.asarray(g(z, training=False))
  assert out.min() >= -1 and out.max() <= 1  # tanh


@pytest.mark.parametrize("size", [32, 64])
def test_discriminator_matches_spec(size):
  d = dcgan.make_discriminator(size, seed=0)
  assert d.output_shape == (None, 1)
  assert d.count_params() == _expected_discriminator_params(size)
  names = [layer.name for layer in d.layers]
  assert "d_bn0" not in names and {"d_bn1", "d_bn2", "d_bn3"} <= set(names)
  assert d.get_layer("d_h3_conv").output.shape[1:] == (
    size // 16,
    size // 16,
    512,
  )


def test_paper_sizes_and_batch_norm_settings():
  g64 = dcgan.make_generator(64)
  assert g64.count_params() == 5_137_283  # "5.1 M" in docs/paper.md C.
  for layer in g64.layers + dcgan.make_discriminator(64).layers:
    if "bn" in layer.name:
      assert layer.momentum == 0.9 and layer.epsilon == 1e-5
  conv = g64.get_layer("g_h1")
  assert conv.kernel_size == (5, 5) and conv.strides == (2, 2)


def test_initialisation_sigma():
  g = dcgan.make_generator(64, seed=1)
  d = dcgan.make_discriminator(64, seed=1)
  deconv = np.asarray(g.get_layer("g_h1").kernel)
  assert abs(deconv.std() - 0.02) < 0.001 and abs(deconv.mean()) < 0.001
  conv = np.asarray(d.get_layer("d_h2_conv").kernel)
  # Truncated at 2 sigma: nothing beyond 0.04, std ~0.88 * 0.02.
  assert np.abs(conv).max() <= 0.04 + 1e-7
  assert abs(conv.std() - 0.0176) < 0.001
  assert not np.asarray(d.get_layer("d_h2_conv").bias).any()
