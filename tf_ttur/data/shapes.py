"""`shapes`: an offline dataset of coloured geometric shapes, generated locally.

It is a real TFDS builder (`tfds.core.GeneratorBasedBuilder`) whose examples are
drawn by numpy from a fixed seed, so it goes through exactly the same `tfds`
path (download_and_prepare, TFRecord shards, `as_dataset`) as the paper's
datasets, but needs no network. Every example is a function of its index only,
so the dataset is bit-identical on every machine.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

CLASS_NAMES = ("circle", "square", "triangle", "diamond", "cross")
IMAGE_SIZE = 32
PALETTE = np.array(
  [
    [230, 40, 40],
    [40, 200, 60],
    [50, 90, 230],
    [240, 200, 40],
    [220, 60, 220],
    [40, 210, 220],
    [245, 245, 245],
    [245, 140, 30],
  ]
)
NUM_TRAIN = 12_000
NUM_TEST = 2_000
_SEED = 20171204  # NeurIPS 2017 opening day; any fixed value works.


def _coords(size: int) -> tuple[np.ndarray, np.ndarray]:
  # Pixel centres, so a shape of radius r covers the same area at any position.
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
  return yy, xx


def draw_shape(
  label: int, rng: np.random.Generator, size: int = IMAGE_SIZE
) -> np.ndarray:
  """Draws one anti-aliasing-free shape of class `label` on a flat background.

  Args:
    label: index into CLASS_NAMES.
    rng: the random generator that fixes colours, position, size and angle.
    size: side of the square image in pixels.

  Returns:
    uint8 array [size, size, 3].
  """
  # A dark background and a bright shape from a small palette: varied enough
  # to need a real generator, simple enough to learn in a CPU demo.
  background = rng.integers(0, 64, size=3)
  foreground = np.clip(
    PALETTE[rng.integers(0, len(PALETTE))] + rng.integers(-24, 25, size=3),
    0,
    255,
  )
  radius = rng.uniform(0.25, 0.42) * size
  cy, cx = rng.uniform(radius, size - radius, size=2)
  angle = rng.uniform(0.0, 2.0 * np.pi)
  yy, xx = _coords(size)
  dy, dx = yy - cy, xx - cx
  # Rotate the frame so squares, triangles and crosses appear at any angle.
  u = np.cos(angle) * dx + np.sin(angle) * dy
  v = -np.sin(angle) * dx + np.cos(angle) * dy
  name = CLASS_NAMES[label]
  if name == "circle":
    mask = u**2 + v**2 <= radius**2
  elif name == "square":
    half = radius / np.sqrt(2.0)
    mask = (np.abs(u) <= half) & (np.abs(v) <= half)
  elif name == "triangle":
    # Equilateral triangle inscribed in the circle of this radius.
    mask = (
      (v <= radius / 2.0)
      & (np.sqrt(3.0) * u - v <= radius)
      & (-np.sqrt(3.0) * u - v <= radius)
    )
  elif name == "diamond":
    mask = np.abs(u) + np.abs(v) <= radius
  elif name == "cross":
    arm = radius / 3.0
    mask = ((np.abs(u) <= arm) & (np.abs(v) <= radius)) | (
      (np.abs(v) <= arm) & (np.abs(u) <= radius)
    )
  else:
    raise ValueError(f"unknown shape class {label}")
  image = np.where(mask[..., None], foreground, background)
  return image.astype(np.uint8)


def make_example(index: int, split_offset: int = 0) -> tuple[np.ndarray, int]:
  """The example at `index`: its image and label depend on the index only."""
  rng = np.random.default_rng([_SEED, split_offset, index])
  label = int(rng.integers(0, len(CLASS_NAMES)))
  return draw_shape(label, rng), label


class Shapes(tfds.core.GeneratorBasedBuilder):
  """32x32 coloured geometric shapes with their class, generated locally."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
      description=__doc__,
      features=tfds.features.FeaturesDict(
        {
          "image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3)),
          "label": tfds.features.ClassLabel(names=CLASS_NAMES),
        }
      ),
      supervised_keys=("image", "label"),
      homepage="https://github.com/tf-ttur/tf-ttur",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the examples are drawn here.
    return {
      "train": self._generate_examples(NUM_TRAIN, 0),
      "test": self._generate_examples(NUM_TEST, 1),
    }

  def _generate_examples(self, num: int, split_offset: int):
    for index in range(num):
      image, label = make_example(index, split_offset)
      yield index, {"image": image, "label": label}
