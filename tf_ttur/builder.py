"""A family's GAN, built from the config: networks, loss, both Adams.

The one place that turns a tf_ttur.families entry into Keras objects
(training, export, benchmarks and tests all build here).
"""

from __future__ import annotations

import importlib

import keras

from tf_ttur import gan as gan_lib
from tf_ttur import losses
from tf_ttur import networks
from tf_ttur.config import Config


def _networks(config: Config):
  return importlib.import_module(f"tf_ttur.networks.{config.family.networks}")


def make_generator(config: Config, size: int) -> keras.Model:
  """z [B, z_dim] -> samples; size is the run data's (the image side or
  the vocabulary size, tf_ttur.rundata)."""
  network = config.network
  return _networks(config).make_generator(
    size, network.z_dim, network.width, seed=config.run.seed
  )


def make_discriminator(config: Config, size: int) -> keras.Model:
  return _networks(config).discriminator_for(config, size)


def build_model(
  config: Config,
  precision: str,
  size: int | None = None,
  jit_compile: bool = False,
  sync_batch_norm: bool = False,
) -> gan_lib.GAN:
  """The compiled GAN of `config` (both optimizers built).

  size: the run data's (tf_ttur.rundata); None for images means
  config.data.image_size, a text model needs its vocabulary's.
  sync_batch_norm makes batch norm use the global batch's statistics under
  a multi-replica strategy, so that the step equals the one-device step.
  """
  family, optimization = config.family, config.optimization
  if size is None:
    if family.image_sizes == ():
      raise ValueError(f"--model={family.name} needs its vocabulary's size")
    size = config.data.image_size
  with networks.dtype_policy(precision):
    generator = make_generator(config, size)
    discriminator = make_discriminator(config, size)
  if sync_batch_norm:
    for layer in generator.layers + discriminator.layers:
      if isinstance(layer, keras.layers.BatchNormalization):
        layer.synchronized = True
  model = gan_lib.GAN(
    generator,
    discriminator,
    loss=losses.LOSSES[family.loss],
    z_dim=config.network.z_dim,
    z_distribution=family.z_distribution,
    rule=gan_lib.UpdateRule(
      n_critic=optimization.n_critic,
      fresh_g_z=family.fresh_g_z,
      extra_g_passes=optimization.extra_g_passes,
      kt_next_batch=optimization.kt_update == "original",
    ),
    seed=config.run.seed,
  )
  adam = dict(
    beta_1=optimization.beta_1,
    beta_2=optimization.beta_2,
    epsilon=optimization.adam_epsilon,
    loss_scaling=precision == "mixed_float16",
    halve_every=optimization.lr_halve_every,
  )
  model.compile(
    d_optimizer=gan_lib.make_adam(optimization.d_lr, name="d_adam", **adam),
    g_optimizer=gan_lib.make_adam(optimization.g_lr, name="g_adam", **adam),
    jit_compile=jit_compile,
  )
  return model
