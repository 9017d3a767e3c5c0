"""Where images come from: folders, .npy/.npz arrays, TFDS splits.

Every source becomes a list of "items" that `iter_batches` turns into
float32 batches [n, H, W, 3] in [0, 255], each batch of one image size (the
extractor resizes any size to 299 itself, so folders with mixed sizes work).
Image files are decoded with Pillow, as TTUR's imageio did.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import difflib
import os
import socket

import numpy as np

from fid import datasources
from fid import decode
from fid import preprocess
from fid import stats as stats_lib
from fid.errors import first_line

# A folder's image files and their listing, for `python -m fid` and for
# training's folder:PATH datasets alike (fid.datasources, the leaf).
IMAGE_EXTENSIONS = datasources.IMAGE_EXTENSIONS
SourceError = datasources.SourceError
list_images = datasources.list_images
TFDS_PREFIX = "tfds:"


def _crop_resize_batches(
  ds, crop: str, size: int, batch_size: int, failure
) -> Iterator[np.ndarray]:
  """uint8 batches [n, size, size, 3] of a dataset of uint8 images, each
  through preprocess.crop_and_resize, in order; a decode error becomes
  failure(error), a SourceError."""
  import tensorflow as tf

  ds = ds.map(
    lambda x: preprocess.crop_and_resize(x, crop, size),
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=True,
  )
  try:
    yield from ds.batch(batch_size).prefetch(2).as_numpy_iterator()
  except (
    tf.errors.InvalidArgumentError,
    tf.errors.DataLossError,
    tf.errors.NotFoundError,
  ) as e:
    raise failure(e) from None


def preprocessed_batches(
  images, crop: str, size: int, batch_size: int
) -> Iterator[np.ndarray]:
  """uint8 batches [n, size, size, 3] of image files (decoded by
  decode.decode_file) or of an image array (rounded and clipped to uint8, as
  training's images are), each through preprocess.crop_and_resize: what
  the training pipeline delivers from the same images, in their order.

  Raises:
    SourceError: an image that does not decode (named), or a file over
      max_pixels() (from its header, before anything is decoded).
  """
  import tensorflow as tf

  if isinstance(images, np.ndarray):
    array = images
    if not np.issubdtype(array.dtype, np.uint8):
      array = np.clip(np.round(array.astype(np.float64)), 0, 255)
    ds = tf.data.Dataset.from_tensor_slices(array.astype(np.uint8))
  else:
    decode.refuse_oversized(images)
    ds = tf.data.Dataset.from_tensor_slices(list(images)).map(
      decode.decode_file,
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True,
    )

  def failure(error):
    found = (
      None
      if isinstance(images, np.ndarray)
      else decode.first_unreadable(images)
    )
    if found is None:
      return SourceError(f"cannot preprocess the images ({first_line(error)})")
    return SourceError(f"{found[0]}: cannot read the image ({found[1]})")

  yield from _crop_resize_batches(ds, crop, size, batch_size, failure)


def raw_images(source):
  """A tf.data.Dataset of the uint8 [H, W, 3] images of a path source
  (fid.datasources: folder, lmdb, celeba), as stored, in a fixed order;
  training and `python -m fid` both read them here, then crop and resize
  (fid.preprocess.crop_and_resize with source.crop()).

  Raises:
    SourceError: a source that is not there or holds no image.
  """
  import tensorflow as tf

  kind = source.kind.name
  if kind == "folder":  # list_images names what is wrong with the folder.
    files = list_images(source.path)
    decode.refuse_oversized(files)
    return tf.data.Dataset.from_tensor_slices(files).map(
      decode.decode_file, num_parallel_calls=tf.data.AUTOTUNE
    )
  check = source.check()
  if not check.ready:
    raise SourceError(f"{source.spelling}: {check.detail}")
  if kind == "lmdb":
    encoded = tf.data.Dataset.from_generator(
      lambda: _lmdb_values(source.path),
      output_signature=tf.TensorSpec((), tf.string),
    )
  elif kind == "celeba" and os.path.isdir(source.path):
    files = tf.data.Dataset.from_tensor_slices(
      datasources.celeba_files(source.path)
    )
    return files.map(decode.decode_file, num_parallel_calls=tf.data.AUTOTUNE)
  elif kind == "celeba":
    encoded = tf.data.Dataset.from_generator(
      lambda: _zip_members(source.path),
      output_signature=tf.TensorSpec((), tf.string),
    )
  else:
    raise SourceError(f"{source.spelling}: not a source of image files")
  return encoded.map(decode.decode_bytes, num_parallel_calls=tf.data.AUTOTUNE)


def _lmdb_values(path: str) -> Iterator[bytes]:
  """The records of an LMDB in key order (LSUN: the encoded images)."""
  import lmdb

  env = lmdb.open(path, readonly=True, lock=False, readahead=False, subdir=True)
  try:
    with env.begin(buffers=False) as txn:
      for _, value in txn.cursor():
        yield value
  finally:
    env.close()


def _zip_members(path: str) -> Iterator[bytes]:
  import zipfile

  with zipfile.ZipFile(path) as archive:
    for name in datasources.celeba_files(path):
      yield archive.read(name)


def source_batches(
  source, image_size: int, batch_size: int, limit: int | None = None
) -> Iterator[np.ndarray]:
  """uint8 batches [n, image_size, image_size, 3] of a path source, each
  image as training delivers it (raw_images, then the source's crop and
  the resize)."""
  ds = raw_images(source)
  if limit is not None:
    ds = ds.take(limit)
  yield from _crop_resize_batches(
    ds,
    source.crop(),
    image_size,
    batch_size,
    lambda e: SourceError(
      f"{source.spelling}: an image does not decode ({first_line(e)})"
    ),
  )


def load_array(path: str) -> np.ndarray:
  """Images [N, H, W, 3] from a .npy, or from an .npz's single image array."""
  try:
    data = np.load(path, allow_pickle=False)
  except stats_lib.NPZ_READ_ERRORS as e:
    raise SourceError(f"{path}: not a readable .npy/.npz ({e})") from None
  if isinstance(data, np.lib.npyio.NpzFile):
    with data:
      try:  # Members are read here; a pickled one fails here.
        keys = [k for k in data.files if data[k].ndim == 4]
        if len(keys) == 1:
          array = data[keys[0]]
      except (ValueError, OSError) as e:
        raise SourceError(f"{path}: not a readable .npz ({e})") from None
      if len(keys) != 1:
        raise SourceError(
          f"{path}: expected 'mu' and 'sigma' (statistics) or one image "
          f"array [N, H, W, 3]; found keys {', '.join(data.files) or 'none'}"
        )
      data = array
  if data.ndim != 4 or data.shape[-1] != 3:
    raise SourceError(f"{path}: expected images [N, H, W, 3], got {data.shape}")
  if not (
    np.issubdtype(data.dtype, np.integer)
    or np.issubdtype(data.dtype, np.floating)
  ):
    raise SourceError(f"{path}: images must be numeric, got {data.dtype}")
  if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
    raise SourceError(f"{path}: images contain NaN or infinite values")
  return data


# TFDS fetches most datasets from its Google Cloud Storage mirror first.
DOWNLOAD_PROBE = ("storage.googleapis.com", 443)


def download_reachable(timeout: float = 3.0) -> bool:
  """Whether TFDS's download mirror answers within `timeout` seconds.

  Offline, TFDS itself retries each download for minutes before failing;
  this decides in seconds."""
  try:
    with socket.create_connection(DOWNLOAD_PROBE, timeout=timeout):
      return True
  except OSError:
    return False


def tfds_builder(name: str, data_dir: str | None = None):
  """The TFDS builder of `name`, ready to load or to download.

  Raises:
    SourceError: an unknown name (with the closest known names), or a
      dataset that is not prepared in data_dir while the download mirror
      cannot be reached (decided in seconds, not after TFDS's retries).
  """
  import tensorflow_datasets as tfds

  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    close = difflib.get_close_matches(
      name.split("/")[0], tfds.list_builders(), n=5, cutoff=0.6
    )
    raise SourceError(
      f"no TFDS dataset named {name!r}"
      + (f"; closest: {', '.join(close)}" if close else "")
    ) from None
  except Exception as e:  # noqa: BLE001 A bad config name, a damaged data_dir.
    raise SourceError(f"TFDS dataset {name!r}: {first_line(e)}") from None
  if not builder.is_prepared() and not download_reachable():
    raise SourceError(
      f"TFDS dataset {name!r} is not prepared in {builder.data_dir} and "
      "its download mirror cannot be reached (no internet?): prepare it on "
      "a machine with internet (tfds build "
      f"{name}) and pass that folder with --data_dir"
    )
  return builder


class TfdsSource:
  """A TFDS split given as tfds:NAME:SPLIT, streamed: decoded and
  preprocessed by tf.data in parallel, prefetched, never held whole.

  The images get the preprocessing of fid.preprocess.PAPER for NAME (what
  the training pipeline applies: CelebA's 108 center crop, LSUN's center
  square, both to 64x64), or with image_size the same crop rule at that
  size (or `crop` when given); a dataset not in PAPER is read as stored
  unless image_size is given (then center square and resize).
  """

  def __init__(
    self,
    spec: str,
    data_dir: str | None = None,
    image_size: int | None = None,
    crop: str | None = None,
  ):
    source = datasources.parse(spec)  # SourceSpecError names the spelling.
    self.name, self.split = source.name, source.split
    try:
      self._builder = tfds_builder(self.name, data_dir)
    except SourceError as e:
      raise SourceError(f"{spec}: {e}") from None
    rule = preprocess.PAPER.get(self.name)
    if image_size is not None:  # The registry's crop: the paper's, or square.
      rule = preprocess.Preprocessing(crop or source.crop(), image_size)
    self.preprocessing = rule
    self.spec = spec
    try:
      self._builder.download_and_prepare()
      self._dataset = self._builder.as_dataset(split=self.split)
    except Exception as e:  # No network, missing splits.  # noqa: BLE001
      raise SourceError(
        f"{spec}: cannot load from TFDS ({first_line(e)})"
      ) from None
    # The split's size from its metadata (a split expression such as
    # train+validation+test included; None where TFDS has none).
    try:
      self.count = int(self._builder.info.splits[self.split].num_examples)
    except Exception:  # Unprepared metadata, an unknown split.  # noqa: BLE001
      self.count = None

  def batches(
    self, batch_size: int, limit: int | None = None
  ) -> Iterator[np.ndarray]:
    """Batches [n, H, W, 3] (uint8); `limit` images at most."""
    import tensorflow as tf

    ds = self._dataset.map(
      lambda ex: ex["image"], num_parallel_calls=tf.data.AUTOTUNE
    )
    if limit is not None:
      ds = ds.take(limit)
    rule = self.preprocessing
    if rule is None:  # As stored: group by size, like folders.
      stored = ((np.asarray(x), "RGB") for x in ds.as_numpy_iterator())
      yield from _group(stored, batch_size, None)
      return
    ds = ds.map(
      lambda x: preprocess.crop_and_resize(x, rule.crop, rule.size),
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True,
    )
    count = 0
    for batch in (
      ds.batch(batch_size).prefetch(tf.data.AUTOTUNE).as_numpy_iterator()
    ):
      count += len(batch)
      yield batch
    if count == 0:
      raise SourceError(f"{self.spec}: the split is empty")


def default_workers() -> int:
  """Decoding threads: one per core, at least 2 and at most 16 (Pillow
  releases the GIL while it decodes)."""
  return max(2, min(16, os.cpu_count() or 2))


def decoded(
  paths: Sequence[str], workers: int | None = None, ahead: int = 256
) -> Iterator[tuple[np.ndarray, str]]:
  """(array, mode) of each path, in order, decoded by a thread pool that
  keeps at most `ahead` images decoded or in flight: memory does not grow
  with the number of images, and decoding goes on while the caller runs the
  network on the previous batch."""
  import collections
  from concurrent import futures

  workers = workers or default_workers()
  if workers == 1:
    for path in paths:
      yield decode.decode_path(path)
    return
  pending = collections.deque()
  with futures.ThreadPoolExecutor(workers, "fid-decode") as pool:
    try:
      for path in paths:
        pending.append(pool.submit(decode.decode_path, path))
        if len(pending) >= ahead:
          yield pending.popleft().result()
      while pending:
        yield pending.popleft().result()
    finally:  # An error or an abandoned generator: drop what is queued.
      for future in pending:
        future.cancel()


def iter_batches(
  items: Sequence,
  batch_size: int,
  notes: dict | None = None,
  workers: int | None = None,
) -> Iterator[np.ndarray]:
  """Batches of one image size from file paths or an image array.

  Files are decoded in parallel (`decoded`); the batches are the same, in
  the same order, as decoding one after the other (workers=1).
  """
  if isinstance(items, np.ndarray):
    for start in range(0, len(items), batch_size):
      yield items[start : start + batch_size].astype(np.float32)
    return
  yield from _group(
    decoded(items, workers, ahead=max(256, 2 * batch_size)), batch_size, notes
  )


def _group(
  images: Iterator[tuple[np.ndarray, str]], batch_size: int, notes: dict | None
) -> Iterator[np.ndarray]:
  """Batches of batch_size images of one size each, in order of completion;
  the partial batches of each size at the end."""
  pending: dict[tuple, list] = {}
  for image, mode in images:
    decode.note_conversion(notes, mode)
    group = pending.setdefault(image.shape, [])
    group.append(image)
    if len(group) == batch_size:
      yield np.stack(group)
      del pending[image.shape]
  for group in pending.values():
    yield np.stack(group)
