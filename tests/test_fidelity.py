"""What can be pinned of "a paper flagfile trains what the original trained"
(docs/paper.md A.6): the networks' trainable parameter counts against the
original code's, which z and which real batch each update sees, the CIFAR-10
WGAN-GP's merged-flatten critic on a hand-computed example, CelebA's image
count and the paper flagfiles' arithmetic."""

from __future__ import annotations

import functools
import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from fid import datasources
from fid import sources
from tests.helpers import REPO
from tf_ttur import builder
from tf_ttur import gan as gan_lib
from tf_ttur import losses
from tf_ttur.config import Config
from tf_ttur.data import images
from tf_ttur.data import noise as noise_lib
from tf_ttur.networks import wgangp_resnet

# Trainable parameters of the original's networks (G, D), counted from the
# original code's layer shapes (docs/paper.md A.6).
DCGAN_32 = (4_514_819, 4_310_401)
DCGAN_64 = (5_135_363, 4_316_545)
WGANGP_64 = (8_540_483, 7_491_841)
WGANGP_32 = (2_005_155, 1_877_121)
# The project's variant: one critic value per sample, flatten 2*2*8w.
WGANGP_32_PER_SAMPLE = (2_005_155, 1_874_049)
BEGAN_64 = (1_716_611, 13_405_379)
LANGUAGE_V100 = (15_277_156, 13_180_417)

PAPER_FLAGFILES = {
  "svhn": DCGAN_32,
  "svhn_orig": DCGAN_32,
  "cifar10": DCGAN_32,
  "cifar10_orig": DCGAN_32,
  "celeba": DCGAN_64,
  "celeba_orig": DCGAN_64,
  "lsun_bedroom": DCGAN_64,
  "lsun_bedroom_orig": DCGAN_64,
  "cifar10_wgangp": WGANGP_32,
  "cifar10_wgangp_orig": WGANGP_32,
  "lsun_bedroom_wgangp": WGANGP_64,
  "lsun_bedroom_wgangp_orig": WGANGP_64,
  "celeba_began": BEGAN_64,
  "celeba_began_orig": BEGAN_64,
  "lsun_bedroom_began": BEGAN_64,
  "lsun_bedroom_began_orig": BEGAN_64,
  "lm1b": LANGUAGE_V100,
  "lm1b_orig": LANGUAGE_V100,
}
# Miyato et al. 2018's standard CNN (z 128, w 64), counted by hand from its
# Table 3 and the authors' code (BN over the 8,192 outputs of G's Linear):
# G 1,056,768 + 16,384 (BN) + 2,097,408 + 524,416 + 131,136 + 896 (BN) +
# 1,731; D 1,792 + 65,600 + 73,856 + 262,272 + 295,168 + 1,048,832 +
# 1,180,160 + 8,193 (the spectral norms' u vectors are not trained).
SNGAN_32 = (3_828_739, 2_935_873)
VARIANT_FLAGFILES = {
  "cifar10_wgangp_fixed": WGANGP_32_PER_SAMPLE,
  "cifar10_wgangp_fixed_orig": WGANGP_32_PER_SAMPLE,
  "cifar10_sngan": SNGAN_32,
  "cifar10_sngan_ttur": SNGAN_32,
}


def _config(name: str) -> Config:
  return Config.from_flagfile(os.path.join(REPO, "configs", f"{name}.flags"))


def _count(model: keras.Model) -> int:
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


@functools.cache
def _counts(model, image_size, width, z_dim, critic_flatten):
  config = Config.of(
    model=model,
    image_size=image_size,
    width=width,
    z_dim=z_dim,
    critic_flatten=critic_flatten,
  )
  size = 100 if model == "language" else image_size
  return (
    _count(builder.make_generator(config, size)),
    _count(builder.make_discriminator(config, size)),
  )


def test_every_paper_flagfile_is_pinned():
  named = {
    os.path.basename(p)[: -len(".flags")]
    for p in glob.glob(os.path.join(REPO, "configs", "*.flags"))
  }
  not_paper = {n for n in named if n.startswith(("demo", "smoke"))}
  assert named - not_paper == set(PAPER_FLAGFILES) | set(VARIANT_FLAGFILES)


@pytest.mark.parametrize(
  "name", sorted({**PAPER_FLAGFILES, **VARIANT_FLAGFILES})
)
def test_flagfile_builds_the_originals_parameter_counts(name):
  config = _config(name)
  expected = {**PAPER_FLAGFILES, **VARIANT_FLAGFILES}[name]
  network = config.network
  assert (
    _counts(
      network.model,
      config.data.image_size,
      network.width,
      network.z_dim,
      network.critic_flatten,
    )
    == expected
  )


