"""The registry of what --model trains: FAMILIES = {name: Family}, as data.

An entry is everything about a family: its networks, its loss, how it
updates, its noise, how its samples become FID pixels, the image sides it
is defined for, the TensorBoard tags of its losses, its batch-statistics
facts and its own configuration rule. Through its modality
(tf_ttur.modalities: images or text) it also says what it samples,
evaluates and serves. The builder (tf_ttur.builder), the summaries, export
and config read the entry; nothing branches on a family's name.

Adding a family (docs/design.md, "Add a family"): a module in
tf_ttur/networks with make_generator and discriminator_for, its loss in
tf_ttur.losses.LOSSES (if new), an entry here, a flagfile. The family
tests iterate over FAMILIES, so a missing piece fails a test.

Importing this module does not import TensorFlow: configuration checks use
it.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
from typing import Any

from tf_ttur import modalities
from tf_ttur.errors import ConfigError

CRITIC_FLATTENS = ("original", "per_sample")
# The original WGAN-GP critic's reshape of its last map: 4 * 4 * 8w values
# a row (docs/paper.md A.3.2).
ORIGINAL_FLATTEN_CELLS = 4 * 4


@dataclasses.dataclass(frozen=True, kw_only=True)
class Family:
  """One GAN family.

  Attributes:
    name: the --model value.
    networks: module of tf_ttur.networks with make_generator and
      discriminator_for.
    modality: tf_ttur.modalities.IMAGES or TEXT.
    image_sizes: the sides the family is defined for (images only).
    z_distribution: "uniform" (U(-1, 1)) or "normal" (N(0, I)).
    loss: key of tf_ttur.losses.LOSSES.
    fid_pixels: how the original mapped samples to [0, 255] for its FID:
      "float" ((x + 1) * 127.5, no rounding: DCGAN), "truncate" (then cast
      to uint8: WGAN-GP), "clip" (clipped to [0, 255]: BEGAN, SNGAN).
    tags: the TensorBoard tag of each loss value the train step logs
      (d_loss, g_loss and the loss's own metrics); every one needs an
      entry, None for a value another tag already shows.
    joint_update: D and G update from one forward pass (BEGAN), so
      --n_critic must be 1, there is no separate generator update for
      --extra_g_passes, and --kt_update applies.
    fresh_g_z: the generator update draws its own z (WGAN-GP, language:
      the original's generator op samples noise itself) instead of reusing
      the last discriminator update's (DCGAN feeds one z to both).
    batch_statistics: the generator normalizes with the batch's statistics
      when sampling too (WGAN-GP's, as the original sampled): each output
      depends on the other z of its call (model.json says so).
    generator_batch_norm: the generator has batch normalization, whose
      averages --extra_g_passes moves (a test builds each generator and
      holds this to it).
    check: the family's own rule on the flags (their values as
      attributes), raising ConfigError; None: none.
  """

  name: str
  networks: str
  modality: modalities.Modality
  image_sizes: tuple[int, ...]
  z_distribution: str
  loss: str
  fid_pixels: str
  tags: dict[str, str | None]
  joint_update: bool = False
  fresh_g_z: bool = False
  batch_statistics: bool = False
  generator_batch_norm: bool = True
  check: Callable[[Any], None] | None = None


def samples_per_critic_row(image_size: int, critic_flatten: str) -> int:
  """How many samples share one WGAN-GP critic value: 4 for the original's
  flatten at 32x32 (a 2x2 last map), else 1."""
  if critic_flatten not in CRITIC_FLATTENS:
    raise ValueError(
      f"critic_flatten must be one of {CRITIC_FLATTENS}, got {critic_flatten!r}"
    )
  cells = (image_size // 16) ** 2
  if critic_flatten == "per_sample" or cells >= ORIGINAL_FLATTEN_CELLS:
    return 1
  return ORIGINAL_FLATTEN_CELLS // cells


def _check_critic_rows(f) -> None:
  """The original's merged flatten (WGAN-GP, 32x32) needs each device's
  real and fake batches in whole rows of samples."""
  per_row = samples_per_critic_row(f.image_size, f.critic_flatten)
  per_device = f.batch_size // max(f.cpu_replicas, 1)
  if per_device % per_row:
    raise ConfigError(
      f"--critic_flatten=original merges {per_row} samples into each "
      f"critic value at --image_size={f.image_size}: the batch of "
      f"each device ({per_device}) must be a multiple of {per_row}"
    )


_WGAN_GP_TAGS = {
  "d_loss": "loss/critic_wasserstein_plus_gp",
  "g_loss": "loss/g_wasserstein",
  "wasserstein": "loss/wasserstein_estimate",
  "gp": "loss/gradient_penalty",
}

FAMILIES: dict[str, Family] = {
  family.name: family
  for family in (
    Family(
      name="dcgan",
      networks="dcgan",
      modality=modalities.IMAGES,
      image_sizes=(32, 64),
      z_distribution="uniform",
      loss="dcgan",
      fid_pixels="float",
      tags={"d_loss": "loss/d_bce", "g_loss": "loss/g_bce"},
    ),
    Family(
      name="wgan_gp",
      networks="wgangp_resnet",
      modality=modalities.IMAGES,
      image_sizes=(32, 64),
      z_distribution="normal",
      loss="wgan_gp",
      fid_pixels="truncate",
      tags=_WGAN_GP_TAGS,
      fresh_g_z=True,
      batch_statistics=True,
      check=_check_critic_rows,
    ),
    Family(
      name="began",
      networks="began",
      modality=modalities.IMAGES,
      image_sizes=(64,),
      z_distribution="uniform",
      loss="began",
      fid_pixels="clip",
      tags={
        "d_loss": "loss/d_l1_real_minus_kt_fake",
        "g_loss": "loss/g_l1_fake",
        "loss_real": "loss/l1_real",
        # The same value as g_loss: in metrics.jsonl only.
        "loss_fake": None,
        "k_t": "began/k_t",
        "m_global": "began/convergence_m_global",
      },
      joint_update=True,
      generator_batch_norm=False,
    ),
    Family(
      name="language",
      networks="language",
      modality=modalities.TEXT,
      image_sizes=(),
      z_distribution="normal",
      loss="wgan_gp",
      fid_pixels="none",
      tags=_WGAN_GP_TAGS,
      fresh_g_z=True,
      generator_batch_norm=False,
    ),
    # Miyato et al. 2018's standard CNN, hinge loss (networks/sngan.py).
    Family(
      name="sngan",
      networks="sngan",
      modality=modalities.IMAGES,
      image_sizes=(32,),
      z_distribution="normal",
      loss="hinge",
      fid_pixels="clip",
      tags={"d_loss": "loss/d_hinge", "g_loss": "loss/g_minus_d_fake"},
      fresh_g_z=True,
    ),
  )
}
