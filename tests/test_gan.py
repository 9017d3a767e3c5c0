"""train_step: each network moves only by its own optimizer at its own rate."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_ttur import gan as gan_lib
from tf_ttur import losses
from tf_ttur.networks import dcgan


def _model(d_lr, g_lr, n_critic=1, loss_scaling=False, seed=0):
  g = dcgan.make_generator(32, z_dim=16, width=8, seed=seed)
  d = dcgan.make_discriminator(32, width=8, seed=seed)
  model = gan_lib.GAN(
    g,
    d,
    loss=losses.LOSSES["dcgan"],
    z_dim=16,
    z_distribution="uniform",
    rule=gan_lib.UpdateRule(n_critic=n_critic),
    seed=seed,
  )
  model.compile(
    d_optimizer=gan_lib.make_adam(
      d_lr, 0.5, 0.999, 1e-8, "d_adam", loss_scaling
    ),
    g_optimizer=gan_lib.make_adam(
      g_lr, 0.5, 0.999, 1e-8, "g_adam", loss_scaling
    ),
  )
  return model


def _real(n, seed=0):
  return tf.constant(
    np.random.default_rng(seed).uniform(-1, 1, (n, 32, 32, 3)), tf.float32
  )


def _weights(net):
  return [v.numpy() for v in net.trainable_variables]


def test_each_adam_counts_its_own_updates():
  model = _model(1e-4, 5e-4, n_critic=3)
  model.train_step(_real(3 * 4))
  assert int(model.d_optimizer.iterations) == 3
  assert int(model.g_optimizer.iterations) == 1
  assert int(model.step) == 1
  assert model.d_optimizer.learning_rate.numpy() == pytest.approx(1e-4)
  assert model.g_optimizer.learning_rate.numpy() == pytest.approx(5e-4)
  assert model.d_optimizer.epsilon == 1e-8 and model.g_optimizer.beta_1 == 0.5


@pytest.mark.parametrize("frozen", ["discriminator", "generator"])
def test_zero_rate_freezes_only_that_network(frozen):
  d_lr, g_lr = (0.0, 5e-4) if frozen == "discriminator" else (1e-4, 0.0)
  model = _model(d_lr, g_lr)
  before_d, before_g = _weights(model.discriminator), _weights(model.generator)
  model.train_step(_real(8))
  after_d, after_g = _weights(model.discriminator), _weights(model.generator)
  d_same = all(np.array_equal(a, b) for a, b in zip(before_d, after_d))
  g_same = all(np.array_equal(a, b) for a, b in zip(before_g, after_g))
  if frozen == "discriminator":
    assert d_same and not g_same
  else:
    assert g_same and not d_same


@pytest.mark.slow
def test_fit_runs_and_reports_losses():
  model = _model(1e-4, 5e-4)
  ds = tf.data.Dataset.from_tensors(_real(8)).repeat()
  history = model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)
  assert set(history.history) == {"d_loss", "g_loss"}
  assert int(model.step) == 2


def test_dcgan_losses_match_numpy():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(5, 1)).astype("float32")
  fake = rng.normal(size=(5, 1)).astype("float32")
  sig = lambda x: 1 / (1 + np.exp(-x.astype("float64")))
  d_expected = -np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake)))
  g_expected = -np.mean(np.log(sig(fake)))
  assert float(losses.dcgan_d_loss(real, fake)) == pytest.approx(
    d_expected, rel=1e-5
  )
  assert float(losses.dcgan_g_loss(fake)) == pytest.approx(g_expected, rel=1e-5)
  with pytest.raises(ValueError, match=r"\[B, 1\]"):
    losses.dcgan_g_loss(tf.zeros((5,)))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_step(policy):
  keras.mixed_precision.set_dtype_policy(policy)
  try:
    model = _model(1e-4, 5e-4, loss_scaling=policy == "mixed_float16")
  finally:
    keras.mixed_precision.set_dtype_policy("float32")
  assert model.generator.get_layer("g_h1").compute_dtype == policy[6:]
  assert model.generator.output.dtype == "float32"
  assert model.discriminator.output.dtype == "float32"
  logs = model.train_step(_real(8))
  assert np.isfinite(float(logs["d_loss"]))
  assert np.isfinite(float(logs["g_loss"]))
  assert all(v.dtype == "float32" for v in model.generator.trainable_variables)
  if policy == "mixed_float16":
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(model.g_optimizer.iterations) == 1


def test_loss_scaling_skips_non_finite_steps():
  keras.mixed_precision.set_dtype_policy("mixed_float16")
  try:
    model = _model(1e-4, 5e-4, loss_scaling=True)
  finally:
    keras.mixed_precision.set_dtype_policy("float32")
  before = _weights(model.discriminator)
  bad = _real(8).numpy()
  bad[0, 0, 0, 0] = np.inf
  model.train_step(tf.constant(bad))
  after = _weights(model.discriminator)
  assert all(np.array_equal(a, b) for a, b in zip(before, after))
  assert int(model.d_optimizer.iterations) == 0