@pytest.mark.parametrize("name", sorted(PAPER_FLAGFILES))
def test_paper_flagfiles_train_in_the_papers_arithmetic(name):
  config = _config(name).values()
  assert (config.precision, config.tf32, config.jit_compile) == (
    "float32",
    "false",
    "false",
  )
  if config.model == "wgan_gp" and config.image_size == 32:
    assert config.critic_flatten == "original" and config.width == 32


@pytest.mark.parametrize("name", ["cifar10_sngan", "cifar10_sngan_ttur"])
def test_sngan_flagfiles_train_in_float32(name):
  # Reduced precision is exact for the spectral norm itself
  # (tests/test_spectral_norm.py), but the paper trained in float32.
  config = _config(name).values()
  assert (config.precision, config.tf32, config.jit_compile) == (
    "float32",
    "false",
    "false",
  )


def test_demo_keeps_the_machines_choice():
  config = _config("demo")
  assert (config.runtime.precision, config.runtime.tf32) == ("auto", "auto")


# Where the paper puts each row's best FID, in generator updates: Table 1
# (docs/paper.md A.1) for DCGAN, Table A2 for the CIFAR-10 WGAN-GP rows
# (whose Table 1 column is minutes). The LSUN WGAN-GP, BEGAN and language
# rows give minutes or no final figure: not in this table.
PAPER_BEST_UPDATE = {
  "celeba": 225_000,
  "celeba_orig": 70_000,
  "cifar10": 75_000,
  "cifar10_orig": 100_000,
  "svhn": 165_000,
  "svhn_orig": 185_000,
  "lsun_bedroom": 340_000,
  "lsun_bedroom_orig": 70_000,
  "cifar10_wgangp": 168_000,
  "cifar10_wgangp_orig": 53_000,
}


@pytest.mark.parametrize("name", sorted(PAPER_BEST_UPDATE))
def test_paper_flagfiles_reach_the_papers_best_point(name):
  config = _config(name)
  every = config.evaluation.fid_every
  # An FID is taken at or after the paper's best update.
  assert (config.schedule.train_steps // every) * every >= (
    PAPER_BEST_UPDATE[name]
  ), name


def test_orig_wgangp_keeps_the_originals_cadence():
  # gan_64x64_FID.py's orig branch: an FID every 333 G updates (its
  # length, 25,009 iterations, stops before the paper's best point: the
  # CIFAR-10 flagfile trains 54,000, LSUN keeps the script's 25,008).
  for name in ("cifar10_wgangp_orig", "lsun_bedroom_wgangp_orig"):
    config = _config(name)
    assert config.evaluation.fid_every == 333
    assert config.schedule.train_steps % config.schedule.log_every == 0
    config.replace(fid_stats=None, fid_every=0).validate()


# Which z and which real batch each update sees.


class _Spy:
  """Stands in for a network inside GAN.train_step (run eagerly) and
  records what each call was given."""

  def __init__(self, network, calls):
    self.network = network
    self.calls = calls

  def __call__(self, x, training=False):
    self.calls.append(np.asarray(x))
    return self.network(x, training=training)

  def __getattr__(self, name):
    return getattr(self.network, name)


def _spied_step(model_name, n_critic, image_size=32, batch=4, **flags):
  config = Config.of(
    model=model_name,
    image_size=image_size,
    width=4,
    z_dim=8,
    n_critic=n_critic,
    batch_size=batch,
    **flags,
  )
  size = 20 if model_name == "language" else image_size
  model = builder.build_model(config, "float32", size=size)
  g_calls, d_calls = [], []
  generator = model.generator
  model.__dict__["generator"] = _Spy(generator, g_calls)
  model.__dict__["discriminator"] = _Spy(model.discriminator, d_calls)
  slices = model.real_batches
  shape = (
    (batch, slices, 32, size)
    if model_name == "language"
    else (batch, slices, image_size, image_size, 3)
  )
  rng = np.random.default_rng(0)
  real = rng.uniform(-1, 1, shape).astype(np.float32)
  z = rng.normal(size=(batch, model.z_columns, 8)).astype(np.float32)
  alpha = rng.uniform(size=(batch, slices)).astype(np.float32)
  model.train_step({"real": real, "z": z, "alpha": alpha})
  return model, generator, real, z, g_calls, d_calls


