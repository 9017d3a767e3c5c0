"""Files of both packages: written whole or not at all, JSON read with one
error for every way it can be unreadable."""

from __future__ import annotations

import contextlib
import json
import os
import secrets

from fid.errors import first_line


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
  """Yields a temporary path beside `path` to write in any way; when the
  block ends without an exception it is renamed onto `path`, else removed.
  A kill or a full disk then leaves the old file or the new one, never a
  part. The temporary name is hidden, `.NAME.XXXXXXXX.tmp` + suffix (give
  the extension there for writers that infer the format from it); the
  writer creates it, so the file gets the usual permissions (umask), not
  mkstemp's owner-only ones."""
  directory = os.path.dirname(os.path.abspath(path))
  tmp = os.path.join(
    directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp{suffix}"
  )
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def atomic_write(path: str, data: str | bytes) -> None:
  """Writes text (UTF-8) or bytes to path through atomic_path."""
  with atomic_path(path) as tmp:
    if isinstance(data, str):
      with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
    else:
      with open(tmp, "wb") as f:
        f.write(data)


def read_json(path: str):
  """The JSON value in path, or None when there is no such file.

  Raises:
    ValueError: the file cannot be read or is not JSON; the message is the
      first line of the reason.
  """
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as e:
    raise ValueError(first_line(e)) from None


def free_name(path: str) -> str:
  """path itself if nothing is there, else the first of path-2, path-3,
  ... that is free: where a file is set aside without replacing one set
  aside before."""
  candidate, n = path, 1
  while os.path.lexists(candidate):
    n += 1
    candidate = f"{path}-{n}"
  return candidate


def saved_model_problem(path: str) -> str | None:
  """Why `path` is not a whole SavedModel folder, in a few words, or None.

  Checked before TensorFlow reads it: a folder whose variables/ was not
  copied loads as far as TensorFlow's checkpoint reader, whose error
  ("Unsuccessful TensorSliceReader constructor") and device advice say
  nothing of the cause. TensorFlow writes variables/ for every
  SavedModel, one with no variables included."""
  if not os.path.exists(path):
    return "no SavedModel there (no such folder)"
  if not os.path.isdir(path):
    return "no SavedModel there (a file, not a SavedModel's folder)"
  if not os.path.isfile(os.path.join(path, "saved_model.pb")):
    return "no SavedModel there (no saved_model.pb in the folder)"
  variables = os.path.join(path, "variables")
  index = os.path.join(variables, "variables.index")
  shards = os.listdir(variables) if os.path.isdir(variables) else []
  if not os.path.isfile(index) or not any(
    name.startswith("variables.data-") for name in shards
  ):
    return (
      "the SavedModel's variables/ folder is missing or incomplete "
      "(variables.index and variables.data-*): copy the whole folder"
    )
  return None


def format_bytes(count: int) -> str:
  """A byte count in the largest unit that keeps it at 1 or more (three
  significant digits): 0 bytes, 512 bytes, 3.50 KiB, 12.4 MiB, 1.20 GiB."""
  for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
    if count >= size:
      value = count / size
      decimals = max(0, 3 - len(str(int(value))))  # Three digits shown.
      return f"{value:,.{decimals}f} {unit}"
  return f"{count:,} bytes"
