"""Reproducible, distinct initializer seeds for the layers of a network."""

from __future__ import annotations


class Seeds:
  """Calling it gives the next layer's seed (None when seed is None).

  offset separates two networks built from the same seed (a generator and
  a discriminator with equal layer counts must not get equal weights).
  """

  def __init__(self, seed: int | None, offset: int = 0):
    self.seed, self.count = seed, offset

  def __call__(self) -> int | None:
    self.count += 1
    return None if self.seed is None else self.seed * 1000 + self.count
