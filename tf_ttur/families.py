"""The registry of what --model trains: FAMILIES = {name: Family}, as data.

An entry carries everything that differs between families (networks, loss,
noise, the FID's pixel mapping, image sides) and, through its modality
(tf_ttur.modalities: images or text), everything that differs between
images and text. tf_ttur.builder builds an entry's GAN; the rest of the
package asks the entry and has no branch of its own on a family.

Importing this module does not import TensorFlow: configuration checks use
it.
"""

from __future__ import annotations

import dataclasses

from tf_ttur import modalities


@dataclasses.dataclass(frozen=True)
class Family:
  """One GAN family of the paper.

  Attributes:
    name: the --model value.
    networks: module of tf_ttur.networks with make_generator and
      discriminator_for.
    modality: tf_ttur.modalities.IMAGES or TEXT.
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
  """
  name: str
  networks: str
  modality: modalities.Modality
  image_sizes: tuple[int, ...]
  z_distribution: str
  loss: str
  fid_pixels: str
  joint_update: bool = False
  fresh_g_z: bool = False


FAMILIES: dict[str, Family] = {
    family.name: family for family in (
        Family("dcgan", "dcgan", modalities.IMAGES, (32, 64), "uniform",
               "dcgan", "float"),
        Family("wgan_gp", "wgangp_resnet", modalities.IMAGES, (32, 64),
               "normal", "wgan_gp", "truncate", fresh_g_z=True),
        Family("began", "began", modalities.IMAGES, (64,), "uniform",
               "began", "clip", joint_update=True),
        Family("language", "language", modalities.TEXT, (), "normal",
               "wgan_gp", "none", fresh_g_z=True),
    )
}
