"""Getting the 2015 Inception graph: downloaded once with
keras.utils.get_file into a cache, or taken from a local .tgz or .pb; only
classify_image_graph_def.pb is kept, checked by size and MD5 and written
atomically."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile

from fid import files
from fid.errors import first_line

INCEPTION_URL = (
  "http://download.tensorflow.org/models/image/imagenet/"
  "inception-2015-12-05.tgz"
)
ARCHIVE_NAME = "inception-2015-12-05.tgz"
ARCHIVE_SIZE = 88_931_400
PB_NAME = "classify_image_graph_def.pb"
PB_SIZE = 95_673_916
# MD5 of the .pb as pinned by a public benchmark protocol (docs/paper.md
# B.1.1); the
# same file is served by OpenAI's guided-diffusion evaluator.
PB_MD5 = "e6bb154e85f5d4331c22abcddb5dcf31"
CACHE_ENV = "FID_CACHE_DIR"


class InceptionError(RuntimeError):
  """The Inception graph cannot be obtained or used; the message says how."""


def default_cache_dir() -> str:
  """$FID_CACHE_DIR or ~/.cache/tf_ttur_fid; InceptionError naming the
  variable when it names something that is not a folder."""
  value = os.environ.get(CACHE_ENV)
  if value and os.path.exists(value) and not os.path.isdir(value):
    raise InceptionError(
      f"{CACHE_ENV}={value}: not a folder (where the "
      "Inception graph is kept); point it at a folder"
    )
  return value or os.path.join(os.path.expanduser("~"), ".cache", "tf_ttur_fid")


_md5_cache: dict[tuple, str] = {}


def file_md5(path: str) -> str:
  """The MD5 of a file, read in 1 MB chunks, computed once per file
  version (path, size, modification time)."""
  stat = os.stat(path)
  key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
  if key not in _md5_cache:
    digest = hashlib.md5()
    with open(path, "rb") as f:
      for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
    _md5_cache[key] = digest.hexdigest()
  return _md5_cache[key]


def _copy_member(archive: str, out_path: str) -> None:
  try:
    with tarfile.open(archive, "r:gz") as tar:
      member = next(
        (
          m
          for m in tar.getmembers()
          if os.path.basename(m.name) == PB_NAME and m.isfile()
        ),
        None,
      )
      if member is None:
        raise InceptionError(f"{archive} holds no {PB_NAME}")
      with open(out_path, "wb") as out:
        shutil.copyfileobj(tar.extractfile(member), out)
  except (tarfile.TarError, OSError, EOFError) as e:
    raise InceptionError(f"{archive} is not a readable .tgz ({e})") from None


def extract_pb(
  archive: str,
  destination: str,
  md5: str | None = PB_MD5,
  size: int | None = PB_SIZE,
) -> str:
  """Extracts only classify_image_graph_def.pb from archive, checked,
  atomically."""
  try:
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    with files.atomic_path(destination) as tmp:
      _copy_member(archive, tmp)
      # Renamed into place only once checked.
      _check_pb(tmp, md5, size, what=f"{PB_NAME} in {archive}")
  except OSError as e:
    raise InceptionError(f"cannot write {destination}: {e}") from None
  return destination


_PINNED = "pinned"  # graph_problem's default: the module's PB_MD5, PB_SIZE.


def graph_problem(
  path: str,
  md5: str | None = _PINNED,
  size: int | None = _PINNED,
  what: str | None = None,
) -> str | None:
  """Why the file at `path` is not the 2015 graph (its size, then its
  MD5), or None. The one check of a cached graph: what `--mode=prepare`
  calls ok is what get_inception_graph uses."""
  what = what or path
  md5 = PB_MD5 if md5 == _PINNED else md5
  size = PB_SIZE if size == _PINNED else size
  actual_size = os.path.getsize(path)
  if size is not None and actual_size != size:
    return (
      f"{what} has {actual_size:,} bytes, expected {size:,}: not the "
      "2015-12-05 Inception graph"
    )
  actual_md5 = file_md5(path) if md5 is not None else None
  if md5 is not None and actual_md5 != md5:
    return (
      f"{what} has MD5 {actual_md5}, expected {md5}: not the "
      "2015-12-05 Inception graph"
    )
  return None


def _check_pb(path: str, md5: str | None, size: int | None, what: str) -> None:
  problem = graph_problem(path, md5, size, what)
  if problem:
    raise InceptionError(problem)


def _given_graph(
  path: str, cache_dir: str, md5: str | None, pb_size: int | None, flag: str
) -> str:
  """A local .pb (used as is) or .tgz (its .pb extracted into the cache,
  checked)."""
  if os.path.isdir(path):
    raise InceptionError(
      f"{flag}={path}: a folder; give the file itself "
      f"({PB_NAME} or {ARCHIVE_NAME})"
    )
  if not os.path.isfile(path):
    raise InceptionError(f"{flag}={path}: no such file")
  if path.endswith((".tgz", ".tar.gz")):
    return extract_pb(path, os.path.join(cache_dir, PB_NAME), md5, pb_size)
  return path


def _download_graph(
  cached: str,
  url: str,
  md5: str | None,
  sizes: tuple[int | None, int | None],
  flag: str,
  problem: str | None,
) -> str:
  """Downloads the archive with keras.utils.get_file into the cache
  folder of `cached`, checks its size (sizes: the .pb's, the archive's)
  and extracts the .pb to `cached`; only the .pb is kept. problem: why a
  cached .pb was not used, said first where the download fails."""
  pb_size, archive_size = sizes
  cache_dir = os.path.dirname(cached)
  import keras

  # get_file silently falls back to /tmp/.keras when cache_dir is missing.
  os.makedirs(cache_dir, exist_ok=True)
  try:
    archive = keras.utils.get_file(
      ARCHIVE_NAME, origin=url, cache_dir=cache_dir, cache_subdir="."
    )
  except Exception as e:  # noqa: BLE001 get_file raises plain Exception on URL errors.
    raise InceptionError(
      (f"{problem}; " if problem else "")
      + f"cannot download the Inception graph from {url} "
      f"({first_line(e)}). Download it elsewhere and put {ARCHIVE_NAME} "
      f"or {PB_NAME} into {cache_dir} (or set ${CACHE_ENV}), or pass "
      f"{flag}=PATH."
    ) from None
  try:
    if archive_size is not None and os.path.getsize(archive) != archive_size:
      raise InceptionError(
        f"{url} gave {os.path.getsize(archive)} bytes, expected "
        f"{archive_size}; the partial or wrong file was removed"
      )
    return extract_pb(archive, cached, md5, pb_size)
  finally:
    if os.path.exists(archive):
      os.remove(archive)  # Only the .pb is kept.


def get_inception_graph(
  path: str | None = None,
  cache_dir: str | None = None,
  url: str = INCEPTION_URL,
  md5: str | None = PB_MD5,
  pb_size: int | None = PB_SIZE,
  archive_size: int | None = ARCHIVE_SIZE,
  flag: str = "--inception",
) -> str:
  """The path of classify_image_graph_def.pb, downloading it if needed.

  Args:
    path: a local .pb (used as is) or .tgz (the .pb is extracted into the
      cache); None to use the cache, downloading into it on first use.
    cache_dir: where the .pb is kept (default: $FID_CACHE_DIR or
      ~/.cache/tf_ttur_fid).
    url: where the archive is downloaded from.
    md5, pb_size, archive_size: the checks of the extracted .pb and the
      archive; the defaults are the real files' (docs/paper.md B.1.1).
      A cached .pb that fails them is replaced by a new download.
    flag: the caller's name for `path`, in messages (`--fid_inception`
      for the trainer).

  Raises:
    InceptionError: with the URL and the place to put the file, when it
      cannot be downloaded, or when a file fails its checks.
  """
  cache_dir = cache_dir or default_cache_dir()
  if os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
    raise InceptionError(
      f"--cache_dir={cache_dir}: a file, not a folder "
      "(where the Inception graph is kept)"
    )
  if path is not None:
    return _given_graph(path, cache_dir, md5, pb_size, flag)
  cached = os.path.join(cache_dir, PB_NAME)
  problem = (
    graph_problem(cached, md5, pb_size) if os.path.isfile(cached) else None
  )
  if os.path.isfile(cached) and problem is None:
    return cached
  return _download_graph(
    cached, url, md5, (pb_size, archive_size), flag, problem
  )
