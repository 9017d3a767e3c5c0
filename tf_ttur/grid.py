"""Image grids and atomic PNG writing."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from fid.files import atomic_write
from tf_ttur.errors import StorageError


def make_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
  """Tiles uint8 images [N, H, W, 3] into one [rows*H, columns*W, 3] image."""
  images = np.asarray(images)
  n, h, w, c = images.shape
  columns = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / columns)
  grid = np.zeros((rows * h, columns * w, c), dtype=images.dtype)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = image
  return grid


def write_png(image: np.ndarray, path: str) -> None:
  """Writes a uint8 [H, W, 3] image to path, whole or not at all."""
  data = tf.io.encode_png(tf.convert_to_tensor(image, tf.uint8)).numpy()
  try:
    atomic_write(path, data)
  except OSError as e:
    raise StorageError(f"cannot write {path}: {e.strerror or e}") from None
