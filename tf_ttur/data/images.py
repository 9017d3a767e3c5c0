"""Image datasets with the paper's preprocessing, as tf.data pipelines.

Each loader returns a dataset of uint8 images [size, size, 3]; `make_pipeline`
then shuffles, repeats, scales to [-1, 1], batches with drop_remainder and
prefetches. Datasets are a plain dict registry (DATASETS) keyed by the names
used in the flags; `folder:PATH` reads a local folder of images.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from fid import preprocess
from fid import sources
from tf_ttur.data import FOLDER_PREFIX
from tf_ttur.data import IMAGE_DATASETS
from tf_ttur.data import shapes
from tf_ttur.errors import DatasetError
from tf_ttur.errors import first_line

# The same files `python -m fid FOLDER` reads.
IMAGE_EXTENSIONS = sources.IMAGE_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """How one named dataset is read and brought to the model's size.

  Attributes:
    tfds_name: the TFDS name (with config), or None for a folder.
    split: the TFDS split (expression) the paper trained on.
    native_size: the side the paper trained at.
    crop: "center108" (CelebA, docs/paper.md A.3.1), "square" (center square)
    or "none".
  """
  tfds_name: str | None
  split: str
  native_size: int
  crop: str


def _paper(name: str) -> DatasetSpec:
  # The split, crop and size are fid.preprocess's: the reference statistics
  # of `python -m fid tfds:NAME:SPLIT` see the same images as training.
  rule = preprocess.PAPER[name]
  return DatasetSpec(name, rule.split, rule.size, rule.crop)


DATASETS: dict[str, DatasetSpec] = {name: _paper(name)
                                    for name in IMAGE_DATASETS}


def prepare_shapes(data_dir: str | None) -> None:
  """Generates the offline `shapes` dataset into data_dir if not there yet."""
  builder = shapes.Shapes(data_dir=data_dir)
  builder.download_and_prepare()


def _tfds_images(spec: DatasetSpec, data_dir: str | None,
                 download: bool) -> tf.data.Dataset:
  if spec.tfds_name == "shapes":
    prepare_shapes(data_dir)
    download = False
  if download:
    # Offline, TFDS would retry its downloads for minutes: decide now.
    try:
      sources.tfds_builder(spec.tfds_name, data_dir)
    except sources.SourceError as e:
      raise DatasetError(str(e)) from None
  try:
    ds = tfds.load(spec.tfds_name, split=spec.split, data_dir=data_dir,
                   download=download, shuffle_files=True)
  except Exception as e:  # noqa: BLE001 Network, missing files, manual-download datasets.
    raise DatasetError(
        f"cannot load the TFDS dataset {spec.tfds_name!r} "
        f"({type(e).__name__}: {first_line(e)}). "
        "It is downloaded on first use; without internet, prepare it on a "
        "machine that has it and pass its folder as --data_dir.") from None
  return ds.map(lambda ex: ex["image"], num_parallel_calls=tf.data.AUTOTUNE)


def list_image_files(folder: str) -> list[str]:
  """Sorted image files directly inside `folder` (png, jpg, jpeg, bmp, gif)."""
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"image folder not found: {folder}")
  files = sorted(
      os.path.join(folder, f) for f in os.listdir(folder)
      if f.lower().endswith(IMAGE_EXTENSIONS))
  if not files:
    raise DatasetError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
  return files


def first_unreadable(folder: str) -> tuple[str, str] | None:
  """(file, one-line reason) of the first image in `folder` that does not
  decode (fid.sources.first_unreadable), for the error message after the
  pipeline failed."""
  return sources.first_unreadable(list_image_files(folder))


def _folder_images(folder: str) -> tf.data.Dataset:
  files = list_image_files(folder)
  _refuse_oversized(files)
  ds = tf.data.Dataset.from_tensor_slices(files)
  # fid.sources.decode_file: what `python -m fid FOLDER --image_size=N`
  # decodes, so its statistics are of these images.
  return ds.map(sources.decode_file, num_parallel_calls=tf.data.AUTOTUNE)


def _refuse_oversized(files: list[str]) -> None:
  """DatasetError naming the first image over the fid package's pixel limit
  (from the headers, ~50 us a file), before the pipeline decodes any: a
  292 KB PNG of 10000x10000 pixels decodes to gigabytes."""
  from PIL import Image
  for path in files:
    try:
      with sources.open_image(path) as image:
        size = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
      continue  # Named by first_unreadable if the pipeline fails on it.
    try:
      sources.check_pixels(path, *size)
    except sources.SourceError as e:
      raise DatasetError(str(e)) from None


def load_images(name: str, image_size: int, data_dir: str | None = None,
                download: bool = True) -> tf.data.Dataset:
  """A dataset of uint8 [image_size, image_size, 3] images, unbatched.

  Args:
    name: a key of DATASETS or "folder:PATH".
    image_size: the side the model trains at.
    data_dir: TFDS data directory (None: the TFDS default).
    download: let TFDS download a dataset that is not prepared yet.

  Raises:
    ValueError: for an unknown name.
  """
  if name.startswith(FOLDER_PREFIX):
    ds = _folder_images(name[len(FOLDER_PREFIX):])
    crop = preprocess.FOLDER_CROP
  elif name in DATASETS:
    spec = DATASETS[name]
    ds = _tfds_images(spec, data_dir, download)
    crop = spec.crop
  else:
    raise DatasetError(f"unknown dataset {name!r}; known: "
                     f"{', '.join(sorted(DATASETS))} or folder:PATH")
  return ds.map(lambda im: preprocess.crop_and_resize(im, crop, image_size),
                num_parallel_calls=tf.data.AUTOTUNE)


def to_unit_range(images: tf.Tensor) -> tf.Tensor:
  """uint8 [0, 255] -> float32 [-1, 1], as x / 127.5 - 1 in the original."""
  return tf.cast(images, tf.float32) / 127.5 - 1.0


def make_pipeline(images: tf.data.Dataset, batch_size: int, seed: int,
                  shuffle_buffer: int = 10_000, cache: bool = False,
                  n_critic: int = 1) -> tf.data.Dataset:
  """Shuffle, repeat, scale to [-1, 1], batch (drop_remainder), prefetch.

  Batches are [batch_size, n_critic, H, W, 3]: the i-th discriminator update
  of a step takes [:, i], so splitting the first axis across replicas keeps
  every update's examples the same as on one device.
  """
  ds = images
  if cache:
    # The decoded, cropped, resized uint8 images: later epochs skip decoding.
    ds = ds.cache()
  ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  ds = ds.repeat()
  ds = ds.batch(n_critic, drop_remainder=True)
  ds = ds.batch(batch_size, drop_remainder=True)
  # Scaled per batch (one op instead of one per image).
  ds = ds.map(to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)


def fits_in_memory(images: tf.data.Dataset, image_size: int,
                   budget_mb: int) -> bool:
  """Whether the uint8 images of `images` take at most budget_mb MB.

  At 64x64: SVHN 73,257 images 0.9 GB, CIFAR-10 50,000 0.6 GB, CelebA
  202,599 2.5 GB, LSUN Bedroom 3,033,042 37 GB; at 32x32 a quarter.
  """
  count = int(images.cardinality())
  if count < 0:  # Unknown or infinite.
    return False
  return count * image_size * image_size * 3 <= budget_mb * 2**20