def _columns(calls, z):
  """The column of z each generator call was given."""
  found = []
  for seen in calls:
    matches = [c for c in range(z.shape[1]) if np.array_equal(seen, z[:, c])]
    assert len(matches) == 1
    found.append(matches[0])
  return found


def _real_columns(calls, real):
  return [
    c
    for seen in calls
    for c in range(real.shape[1])
    if seen.shape == real[:, c].shape and np.array_equal(seen, real[:, c])
  ]


@pytest.mark.parametrize("passes,calls", [(0, 2), (2, 3)])
def test_dcgan_generator_update_reuses_the_discriminators_z(passes, calls):
  # DCGAN_FID_batched feeds one batch_z to the D and the G update; with
  # --extra_g_passes (the paper flagfiles) G runs once more in training
  # mode on that z, for the averages its two loss evaluations moved.
  model, _, real, z, g_calls, d_calls = _spied_step(
    "dcgan", 1, extra_g_passes=passes
  )
  assert model.z_columns == 1
  assert _columns(g_calls, z) == [0] * calls
  assert _real_columns(d_calls, real) == [0]


@pytest.mark.slow
@pytest.mark.parametrize(
  "model_name,n_critic",
  [("wgan_gp", 1), ("wgan_gp", 5), ("language", 1), ("language", 2)],
)
def test_wgan_generator_update_draws_its_own_z(model_name, n_critic):
  # gan_64x64_FID.py / gan_language_JSD.py: the generator's train op draws
  # tf.random_normal itself; each critic iteration takes a new real batch.
  model, _, real, z, g_calls, d_calls = _spied_step(model_name, n_critic)
  assert model.z_columns == n_critic + 1
  assert _columns(g_calls, z) == list(range(n_critic + 1))
  assert _real_columns(d_calls, real) == list(range(n_critic))


def test_began_updates_from_one_batch_and_one_z():
  model, _, real, z, g_calls, d_calls = _spied_step("began", 1, image_size=64)
  assert model.z_columns == 1
  assert _columns(g_calls, z) == [0]
  assert _real_columns(d_calls, real) == [0]


def test_began_original_kt_comes_from_the_next_batch_and_z():
  # trainer_fid_batched.py's second session.run: the queue's next batch, a
  # new z, the weights after the update (docs/paper.md A.3.3).
  model, generator, real, z, g_calls, d_calls = _spied_step(
    "began", 1, image_size=64, kt_update="original"
  )
  assert (model.real_batches, model.z_columns) == (2, 2)
  assert _columns(g_calls, z) == [0, 1]
  assert _real_columns(d_calls, real) == [0, 1]
  fake = generator(z[:, 1], training=True)
  discriminator = model.discriminator.network
  loss_real = losses.l1_reconstruction(discriminator(real[:, 1]), real[:, 1])
  loss_fake = losses.l1_reconstruction(discriminator(fake), fake)
  expected = np.clip(0.001 * (0.5 * float(loss_real) - float(loss_fake)), 0, 1)
  np.testing.assert_allclose(float(model.k_t), expected, rtol=1e-5, atol=1e-9)


def test_only_the_paper_flagfiles_pay_for_the_originals_quirks():
  for name in PAPER_FLAGFILES:
    config = _config(name)
    family = config.network.model
    assert config.optimization.extra_g_passes == (
      2 if family == "dcgan" else 0
    ), name
    assert config.optimization.kt_update == (
      "original" if family == "began" else "step"
    ), name
  for name in ("demo", "demo_orig", "smoke"):
    optimization = _config(name).optimization
    assert (optimization.extra_g_passes, optimization.kt_update) == (
      0,
      "step",
    ), name
  assert (
    Config().optimization.extra_g_passes,
    Config().optimization.kt_update,
  ) == (0, "step")


def test_pipeline_gives_the_generator_a_z_of_its_own():
  real = tf.data.Dataset.from_tensors(tf.zeros((4, 2, 3))).repeat(2)
  batch = next(
    iter(noise_lib.attach_noise(real, 8, "normal", seed=0, extra_z=1))
  )
  assert batch["z"].shape == (4, 3, 8) and batch["alpha"].shape == (4, 2)
  z = batch["z"].numpy()
  assert not np.allclose(z[:, 2], z[:, 1])


