"""Network families: NETWORKS = {name: NetworkSpec}."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable

import keras

from tf_ttur.networks import began
from tf_ttur.networks import dcgan
from tf_ttur.networks import language
from tf_ttur.networks import wgangp_resnet


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """A generator/discriminator pair and how it is trained and sampled.

  Attributes:
    make_generator: (image_size, z_dim, width, seed) -> z -> images.
    make_discriminator: (image_size, width, z_dim, seed) -> images -> output.
    image_sizes: the sides the family is defined for.
    z_distribution: "uniform" (U(-1, 1)) or "normal" (N(0, I)).
    loss: key of losses.LOSSES.
    fid_pixels: how the original mapped samples to [0, 255] for its FID:
      "float" ((x + 1) * 127.5, no rounding: DCGAN), "truncate" (then cast
      to uint8: WGAN-GP), "clip" (clipped to [0, 255]: BEGAN).
    kind: "image", or "text" (the first argument of both builders is then
      the vocabulary size instead of the image side).
  """
  make_generator: Callable[..., keras.Model]
  make_discriminator: Callable[..., keras.Model]
  image_sizes: tuple[int, ...]
  z_distribution: str
  loss: str
  fid_pixels: str
  kind: str = "image"


NETWORKS: dict[str, NetworkSpec] = {
    "dcgan": NetworkSpec(
        dcgan.make_generator,
        lambda size, width, z_dim, seed=None: dcgan.make_discriminator(
            size, width, seed=seed),
        (32, 64), "uniform", "dcgan", "float"),
    "wgan_gp": NetworkSpec(
        wgangp_resnet.make_generator,
        lambda size, width, z_dim, seed=None: wgangp_resnet.make_discriminator(
            size, width, seed=seed),
        (32, 64), "normal", "wgan_gp", "truncate"),
    "began": NetworkSpec(
        began.make_generator,
        lambda size, width, z_dim, seed=None: began.make_discriminator(
            size, width, seed=seed, z_dim=z_dim),
        (64,), "uniform", "began", "clip"),
    "language": NetworkSpec(
        language.make_generator,
        lambda vocab, width, z_dim, seed=None: language.make_discriminator(
            vocab, width, seed=seed),
        (), "normal", "wgan_gp", "none", kind="text"),
}


@contextlib.contextmanager
def dtype_policy(name: str):
  """Sets the global Keras dtype policy for the networks built inside."""
  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy(previous)
