"""Network families: NETWORKS = {name: NetworkSpec}."""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras

from tf_ttur.networks import dcgan


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """A generator/discriminator pair and the noise it expects.

  Attributes:
    make_generator: (image_size, z_dim, width) -> keras.Model z -> [-1, 1].
    make_discriminator: (image_size, width) -> keras.Model image -> logit.
    image_sizes: the sides the family is defined for.
    z_distribution: "uniform" (U(-1, 1)) or "normal" (N(0, I)).
    loss: key of losses.LOSSES.
  """
  make_generator: Callable[[int, int, int], keras.Model]
  make_discriminator: Callable[[int, int], keras.Model]
  image_sizes: tuple[int, ...]
  z_distribution: str
  loss: str


NETWORKS: dict[str, NetworkSpec] = {
    "dcgan": NetworkSpec(dcgan.make_generator, dcgan.make_discriminator,
                         (32, 64), "uniform", "dcgan"),
}
