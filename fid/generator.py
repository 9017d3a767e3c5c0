"""Images straight from a generator: no PNG is written or read.

`generated_batches` draws z with numpy from a seed, calls the generator in
chunks and yields extractor batches; the FID during training
(tf_ttur.evaluators) and `python -m fid savedmodel:DIR` both go through it.
`SavedModelGenerator` is the exported generator of tf_ttur (or any
SavedModel whose `serving_default` maps float32 `z` [n, d] to uint8 or
[0, 255] float `images`), described by its `assets/model.json`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import os

import numpy as np

from fid import files
from fid.errors import first_line

SAVEDMODEL_PREFIX = "savedmodel:"
MODEL_INFO = os.path.join("assets", "model.json")
DEFAULT_NUM = 50_000
# How many samples one generator call makes (the original FID code
# generated 1000 at a time; WGAN-GP's batch statistics depend on it).
GENERATION_BATCH = 1000


class GeneratorError(ValueError):
  """A generator that cannot be sampled; the message says why."""


def draw_z(
  rng: np.random.Generator, num: int, z_dim: int, distribution: str
) -> np.ndarray:
  """float32 z [num, z_dim] from numpy: U(-1, 1) or N(0, I)."""
  shape = (num, z_dim)
  if distribution == "uniform":
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
  if distribution == "normal":
    return rng.standard_normal(shape).astype(np.float32)
  raise GeneratorError(
    f"unknown z distribution {distribution!r} (uniform or normal)"
  )


def generated_batches(
  generate: Callable[[np.ndarray], np.ndarray],
  num: int,
  z_dim: int,
  distribution: str,
  seed,
  batch_size: int,
  generation_batch: int = GENERATION_BATCH,
  to_pixels: Callable | None = None,
) -> Iterator[np.ndarray]:
  """Extractor batches [<= batch_size, H, W, 3] of `num` generated images.

  generate: z [n, z_dim] -> images (uint8, or anything to_pixels maps to
  [0, 255]); called with at most generation_batch rows at a time. seed: an
  int or a sequence of ints for np.random.default_rng; the same seed gives
  the same z, whatever batch_size.
  """
  if num < 1:
    raise GeneratorError(f"the number of samples must be positive, got {num}")
  rng = np.random.default_rng(seed)
  remaining = num
  while remaining > 0:
    n = min(generation_batch, remaining)
    remaining -= n
    images = generate(draw_z(rng, n, z_dim, distribution))
    images = np.asarray(images)
    if to_pixels is not None:
      images = to_pixels(images)
    if images.shape[0] != n or images.ndim != 4 or images.shape[-1] != 3:
      raise GeneratorError(
        f"the generator gave {images.shape} for {n} z; "
        "expected images [n, H, W, 3]"
      )
    for start in range(0, n, batch_size):
      yield images[start : start + batch_size]


def read_model_info(path: str) -> dict | None:
  """assets/model.json of an exported generator (tf_ttur writes it), or
  None when there is none (an export of an earlier version, or another
  SavedModel); GeneratorError when it is there but unusable."""
  info_path = os.path.join(path, MODEL_INFO)
  try:
    info = files.read_json(info_path)
  except ValueError as e:
    raise GeneratorError(f"{info_path} cannot be read: {e}") from None
  if info is None:
    return None
  if not isinstance(info, dict) or "kind" not in info:
    raise GeneratorError(
      f"{info_path} is not the model description of a tf_ttur generator"
    )
  return info


class SavedModelGenerator:
  """An exported generator: z -> uint8 images through `serving_default`.

  Attributes: z_dim, z_distribution (from assets/model.json), info (all of
  it), path.
  """

  def __init__(self, path: str):
    problem = files.saved_model_problem(path)
    if problem:
      raise GeneratorError(f"{path}: {problem}")
    info_path = os.path.join(path, MODEL_INFO)
    self.info = read_model_info(path)
    if self.info is None:
      raise GeneratorError(
        f"{path}: no {MODEL_INFO}, so the z dimension and distribution are "
        "unknown (re-export it with python -m tf_ttur.main --mode=export)"
      )
    if self.info["kind"] != "image":
      raise GeneratorError(
        f"{path}: not an image generator (model.json "
        f"kind: {self.info['kind']!r})"
      )
    try:
      self.z_dim = int(self.info["z_dim"])
      self.z_distribution = str(self.info["z_distribution"])
    except (KeyError, TypeError, ValueError):
      raise GeneratorError(
        f"{info_path}: no usable z_dim and z_distribution"
      ) from None
    import tensorflow as tf

    self.path = path
    self._tf = tf
    try:
      self._module = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as e:
      raise GeneratorError(
        f"{path}: cannot load the SavedModel ({first_line(e)})"
      ) from None
    if "serving_default" not in self._module.signatures:
      raise GeneratorError(f"{path}: no serving_default signature")
    self._serve = self._module.signatures["serving_default"]

  def __call__(self, z: np.ndarray) -> np.ndarray:
    out = self._serve(z=self._tf.constant(z, self._tf.float32))
    return out["images"].numpy()

  def batches(self, num: int, seed, batch_size: int) -> Iterator[np.ndarray]:
    return generated_batches(
      self, num, self.z_dim, self.z_distribution, seed, batch_size
    )
