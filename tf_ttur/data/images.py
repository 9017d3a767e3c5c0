"""Image datasets with the paper's preprocessing, as tf.data pipelines.

Each loader returns a dataset of uint8 images [size, size, 3]; `make_pipeline`
then shuffles, repeats, scales to [-1, 1], batches with drop_remainder and
prefetches. Which sources exist is fid.datasources' registry; images of a
path source (folder:, lmdb:, celeba:) are read by fid.sources.raw_images,
the reader `python -m fid` uses too.
"""

from __future__ import annotations

import contextlib
import io

from absl import logging
import tensorflow as tf
import tensorflow_datasets as tfds

from fid import datasources
from fid import decode
from fid import preprocess
from fid import quiet
from fid import sources
from tf_ttur.data import shapes
from tf_ttur.errors import DatasetError
from tf_ttur.errors import first_line


def prepare_shapes(data_dir: str | None) -> None:
  """Generates the offline `shapes` dataset into data_dir if not there yet:
  one line says so; TFDS's "Downloading and preparing dataset Unknown
  size" and its progress bars (it downloads nothing) are hidden unless
  --show_tf_logs."""
  builder = shapes.Shapes(data_dir=data_dir)
  if builder.is_prepared():
    return
  logging.info(
    "Generating the offline dataset shapes (%s + %s images, once) into %s",
    f"{shapes.NUM_TRAIN:,}",
    f"{shapes.NUM_TEST:,}",
    builder.data_dir,
  )
  if not quiet.libraries_hidden():
    builder.download_and_prepare()
    return
  tfds.display_progress_bar(False)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      builder.download_and_prepare()
  finally:
    tfds.display_progress_bar(True)


def _tfds_images(
  source: datasources.Source, data_dir: str | None, download: bool
) -> tf.data.Dataset:
  if source.name == "shapes":
    prepare_shapes(data_dir)
    download = False
  if download:
    # Offline, TFDS would retry its downloads for minutes: decide now.
    try:
      sources.tfds_builder(source.name, data_dir)
    except sources.SourceError as e:
      raise DatasetError(str(e)) from None
  try:
    ds = tfds.load(
      source.name,
      split=source.split,
      data_dir=data_dir,
      download=download,
      shuffle_files=True,
    )
  except Exception as e:  # noqa: BLE001 Network, missing files, manual-download datasets.
    raise DatasetError(
      f"cannot load the TFDS dataset {source.name!r} "
      f"({type(e).__name__}: {first_line(e)}). "
      "It is downloaded on first use; without internet, prepare it on a "
      "machine that has it and pass its folder as --data_dir."
    ) from None
  return ds.map(lambda ex: ex["image"], num_parallel_calls=tf.data.AUTOTUNE)


def list_image_files(folder: str) -> list[str]:
  """The image files of `folder` that training reads: those `python -m fid
  FOLDER` reads (fid.sources.list_images)."""
  try:
    return sources.list_images(folder)
  except sources.SourceError as e:
    raise DatasetError(str(e)) from None


def first_unreadable(folder: str) -> tuple[str, str] | None:
  """(file, one-line reason) of the first image in `folder` that does not
  decode (fid.decode.first_unreadable), for the error message after the
  pipeline failed."""
  return decode.first_unreadable(list_image_files(folder))


def load_images(
  name: str, image_size: int, data_dir: str | None = None, download: bool = True
) -> tf.data.Dataset:
  """A dataset of uint8 [image_size, image_size, 3] images, unbatched.

  Args:
    name: a source (fid.datasources): a bare name (`cifar10`, ...),
      tfds:NAME[:SPLIT], folder:PATH, lmdb:PATH or celeba:PATH.
    image_size: the side the model trains at.
    data_dir: TFDS data directory (None: the TFDS default).
    download: let TFDS download a dataset that is not prepared yet.

  Raises:
    DatasetError: an unknown name, a source that is not there.
  """
  try:
    source = datasources.parse(name)
  except datasources.SourceSpecError as e:
    raise DatasetError(str(e)) from None
  if source.kind.modality != datasources.IMAGES:
    raise DatasetError(f"{name}: not a source of images")
  if source.kind.name == "tfds":
    ds = _tfds_images(source, data_dir, download)
  else:
    try:  # A folder's images over the pixel limit are refused here too.
      ds = sources.raw_images(source)
    except sources.SourceError as e:
      raise DatasetError(str(e)) from None
  # fid.sources.source_batches and TfdsSource apply the same crop and
  # resize: reference statistics are of these images.
  crop = source.crop()
  return ds.map(
    lambda im: preprocess.crop_and_resize(im, crop, image_size),
    num_parallel_calls=tf.data.AUTOTUNE,
  )


def to_unit_range(images: tf.Tensor) -> tf.Tensor:
  """uint8 [0, 255] -> float32 [-1, 1], as x / 127.5 - 1 in the original."""
  return tf.cast(images, tf.float32) / 127.5 - 1.0


def make_pipeline(
  images: tf.data.Dataset,
  batch_size: int,
  seed: int,
  shuffle_buffer: int = 10_000,
  cache: bool = False,
  n_critic: int = 1,
) -> tf.data.Dataset:
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


def fits_in_memory(
  images: tf.data.Dataset, image_size: int, budget_mb: int
) -> bool:
  """Whether the uint8 images of `images` take at most budget_mb MB.

  At 64x64: SVHN 73,257 images 0.9 GB, CIFAR-10 50,000 0.6 GB, CelebA
  202,599 2.5 GB, LSUN Bedroom 3,033,042 37 GB; at 32x32 a quarter.
  """
  count = int(images.cardinality())
  if count < 0:  # Unknown or infinite.
    return False
  return count * image_size * image_size * 3 <= budget_mb * 2**20
