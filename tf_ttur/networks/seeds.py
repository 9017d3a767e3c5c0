"""Reproducible, distinct initializer seeds for the layers of a network."""

from __future__ import annotations


class Seeds:
  """Calling it gives the next layer's seed (None when seed is None).

  offset separates two networks built from the same seed (a generator and
  a discriminator with equal layer counts must not get equal weights).
  The k-th call gives seed * scale + offset + k; DCGAN keeps the scale of
  100 it was first built with (its recorded figures start from those
  weights), the later families 1000.
  """

  def __init__(self, seed: int | None, offset: int = 0, scale: int = 1000):
    self.seed, self.count, self.scale = seed, offset, scale

  def __call__(self) -> int | None:
    self.count += 1
    return None if self.seed is None else self.seed * self.scale + self.count
