"""The registry of what --model trains: FAMILIES = {name: Family}.

An entry carries everything that differs between families (networks, loss,
noise, the FID's pixel mapping, image sides) and, through its modality
(tf_ttur.modalities: images or text), everything that differs between
images and text (datasets, checks, data, samples, evaluators, the exported
signature). The rest of the package asks the entry and has no branch of its
own on a family or a modality.

Importing this module does not import TensorFlow: configuration checks use
it; the networks are imported when a model is built.
"""

from __future__ import annotations

import dataclasses
import importlib

from tf_ttur import modalities


@dataclasses.dataclass(frozen=True)
class Family:
  """One GAN family of the paper.

  Attributes:
    name: the --model value.
    networks: module of tf_ttur.networks with make_generator and
      discriminator_for.
    modality: tf_ttur.modalities.Images or Text.
    image_sizes: the sides the family is defined for (images only).
    z_distribution: "uniform" (U(-1, 1)) or "normal" (N(0, I)).
    loss: key of losses.LOSSES.
    fid_pixels: how the original mapped samples to [0, 255] for its FID:
      "float" ((x + 1) * 127.5, no rounding: DCGAN), "truncate" (then cast
      to uint8: WGAN-GP), "clip" (clipped to [0, 255]: BEGAN).
    joint_update: D and G update from one forward pass (BEGAN), so
      --n_critic must be 1.
    fresh_g_z: the generator update draws its own z (WGAN-GP, language:
      the original's generator op samples noise itself) instead of reusing
      the last discriminator update's (DCGAN feeds one z to both).
    extra_g_passes: training-mode generator passes after its update that
      move its batch-norm averages (DCGAN: the original's two loss
      evaluations for logging, docs/paper.md A.3.1).
  """
  name: str
  networks: str
  modality: type
  image_sizes: tuple[int, ...]
  z_distribution: str
  loss: str
  fid_pixels: str
  joint_update: bool = False
  fresh_g_z: bool = False
  extra_g_passes: int = 0

  def _module(self):
    return importlib.import_module(f"tf_ttur.networks.{self.networks}")

  def make_generator(self, config, size: int):
    """z [B, z_dim] -> samples; size is the run data's (the image side or
    the vocabulary size, tf_ttur.modalities)."""
    return self._module().make_generator(size, config.z_dim, config.width,
                                         seed=config.seed)

  def make_discriminator(self, config, size: int):
    return self._module().discriminator_for(config, size)


FAMILIES: dict[str, Family] = {
    family.name: family for family in (
        Family("dcgan", "dcgan", modalities.Images, (32, 64), "uniform",
               "dcgan", "float", extra_g_passes=2),
        Family("wgan_gp", "wgangp_resnet", modalities.Images, (32, 64),
               "normal", "wgan_gp", "truncate", fresh_g_z=True),
        Family("began", "began", modalities.Images, (64,), "uniform",
               "began", "clip", joint_update=True),
        Family("language", "language", modalities.Text, (), "normal",
               "wgan_gp", "none", fresh_g_z=True),
    )
}


def family_of(config) -> Family:
  return FAMILIES[config.model]


def build_model(config, precision: str, size: int | None = None,
                jit_compile: bool = False, sync_batch_norm: bool = False):
  """The compiled GAN of `config` (both optimizers built).

  size: the run data's (tf_ttur.modalities); None for images means
  config.image_size, a text model needs its vocabulary's. sync_batch_norm makes
  batch norm use
  the global batch's statistics under a multi-replica strategy, so that the
  step equals the one-device step.
  """
  import keras

  from tf_ttur import gan as gan_lib
  from tf_ttur import networks
  family = family_of(config)
  if size is None:
    size = family.modality.size_of(config)
  with networks.dtype_policy(precision):
    generator = family.make_generator(config, size)
    discriminator = family.make_discriminator(config, size)
  if sync_batch_norm:
    for layer in generator.layers + discriminator.layers:
      if isinstance(layer, keras.layers.BatchNormalization):
        layer.synchronized = True
  model = gan_lib.GAN(generator, discriminator, loss=family.loss,
                      z_dim=config.z_dim,
                      z_distribution=family.z_distribution,
                      n_critic=config.n_critic, seed=config.seed,
                      fresh_g_z=family.fresh_g_z,
                      extra_g_passes=family.extra_g_passes)
  adam = dict(beta_1=config.beta_1, beta_2=config.beta_2,
              epsilon=config.adam_epsilon,
              loss_scaling=precision == "mixed_float16",
              halve_every=config.lr_halve_every)
  model.compile(
      d_optimizer=gan_lib.make_adam(config.d_lr, name="d_adam", **adam),
      g_optimizer=gan_lib.make_adam(config.g_lr, name="g_adam", **adam),
      jit_compile=jit_compile)
  return model
