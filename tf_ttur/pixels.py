"""Generated images in [-1, 1] as the pixels files and servers hold.

One conversion for sample grids, the exported serving function and the
tests: round((x + 1) * 127.5) clipped to [0, 255] (docs/paper.md B.3 lists
the choices). The FID's own mapping is each family's (families.fid_pixels).
"""

from __future__ import annotations

import tensorflow as tf

# model.json's words for it.
DESCRIPTION = "uint8 round((x + 1) * 127.5) clipped to [0, 255]"


def to_uint8(images: tf.Tensor) -> tf.Tensor:
  """[-1, 1] (any float dtype) -> uint8 [0, 255]."""
  images = (tf.cast(images, tf.float32) + 1.0) * 127.5
  return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)
