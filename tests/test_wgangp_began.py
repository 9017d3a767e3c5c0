"""WGAN-GP and BEGAN: networks against docs/paper.md A.3.2/A.3.3, the gradient
penalty and k_t on hand-computed cases, and the toy example."""

import numpy as np
import pytest
import tensorflow as tf

from tf_ttur import losses
from tf_ttur.experiments import toy
from tf_ttur.networks import began
from tf_ttur.networks import wgangp_resnet


def _conv(k, c_in, c_out, bias=True):
  return k * k * c_in * c_out + (c_out if bias else 0)


def _wgan_g_params(size, z=128, w=64):
  # The original's fact = DIM // 16: a 4x4 (64) or 2x2 (32) start, then
  # 4 up blocks either way.
  widths = [m * w for m in (8, 8, 4, 2, 1)]
  cells = (size // 16) ** 2
  n = z * cells * widths[0] + cells * widths[0]
  for c_in, c_out in zip(widths[:-1], widths[1:]):
    n += _conv(1, c_in, c_out)  # shortcut
    n += 4 * c_in + _conv(3, c_in, c_out, bias=False)  # bn1 + conv1
    n += 4 * c_out + _conv(3, c_out, c_out)  # bn2 + conv2
  return n + 4 * w + _conv(3, w, 3)


def _wgan_d_params(size, w=64):
  widths = [w, 2 * w, 4 * w, 8 * w, 8 * w]
  n = _conv(3, 3, w)
  for c_in, c_out in zip(widths[:-1], widths[1:]):
    n += _conv(1, c_in, c_out)
    n += 2 * c_in + _conv(3, c_in, c_in, bias=False)  # ln1 + conv1
    n += 2 * c_in + _conv(3, c_in, c_out)  # ln2 + conv2
  return n + (size // 16) ** 2 * 8 * w + 1


@pytest.mark.parametrize("size", [32, 64])
def test_wgangp_networks_match_spec(size):
  g = wgangp_resnet.make_generator(size, seed=0)
  d = wgangp_resnet.make_discriminator(size, seed=0)
  assert g.output_shape == (None, size, size, 3)
  assert d.output_shape == (None, 1)
  assert g.count_params() == _wgan_g_params(size)
  assert d.count_params() == _wgan_d_params(size)
  ln = d.get_layer("d_res1_ln1")
  assert ln.gamma.shape == (64,) and ln.beta.shape == (64,)


def test_32px_per_sample_critic_scores_each_sample_alone():
  d = wgangp_resnet.make_discriminator(
    32, width=8, seed=0, critic_flatten="per_sample"
  )
  x = np.random.default_rng(0).uniform(-1, 1, (5, 32, 32, 3)).astype("float32")
  base = d(x).numpy()
  x2 = x.copy()
  x2[0] += 0.5
  moved = d(x2).numpy()
  assert base.shape == (5, 1)
  assert not np.allclose(moved[0], base[0])
  np.testing.assert_allclose(moved[1:], base[1:], rtol=1e-6, atol=1e-6)


def test_generator_batch_norm_always_uses_batch_statistics():
  layer = wgangp_resnet.TrainingBatchNorm(epsilon=1e-5)
  x = np.random.default_rng(0).normal(3.0, 2.0, (16, 4, 4, 2)).astype("float32")
  out = layer(x, training=False).numpy()
  assert abs(out.mean()) < 1e-4 and abs(out.std() - 1) < 1e-2


def test_channel_layer_norm_normalises_each_sample():
  layer = wgangp_resnet.ChannelLayerNorm()
  x = np.random.default_rng(1).normal(5.0, 3.0, (3, 4, 4, 6)).astype("float32")
  out = layer(x).numpy()
  np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
  np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-3)


def test_gradient_penalty_of_a_linear_critic_is_analytic():
  # D(x) = sum(w * x): the gradient is w at every interpolate, so
  # GP = (sqrt(|w|^2 + eps) - 1)^2 whatever real, fake and alpha are.
  rng = np.random.default_rng(2)
  w = tf.constant(rng.normal(size=(1, 4, 4, 3)) * 0.3, tf.float32)
  critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None]
  real = rng.uniform(-1, 1, (6, 4, 4, 3)).astype("float32")
  fake = rng.uniform(-1, 1, (6, 4, 4, 3)).astype("float32")
  alpha = rng.uniform(0, 1, 6).astype("float32")
  gp = losses.gradient_penalty(critic, real, fake, alpha)
  norm = np.sqrt(np.sum(w.numpy().astype("float64") ** 2) + losses.GP_EPSILON)
  assert float(gp) == pytest.approx((norm - 1) ** 2, rel=1e-5)


def test_gradient_penalty_interpolates_per_sample():
  # D(x) = sum(x^2) / 2: grad = x_hat, so the penalty sees each alpha.
  critic = lambda x: 0.5 * tf.reduce_sum(x * x, axis=[1, 2, 3])[:, None]
  real = np.zeros((2, 1, 1, 1), np.float32)
  fake = np.ones((2, 1, 1, 1), np.float32) * 4.0
  alpha = np.array([0.25, 0.5], np.float32)
  gp = losses.gradient_penalty(critic, real, fake, alpha)
  expected = np.mean(
    [(np.sqrt(1.0**2 + 1e-10) - 1) ** 2, (np.sqrt(2.0**2 + 1e-10) - 1) ** 2]
  )
  assert float(gp) == pytest.approx(expected, rel=1e-5)


def test_began_k_update_and_clipping():
  k = losses.began_k_update(
    tf.constant(0.5), tf.constant(0.2), tf.constant(0.05)
  )
  assert float(k) == pytest.approx(0.5 + 0.001 * (0.5 * 0.2 - 0.05))
  assert (
    float(
      losses.began_k_update(
        tf.constant(0.99995), tf.constant(1.0), tf.constant(0.0)
      )
    )
    == 1.0
  )
  assert (
    float(
      losses.began_k_update(
        tf.constant(0.0), tf.constant(0.0), tf.constant(0.3)
      )
    )
    == 0.0
  )
  m = losses.began_convergence(tf.constant(0.2), tf.constant(0.3))
  assert float(m) == pytest.approx(0.2 + abs(0.1 - 0.3))


def test_began_networks_match_spec():
  g = began.make_generator(64, z_dim=64, width=8, seed=0)
  d = began.make_discriminator(64, width=8, seed=0, z_dim=64)
  assert g.output_shape == (None, 64, 64, 3)
  assert d.output_shape == (None, 64, 64, 3)
  assert d.get_layer("d_bottleneck").output.shape[-1] == 64
  # Encoder stages widen to 4n; the last stage sits at 8x8 before the FC.
  assert d.get_layer("d_enc3_b").output.shape[1:] == (8, 8, 32)
  assert d.get_layer("d_enc2_down").strides == (2, 2)
  assert g.get_layer("g_out").activation.__name__ == "linear"


def test_toy_ttur_reaches_the_saddle_equal_rates_do_not(tmp_path):
  figures = toy.run(str(tmp_path), iterations=5000, seed=0)
  ttur = figures["TTUR x slowed (1e-4, 1e-2)"]
  equal = figures["equal 1e-2"]
  assert ttur["mean_distance_last"] < 0.1
  assert equal["mean_distance_last"] > 3 * ttur["mean_distance_last"]
  assert ttur["final_objective"] == pytest.approx(100, abs=1.0)
  assert (tmp_path / "toy.png").stat().st_size > 10_000
  assert (tmp_path / "toy.json").exists()
