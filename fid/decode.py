"""One image file or encoded image, decoded as TTUR's imageio did (Pillow,
RGB, uint8 [H, W, 3]); oversized images refused from their header alone;
the first file a failed pipeline could not decode, named."""

from __future__ import annotations

from collections.abc import Sequence
import os
import warnings

import numpy as np
from PIL import Image

from fid.datasources import SourceError

# Images with more pixels are refused before decoding (from the header
# alone): the FID network sees 299x299, and one 10000x10000 PNG of a few
# hundred KB decodes to 5.6 GB. Pillow itself only warns from 89.5M pixels.
# $FID_MAX_PIXELS raises or lowers it.
MAX_PIXELS = 4096 * 4096


def max_pixels() -> int:
  """MAX_PIXELS, or $FID_MAX_PIXELS when set; SourceError naming the
  variable when it is not a positive integer."""
  value = os.environ.get("FID_MAX_PIXELS")
  if value is None or value == "":
    return MAX_PIXELS
  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
  text = value.strip()
  if not (text.isascii() and text.isdigit()) or int(text) < 1:
    raise SourceError(
      f"FID_MAX_PIXELS={value!r}: not a positive integer "
      "(the most pixels an image may have; unset it for "
      f"{MAX_PIXELS:,})"
    )
  return int(text)


def check_pixels(path: str, width: int, height: int) -> None:
  """SourceError if an image of width x height (read from its header) is
  over max_pixels(): refused before it is decoded."""
  limit = max_pixels()
  if width * height > limit:
    raise SourceError(
      f"{path}: {width}x{height} pixels is over the limit of {limit:,} "
      "(set FID_MAX_PIXELS to allow larger images)"
    )


def read_image(path: str, notes: dict | None = None) -> np.ndarray:
  """float32 [H, W, 3] in [0, 255]; grayscale, RGBA, palette, 16-bit -> RGB.

  notes counts the images converted to RGB by their original mode.

  Raises:
    SourceError: unreadable, or over max_pixels() (checked on the header,
      before anything is decoded).
  """
  array, mode = decode_path(path)
  note_conversion(notes, mode)
  return array


def note_conversion(notes: dict | None, mode: str) -> None:
  """Counts an image converted to RGB from `mode` (notes: {mode: count})."""
  if mode != "RGB" and notes is not None:
    notes[mode] = notes.get(mode, 0) + 1


def open_image(path: str):
  """PIL's Image.open without its decompression-bomb warning: the images
  are held to max_pixels() (check_pixels) instead, from the header."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    return Image.open(path)


def decode_path(path: str) -> tuple[np.ndarray, str]:
  """read_image without the notes (safe in any thread): (array, mode)."""
  try:
    with open_image(path) as image:
      check_pixels(path, *image.size)
      image.load()
      mode = image.mode
      if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale: scale 0..65535 to 0..255, then to three channels.
        array = np.asarray(image, np.float32) / 257.0
        array = np.repeat(array[..., None], 3, axis=-1)
      else:
        if mode != "RGB":
          image = image.convert("RGB")
        array = np.asarray(image, np.float32)
  except SourceError:
    raise
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise SourceError(f"{path}: cannot read the image ({e})") from None
  if array.ndim != 3 or array.shape[-1] != 3 or 0 in array.shape:
    raise SourceError(f"{path}: unusable image shape {array.shape}")
  return array, mode


def decode_file(path):
  """One image file as training decodes it (tf.io.decode_image, 3
  channels, an animation's first frame): a string tensor -> uint8
  [H, W, 3]. The decode of every preprocessed image (preprocessed_batches
  and tf_ttur's folder:PATH datasets)."""
  import tensorflow as tf

  return decode_bytes(tf.io.read_file(path))


def decode_bytes(encoded):
  """The decode of encoded image bytes (a string tensor) -> uint8
  [H, W, 3]: decode_file's, and the LMDB's and CelebA zip's records'."""
  import tensorflow as tf

  image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
  return tf.ensure_shape(image, (None, None, 3))


def refuse_oversized(files: Sequence[str]) -> None:
  """SourceError naming the first image over max_pixels(), read from the
  headers (~50 us a file) before any is decoded: a 292 KB PNG of
  10000x10000 pixels decodes to gigabytes. A file whose header does not
  read is left to the decode, which names it (first_unreadable)."""
  for path in files:
    try:
      with open_image(path) as image:
        width, height = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
      continue
    check_pixels(path, width, height)


def first_unreadable(files: Sequence[str]) -> tuple[str, str] | None:
  """(file, one-line reason) of the first of `files` decode_file cannot
  decode, or None: tf.data's decode error does not name the file. Decodes
  file by file, so only called after a pipeline failed."""
  import re

  import tensorflow as tf

  for path in files:
    try:
      decode_file(tf.constant(path))
    except (
      tf.errors.InvalidArgumentError,
      tf.errors.DataLossError,
      tf.errors.NotFoundError,
      ValueError,
    ) as e:
      reason = e.message if hasattr(e, "message") else str(e)
      # "{{function_node ...}} Invalid PNG data, size 426 [Op:DecodeImage]"
      reason = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", reason).strip()
      return path, (reason.splitlines() or [type(e).__name__])[0]
  return None