def test_dcgan_batch_norm_averages_move_four_times_a_step():
  # The original's G batch norm (decay 0.9, updated in place) runs in
  # training mode in the D update, the G update and two loss evaluations:
  # with the batch statistics s before and s' after the G update, the
  # moving mean goes m -> 0.9^4 m + 0.1 (0.9^3 + 0.9^2) s + 0.19 s'.
  config = Config.of(
    model="dcgan",
    image_size=32,
    width=4,
    z_dim=8,
    batch_size=8,
    extra_g_passes=2,
  )
  model = builder.build_model(config, "float32")
  bn = model.generator.get_layer("g_bn0")
  head = keras.Model(model.generator.input, bn.input)
  z = np.random.default_rng(1).uniform(-1, 1, (8, 1, 8)).astype(np.float32)
  real = np.zeros((8, 1, 32, 32, 3), np.float32)
  before_mean = np.mean(head(z[:, 0]).numpy(), axis=(0, 1, 2))
  moving = bn.moving_mean.numpy().copy()
  model.train_step(
    {"real": real, "z": z, "alpha": np.zeros((8, 1), np.float32)}
  )
  after_mean = np.mean(head(z[:, 0]).numpy(), axis=(0, 1, 2))
  expected = (
    0.9**4 * moving + 0.1 * (0.9**3 + 0.9**2) * before_mean + 0.19 * after_mean
  )
  np.testing.assert_allclose(
    bn.moving_mean.numpy(), expected, rtol=1e-4, atol=1e-6
  )


@pytest.mark.parametrize("passes", [1, 2, 3])
def test_closed_form_passes_equal_real_passes(passes):
  # One pass and the closed form against `passes` real training-mode
  # passes, on the same weights and z: every batch-norm layer's moving mean
  # and variance.
  config = Config.of(model="dcgan", image_size=32, width=8, z_dim=16)
  real_passes = builder.make_generator(config, 32)
  closed_form = builder.make_generator(config, 32)
  rng = np.random.default_rng(3)
  for layer in gan_lib.batch_norm_layers(real_passes):
    # Averages away from their start, as after some training.
    layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
    layer.moving_variance.assign(
      rng.uniform(0.5, 2, size=layer.moving_variance.shape)
    )
  closed_form.set_weights(real_passes.get_weights())
  z = tf.constant(rng.uniform(-1, 1, (16, 16)), tf.float32)
  for _ in range(passes):
    real_passes(z, training=True)
  gan_lib.move_batch_norm_averages(closed_form, z, passes)
  layers = list(
    zip(
      gan_lib.batch_norm_layers(real_passes),
      gan_lib.batch_norm_layers(closed_form),
    )
  )
  assert len(layers) == 4
  for a, b in layers:
    np.testing.assert_allclose(
      b.moving_mean.numpy(), a.moving_mean.numpy(), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
      b.moving_variance.numpy(), a.moving_variance.numpy(), rtol=1e-6, atol=1e-6
    )


# The CIFAR-10 WGAN-GP critic: the original's reshape merges 4 samples.


def test_merged_flatten_critic_on_a_hand_computed_example():
  critic = wgangp_resnet.make_discriminator(
    32, width=2, seed=0, critic_flatten="original"
  )
  trunk = keras.Model(critic.input, critic.get_layer("d_merged_flatten").input)
  kernel, bias = critic.get_layer("d_output").get_weights()
  rng = np.random.default_rng(0)
  real = rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)
  fake = rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32)

  def by_hand(images):
    features = trunk(images).numpy().reshape(8, -1)  # [8, 2*2*16]
    rows = features.reshape(2, -1)  # Samples 0-3, 4-7.
    return rows @ kernel + bias, features

  real_rows, real_features = by_hand(real)
  fake_rows, _ = by_hand(fake)
  np.testing.assert_allclose(
    critic(real).numpy(), real_rows, rtol=1e-5, atol=1e-6
  )
  # The Wasserstein term over 2 values a side, not 8.
  expected = fake_rows.mean() - real_rows.mean()
  got = losses.wasserstein_d_loss(critic(real), critic(fake)).numpy()
  assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
  # ... which is 4 times the mean of the per-sample parts c_i = w_k . f_i
  # (k: the sample's place in its row) plus the bias: a 4-headed critic.
  heads = kernel.reshape(4, -1)
  parts = np.einsum("nf,nf->n", real_features, np.tile(heads, (2, 1)))
  assert real_rows.mean() == pytest.approx(4 * parts.mean() + bias[0], rel=1e-5)


