"""The paper's preprocessing of each dataset: the one function that both
the training pipeline (tf_ttur.data.images) and the reference statistics
(`python -m fid tfds:NAME:SPLIT`) apply, so that an FID compares generated
images with the images the model learned from.

CelebA: carpedm20's DCGAN center crop, 108x108 from the 178x218 aligned
image, then 64x64 (TTUR's fid_stats_celeba.npz was made so); LSUN Bedroom:
the center square, then 64x64; the 32x32 datasets as stored.
"""

from __future__ import annotations

import dataclasses

CROPS = ("none", "center108", "square")
# The crop of a folder of images (training's folder:PATH datasets, and
# `python -m fid FOLDER --image_size=N`): the center square.
FOLDER_CROP = "square"


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """crop: one of CROPS; size: the side the paper trained at; split: the
  TFDS split (expression) holding the images the paper trained on and
  made its statistics from."""

  crop: str
  size: int
  split: str = "train"


# The original's image counts (docs/paper.md A.6.1): SVHN 73,257 and
# CIFAR-10 50,000 are TFDS's `train`; CelebA is all 202,599 aligned images,
# TFDS's three splits together; LSUN Bedroom's 3,033,042 are TFDS's `train`.
CELEBA_ALL = "train+validation+test"
PAPER: dict[str, Preprocessing] = {
  "shapes": Preprocessing("none", 32),
  "svhn_cropped": Preprocessing("none", 32),
  "cifar10": Preprocessing("none", 32),
  "celeb_a": Preprocessing("center108", 64, CELEBA_ALL),
  "lsun/bedroom": Preprocessing("square", 64),
}


def crop_and_resize(image, crop: str, size: int):
  """uint8 [H, W, C] (any size; extra channels dropped) -> uint8
  [size, size, 3]: cropped as the paper's data was, then resized with
  antialiased bilinear (close to the PIL resize of the original scripts;
  docs/paper.md B.3: non-antialiased downsampling aliases), rounded and clipped.
  An image already size x size after the crop is kept as it is."""
  import tensorflow as tf

  if crop not in CROPS:
    raise ValueError(f"unknown crop {crop!r}; one of {', '.join(CROPS)}")
  image = image[..., :3]
  if crop == "center108":
    image = tf.image.resize_with_crop_or_pad(image, 108, 108)
  elif crop == "square":
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.resize_with_crop_or_pad(image, side, side)
  shape = tf.shape(image)

  def resize():
    resized = tf.image.resize(image, (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

  same = tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size))
  image = tf.cond(same, lambda: tf.cast(image, tf.uint8), resize)
  return tf.ensure_shape(image, (size, size, 3))
