"""Where images and text come from: one registry of source kinds, without
TensorFlow, shared by training (`--dataset`), `python -m fid`, `--mode=
prepare` and the statistics' provenance.

One spelling per source:

    tfds:NAME[:SPLIT]  a TFDS dataset (training's bare names, `cifar10`,
                       `celeb_a`, ..., are tfds:NAME with the paper's split)
    folder:PATH        a folder of image files
    lmdb:PATH          an LMDB of encoded images, as LSUN exports them
                       (bedroom_train_lmdb/: data.mdb + lock.mdb)
    celeba:PATH        CelebA's aligned images, img_align_celeba/ or
                       img_align_celeba.zip: all 202,599, as TFDS's celeb_a
    textfile:PATH      a text file, one example per line

Each kind (KINDS) says what it holds, how it is cropped before the resize
to the training size, the size `python -m fid` brings it to by default,
how it is checked (`check`, without TensorFlow) and what a statistics file
made from it records (`Source.provenance`). Its images are read by
fid.sources.raw_images (TensorFlow), the same function for training and
for `python -m fid`, so reference statistics are made from the images
training sees. A new kind: its entry here and its reader there
(docs/design.md).
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import os
import zipfile

from fid import preprocess

IMAGES, TEXT = "images", "text"

# Training's bare dataset names (the paper's datasets and the offline
# ones): each parses as tfds:NAME with the split of fid.preprocess.PAPER
# (images) or `train` (lm1b). `english` is the exception: a corpus shipped
# with tf_ttur (tf_ttur.data.text reads it), parsed under the tfds kind
# only so that its name has one place.
BARE_IMAGES = tuple(preprocess.PAPER)
BARE_TEXT = ("english", "lm1b")

# CelebA's aligned images (TFDS celeb_a's img_align_celeba.zip).
CELEBA_FOLDER = "img_align_celeba"
CELEBA_COUNT = 202_599


class SourceError(ValueError):
  """An input that cannot be read as images; the message names the file."""


class SourceSpecError(SourceError):
  """A source spelled wrongly; the message names it."""


# The image files of a folder, for `python -m fid` and for training's
# folder:PATH datasets alike.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def list_images(folder: str, recursive: bool = False) -> list[str]:
  """Sorted image files in folder (IMAGE_EXTENSIONS, any case)."""
  if not os.path.isdir(folder):
    raise SourceError(f"{folder}: not a folder")
  files = []
  if recursive:
    # followlinks=False: a symlink loop cannot make this walk forever;
    # linked folders are not entered (linked files are read).
    for root, dirs, names in os.walk(folder, followlinks=False):
      dirs.sort()
      files.extend(
        os.path.join(root, n)
        for n in names
        if n.lower().endswith(IMAGE_EXTENSIONS)
      )
  else:
    files = [
      os.path.join(folder, n)
      for n in os.listdir(folder)
      if n.lower().endswith(IMAGE_EXTENSIONS)
    ]
  files = sorted(f for f in files if not os.path.isdir(f))
  for f in files:
    if not os.path.isfile(f):  # os.path.isfile follows links
      if os.path.islink(f) and not os.path.exists(f):
        raise SourceError(f"{f}: a broken symbolic link or a symlink loop")
      raise SourceError(
        f"{f}: not a regular file (a FIFO, socket or "
        "device); remove it from the folder"
      )
  if not files:
    raise SourceError(
      f"{folder}: no .png, .jpg, .jpeg, .bmp or .gif images"
      + ("" if recursive else " (--recursive looks deeper)")
    )
  return files


@dataclasses.dataclass(frozen=True)
class Check:
  """What `--mode=prepare` says of a source: ready, one line, and how to
  get it when it is not."""

  ready: bool
  detail: str
  how: tuple[str, ...] = ()
  count: int | None = None  # Images or examples, where known.


@dataclasses.dataclass(frozen=True)
class Kind:
  """One kind of source.

  Attributes:
    name: its prefix without the colon.
    modality: IMAGES or TEXT.
    about: one line, for help texts and listings.
    crop: the crop before the resize to the training size (None: the TFDS
      dataset's paper rule, fid.preprocess.PAPER).
    default_size: the side `python -m fid` brings its images to when no
      --image_size is given (None: as stored).
    check: the source -> Check, without TensorFlow (None: prepare's TFDS
      route, which builds and downloads).
  """

  name: str
  modality: str
  about: str
  crop: str | None = None
  default_size: int | None = None
  check: Callable[[Source], Check] | None = None

  @property
  def prefix(self) -> str:
    return f"{self.name}:"


@dataclasses.dataclass(frozen=True)
class Source:
  """A parsed source: its kind and what the spelling names."""

  kind: Kind
  path: str | None = None  # path kinds
  name: str | None = None  # tfds
  split: str | None = None  # tfds

  @property
  def spelling(self) -> str:
    """The one spelling (what `python -m fid` and provenance say)."""
    if self.kind.name == "tfds":
      return f"tfds:{self.name}:{self.split}"
    return f"{self.kind.prefix}{self.path}"

  def crop(self) -> str:
    """The crop before the resize to the training size."""
    if self.kind.crop is not None:
      return self.kind.crop
    rule = preprocess.PAPER.get(self.name)
    return rule.crop if rule else preprocess.FOLDER_CROP

  def provenance(self, image_size: int | None) -> dict:
    """What statistics made from this source at image_size record (and a
    run training on it expects): dataset, split, image_size, crop."""
    if self.kind.name == "tfds":
      return {
        "dataset": self.name,
        "split": self.split,
        "image_size": image_size,
        "crop": self.crop() if image_size else None,
      }
    return {
      "dataset": f"{self.kind.prefix}{os.path.abspath(self.path)}",
      "image_size": image_size,
      "crop": self.crop() if image_size else None,
    }

  def check(self) -> Check:
    if self.kind.check is None:
      raise ValueError(f"{self.spelling}: checked by TFDS's builder")
    return self.kind.check(self)


def _count_files(source: Source) -> Check:
  if not os.path.isdir(source.path):
    return Check(
      False,
      "no such folder"
      if not os.path.exists(source.path)
      else "a file, not a folder",
      ("put the training images (png, jpg, jpeg, bmp, gif) there",),
    )
  try:
    count = len(list_images(source.path))
  except SourceError as e:
    return Check(False, str(e), ("put the training images there",))
  return Check(True, f"{count:,} image{'' if count == 1 else 's'}", count=count)


def lmdb_entries(path: str) -> int:
  """The number of records of the LMDB at `path` (read-only, no lock)."""
  import lmdb

  env = lmdb.open(path, readonly=True, lock=False, readahead=False, subdir=True)
  try:
    return int(env.stat()["entries"])
  finally:
    env.close()


def _check_lmdb(source: Source) -> Check:
  how = (
    "LSUN: download bedroom_train_lmdb.zip (42.8 GB, "
    "http://dl.yf.io/lsun/scenes/) and unzip it; the folder "
    "bedroom_train_lmdb/ holds data.mdb and lock.mdb",
  )
  if not os.path.isfile(os.path.join(source.path, "data.mdb")):
    return Check(
      False,
      "no data.mdb in that folder (give the folder that holds it)"
      if os.path.isdir(source.path)
      else "no such folder",
      how,
    )
  try:
    count = lmdb_entries(source.path)
  except Exception as e:  # noqa: BLE001 lmdb.Error and friends.
    return Check(False, f"not a readable LMDB ({e})", how)
  if not count:
    return Check(False, "the LMDB holds no records", how)
  return Check(True, f"{count:,} encoded images (LMDB)", count=count)


def celeba_files(path: str) -> list[str]:
  """The aligned images of a celeba:PATH source, sorted: the .jpg files of
  the folder, or the members img_align_celeba/*.jpg of the zip."""
  if os.path.isdir(path):
    return sorted(
      os.path.join(path, n)
      for n in os.listdir(path)
      if n.lower().endswith(".jpg")
    )
  with zipfile.ZipFile(path) as archive:
    return sorted(
      n
      for n in archive.namelist()
      if n.startswith(f"{CELEBA_FOLDER}/") and n.lower().endswith(".jpg")
    )


def _check_celeba(source: Source) -> Check:
  how = (
    f"CelebA's aligned images: the folder {CELEBA_FOLDER}/ or "
    f"{CELEBA_FOLDER}.zip (1.4 GB, 202,599 .jpg files of 178x218)",
  )
  if not os.path.exists(source.path):
    return Check(False, "no such folder or file", how)
  try:
    count = len(celeba_files(source.path))
  except (OSError, zipfile.BadZipFile) as e:
    return Check(False, f"not a folder or a readable zip ({e})", how)
  if not count:
    return Check(
      False, f"no .jpg images (a zip's must lie in {CELEBA_FOLDER}/)", how
    )
  note = (
    ""
    if count == CELEBA_COUNT
    else f"; CelebA has {CELEBA_COUNT:,}, TTUR's statistics were made "
    "from all of them"
  )
  return Check(True, f"{count:,} aligned images{note}", count=count)


def _check_textfile(source: Source) -> Check:
  ready = os.path.isfile(source.path)
  return Check(
    ready,
    "a text file, one line per example" if ready else "no such file",
    () if ready else ("put the text file there",),
  )


KINDS: dict[str, Kind] = {
  kind.name: kind
  for kind in (
    Kind("tfds", IMAGES, "a TFDS dataset: tfds:NAME[:SPLIT]"),
    Kind(
      "folder",
      IMAGES,
      "a folder of image files",
      crop=preprocess.FOLDER_CROP,
      check=_count_files,
    ),
    Kind(
      "lmdb",
      IMAGES,
      "an LMDB of encoded images (LSUN's export)",
      crop="square",
      default_size=preprocess.PAPER["lsun/bedroom"].size,
      check=_check_lmdb,
    ),
    Kind(
      "celeba",
      IMAGES,
      "CelebA's aligned images (img_align_celeba/ or "
      "its zip), as TFDS's celeb_a gives them",
      crop=preprocess.PAPER["celeb_a"].crop,
      default_size=preprocess.PAPER["celeb_a"].size,
      check=_check_celeba,
    ),
    Kind(
      "textfile",
      TEXT,
      "a text file, one example per line",
      check=_check_textfile,
    ),
  )
}


def parse(spec: str) -> Source:
  """The Source a spelling names (training's bare names included).

  Raises:
    SourceSpecError: an unknown name or prefix, or an empty path.
  """
  if spec in BARE_IMAGES:
    return Source(KINDS["tfds"], name=spec, split=preprocess.PAPER[spec].split)
  if spec in BARE_TEXT:
    return Source(KINDS["tfds"], name=spec, split="train")
  prefix, colon, rest = spec.partition(":")
  kind = KINDS.get(prefix) if colon else None
  if kind is None:
    known = ", ".join(
      [*BARE_IMAGES, *BARE_TEXT, *(f"{k.prefix}..." for k in KINDS.values())]
    )
    raise SourceSpecError(f"unknown dataset {spec[:200]!r}; known: {known}")
  if not rest:
    raise SourceSpecError(
      f"{spec}: {kind.prefix} needs a "
      + ("NAME" if kind.name == "tfds" else "PATH")
    )
  if kind.name != "tfds":
    return Source(kind, path=rest)
  # tfds:NAME[:SPLIT]; a sliced split (train[:1000]) holds a colon.
  head, bracket, tail = rest.partition("[")
  name, _, split = head.rpartition(":") if ":" in head else (head, "", "")
  if bracket and not split:
    raise SourceSpecError(
      f"{spec}: a slice needs a split, e.g. tfds:{name}:train[:1000]"
    )
  split = split + bracket + tail
  if not name:
    raise SourceSpecError(
      f"{spec}: expected tfds:NAME[:SPLIT], e.g. tfds:cifar10:train"
    )
  if not split:
    rule = preprocess.PAPER.get(name)
    split = rule.split if rule else "train"
  return Source(kind, name=name, split=split)


def modality(spec: str) -> str | None:
  """IMAGES or TEXT for a valid spelling (a TFDS name's by its bare name:
  lm1b is text, an unknown tfds:NAME images), None otherwise."""
  try:
    source = parse(spec)
  except SourceSpecError:
    return None
  if source.kind.name == "tfds":
    return TEXT if source.name in BARE_TEXT else IMAGES
  return source.kind.modality