def test_merged_flatten_gradient_penalty_is_per_sample():
  # Each sample's gradient is that of its own row's value: the penalty
  # stays a mean over the 8 samples.
  critic = wgangp_resnet.make_discriminator(
    32, width=2, seed=1, critic_flatten="original"
  )
  rng = np.random.default_rng(1)
  real = tf.constant(rng.uniform(-1, 1, (8, 32, 32, 3)), tf.float32)
  fake = tf.constant(rng.uniform(-1, 1, (8, 32, 32, 3)), tf.float32)
  alpha = tf.constant(rng.uniform(size=8), tf.float32)
  got = losses.gradient_penalty(critic, real, fake, alpha).numpy()
  x = real + tf.reshape(alpha, [8, 1, 1, 1]) * (fake - real)
  norms = []
  for row in range(2):
    with tf.GradientTape() as tape:
      tape.watch(x)
      value = critic(x)[row, 0]
    grads = tape.gradient(value, x).numpy().reshape(8, -1)
    norms += list(np.linalg.norm(grads[4 * row : 4 * row + 4], axis=1))
  assert got == pytest.approx(np.mean((np.array(norms) - 1) ** 2), rel=1e-4)


def test_merged_flatten_is_the_per_sample_network_at_64():
  for flatten in ("original", "per_sample"):
    critic = wgangp_resnet.make_discriminator(
      64, width=2, seed=0, critic_flatten=flatten
    )
    assert critic.output_shape == (None, 1)
    assert critic(np.zeros((3, 64, 64, 3), np.float32)).shape == (3, 1)


def test_merged_flatten_refuses_a_batch_it_cannot_split():
  from tf_ttur.errors import ConfigError

  config = _config("cifar10_wgangp").replace(fid_every=0, fid_stats=None)
  for bad in (
    config.replace(batch_size=66),
    config.replace(strategy="mirrored", cpu_replicas=2, batch_size=12),
  ):
    with pytest.raises(ConfigError, match="multiple of 4"):
      bad.validate()
  config.replace(batch_size=64, mode="dry_run").validate()
  config.replace(
    critic_flatten="per_sample", batch_size=66, mode="dry_run"
  ).validate()


# CelebA: all 202,599 images, TFDS's three splits.


def _split_aware(sizes):
  """A mock_data as_dataset_fn whose splits have the given sizes and which
  reads a+b expressions as TFDS does (the default mock ignores splits)."""

  def as_dataset(self, split, **kwargs):
    del kwargs
    names = str(split).split("+")
    count = sum(sizes[n] for n in names)
    del self
    # Aligned CelebA images are 218x178; only "image" is read.
    return tf.data.Dataset.range(count).map(
      lambda i: {"image": tf.fill((218, 178, 3), tf.cast(i, tf.uint8))}
    )

  return as_dataset


def test_celeba_trains_and_measures_all_three_splits(monkeypatch):
  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: True)
  sizes = {"train": 5, "validation": 3, "test": 2}
  with tfds.testing.mock_data(as_dataset_fn=_split_aware(sizes)):
    trained = sum(1 for _ in images.load_images("celeb_a", 64))
    source = sources.TfdsSource("tfds:celeb_a:train+validation+test")
    measured = sum(len(b) for b in source.batches(4))
  assert datasources.parse("celeb_a").split == "train+validation+test"
  assert trained == measured == 10


def test_other_paper_datasets_train_on_train():
  # CIFAR-10 50,000, SVHN 73,257 and LSUN Bedroom 3,033,042: TFDS's train.
  for name in ("cifar10", "svhn_cropped", "lsun/bedroom"):
    assert datasources.parse(name).split == "train"


def test_tf32_flag_sets_tensorflows_switch_and_auto_leaves_it():
  from tf_ttur import hardware
  from tf_ttur import runtime

  enabled = tf.config.experimental.tensor_float_32_execution_enabled
  previous = enabled()
  machine = hardware.detect()
  config = Config.of(
    workdir="/nonexistent/run", precision="float32", jit_compile="false"
  )
  try:
    runtime.resolve_runtime(config.replace(tf32="false"), machine)
    assert not enabled()
    runtime.resolve_runtime(config.replace(tf32="auto"), machine)
    assert not enabled()  # auto leaves whatever is set.
    runtime.resolve_runtime(config.replace(tf32="true"), machine)
    assert enabled()
  finally:
    tf.config.experimental.enable_tensor_float_32_execution(previous)
