"""Image grids and atomic PNG writing."""

from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

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
    grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = image
  return grid


def write_png(image: np.ndarray, path: str) -> None:
  """Writes a uint8 [H, W, 3] image to path via a temporary name + rename."""
  data = tf.io.encode_png(tf.convert_to_tensor(image, tf.uint8)).numpy()
  tmp = f"{path}.tmp{os.getpid()}"
  try:
    with open(tmp, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except OSError as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise StorageError(f"cannot write {path}: {e.strerror or e}") from None
