"""Everything a run needs from outside the repository, checked at once.

`python -m tf_ttur.main --flagfile=F --mode=prepare` lists each piece the
run will read (the dataset and its split, the FID's reference statistics
and Inception graph, the classifier of fd_shapes, the text corpus), says
for every missing one how to get it and, for a machine without internet,
which folder or file to copy where; with internet it fetches and builds
what it can (TFDS, keras.utils.get_file) and ends with one line saying the
run is ready. Training runs the same check, without fetching, before
anything is written, and refuses with the whole list.
"""

from __future__ import annotations

import os

from fid import datasources
from tf_ttur import evals
from tf_ttur import preflight
from tf_ttur import prepare_fid
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError
from tf_ttur.errors import first_line
from tf_ttur.preflight import Piece

# What `tfds build` downloads for each dataset the paper used (the TFDS
# catalog's download sizes), and what else it takes.
TFDS_NOTES = {
  "svhn_cropped": "1.5 GB (train, test and extra .mat files)",
  "cifar10": "162 MB",
  "celeb_a": "1.4 GB from Google Drive (the aligned images and "
  "their lists), which refuses when its daily quota is spent: "
  "then try again later, or use the manual folder below",
  "lsun/bedroom": "43 GB of LMDB from dl.yf.io; TFDS reads it with "
  "tensorflow-io, whose newest release (0.37.1) needs "
  "TensorFlow < 2.17 and does not load under this one: "
  "use the LMDB export itself, --dataset=lmdb:PATH",
  "lm1b": "1.7 GB",
}


def _tfds_dataset(
  name: str, split: str, data_dir: str | None, fetch: bool, build_offline: bool
) -> Piece:
  import tensorflow_datasets as tfds

  from tf_ttur.data import shapes  # noqa: F401 Registers `shapes` with TFDS.

  what = f"dataset {name} (TFDS, split {split})"
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as e:  # noqa: BLE001 An unknown name, a damaged data_dir.
    return Piece(what, False, first_line(e))
  prepared = builder.is_prepared()
  if not prepared and name == "shapes":
    if not build_offline:
      return Piece(
        what, True, f"generated offline into {builder.data_dir} on first use"
      )
    from tf_ttur.data import images

    images.prepare_shapes(data_dir)  # Offline, in seconds.
    builder = tfds.builder(name, data_dir=data_dir)  # Its splits, as built.
    prepared = True
  elif not prepared and (
    fetch or (build_offline and _manual_complete(builder, name))
  ):
    # TFDS takes each file it finds in DATA_DIR/downloads/manual under its
    # registered name instead of downloading it, and checks its checksum;
    # the Python API needs no apache_beam (the `tfds build` CLI does).
    config = tfds.download.DownloadConfig(try_download_gcs=fetch)
    try:
      builder.download_and_prepare(download_config=config)
    except Exception as e:  # noqa: BLE001 Network, quota, checksums, files.
      return _tfds_missing(
        builder, name, what, f"the TFDS build failed: {first_line(e)}"
      )
    builder = tfds.builder(name, data_dir=data_dir)
    prepared = builder.is_prepared()
  if not prepared:
    return _tfds_missing(
      builder, name, what, f"not prepared in {builder.data_dir}"
    )
  return _split_piece(builder, name, split, what)


def _split_piece(builder, name: str, split: str, what: str) -> Piece:
  """The Piece of a prepared dataset's split (split+split...): every part
  and every shard its metadata lists must be there."""
  parts = split.split("+")
  absent = [p for p in parts if p not in builder.info.splits]
  if absent:
    return Piece(
      what,
      False,
      f"{builder.data_dir} has no split "
      f"{', '.join(absent)} (it has "
      f"{', '.join(builder.info.splits)})",
    )
  # Every shard the split's metadata lists must be there (a deleted one
  # would fail at its first read, after the run wrote its files).
  absent = [
    str(f)
    for p in parts
    for f in builder.info.splits[p].filepaths
    if not os.path.isfile(str(f))
  ]
  if absent:
    return _tfds_missing(
      builder,
      name,
      what,
      f"{len(absent)} of its "
      f"shards are missing (first: {absent[0]}); the "
      "prepared dataset is incomplete",
    )
  count = sum(builder.info.splits[p].num_examples for p in parts)
  return Piece(what, True, f"{count:,} examples in {builder.data_dir}")


# The datasets TFDS builds from their original files in its manual folder
# (every file its builder downloads, under the name of its checksums
# list): --mode=prepare builds them offline. LSUN's TFDS builder needs
# tensorflow-io, which does not load under this TensorFlow: its route is
# the LMDB export itself (docs/usage.md).
MANUAL_ROUTE = ("svhn_cropped", "cifar10", "celeb_a", "lm1b")


def manual_dir(builder) -> str:
  """TFDS's default manual folder: DATA_DIR/downloads/manual."""
  return os.path.join(str(builder.data_dir_root), "downloads", "manual")


def manual_files(builder) -> list[tuple[str, int, str]]:
  """(file name, bytes, SHA-256) of every original file TFDS's builder
  reads, from its registered checksums."""
  infos = builder.url_infos or {}
  return sorted(
    (info.filename, int(info.size), info.checksum)
    for info in infos.values()
    if info.filename
  )


def _manual_complete(builder, name: str) -> bool:
  folder = manual_dir(builder)
  files = manual_files(builder) if name in MANUAL_ROUTE else []
  return bool(files) and all(
    os.path.isfile(os.path.join(folder, f)) for f, _, _ in files
  )


def _tfds_missing(builder, name: str, what: str, detail: str) -> Piece:
  version_dir = builder.data_dir
  relative = os.path.relpath(version_dir, builder.data_dir_root)
  note = TFDS_NOTES.get(name)
  manual = []
  if name in MANUAL_ROUTE:
    folder = manual_dir(builder)
    files = manual_files(builder)
    absent = [
      f for f, _, _ in files if not os.path.isfile(os.path.join(folder, f))
    ]
    manual = [
      f"offline, from the original files: put them into {folder} "
      f"under these names ({len(absent)} of {len(files)} missing), "
      "then run --mode=prepare: TFDS builds the dataset from them "
      "and checks each file's SHA-256"
    ] + [
      f"  {f} ({size:,} bytes, SHA-256 {checksum})"
      + ("" if f in absent else ": present")
      for f, size, checksum in files
    ]
  return Piece(
    what,
    False,
    detail,
    fetch=f"TFDS's download of {name}",
    how=[
      f"with internet: --mode=prepare runs TFDS's download and build "
      f"(or: tfds build {name} --data_dir={builder.data_dir_root})"
      + (f"; {note}" if note else ""),
      *manual,
      f"offline: on a machine where it is built, copy the folder "
      f"DATA_DIR/{relative} to {version_dir} (or pass that machine's "
      "DATA_DIR here as --data_dir)",
    ],
  )


def dataset(config: Config, fetch: bool, build_offline: bool) -> Piece:
  """The training data of the run (build_offline: generate `shapes`, and
  build a TFDS dataset from its original files in the manual folder)."""
  name, data_dir = config.data.dataset, config.data.data_dir
  source = datasources.parse(name)
  if source.name == "english":
    return Piece("corpus english", True, "shipped in tf_ttur/data/corpus")
  if source.kind.name == "tfds":
    return _tfds_dataset(
      source.name, source.split, data_dir, fetch, build_offline
    )
  check = source.check()
  what = f"dataset {source.spelling} ({source.kind.about})"
  if (
    check.ready
    and config.evaluation.kid_every
    and check.count is not None
    and check.count < 2
  ):
    # The KID's unbiased estimate needs two training images (checked
    # before anything is written, not when the evaluator starts).
    return Piece(
      what,
      False,
      f"{check.detail}: --kid_every needs at least 2 training images",
      ["add images, or set --kid_every=0"],
    )
  return Piece(what, check.ready, check.detail, list(check.how))


def quality_model(config: Config) -> Piece:
  path = evals.quality_model_path(config.evaluation)
  what = f"fd_shapes classifier {path}"
  try:
    preflight.check_quality_model(path, load=False)  # Config.validate's.
  except ConfigError as e:
    return Piece(
      what,
      False,
      str(e).split(": ", 1)[-1],
      ["train one: python -m tf_ttur.quality"],
    )
  return Piece(what, True, "a SavedModel")


def check(
  config: Config, fetch: bool = False, build_offline: bool = False
) -> list[Piece]:
  """Every piece the run reads: fetched from the internet where `fetch`
  allows, the offline `shapes` generated where `build_offline` does."""
  needed = evals.needed(config.evaluation)
  pieces = [("dataset", dataset(config, fetch, build_offline))] + [
    (name, check_piece(config, fetch))
    for name, check_piece in PIECES.items()
    if name in needed
  ]
  for name, piece in pieces:
    piece.flags = FLAGS[name]
  return [piece for _, piece in pieces]


# What an evaluation can need (tf_ttur.evals.Eval.needs), in listing order:
# name -> (config, fetch) -> the Piece.
PIECES = {
  "reference_statistics": prepare_fid.reference_statistics,
  "inception_graph": prepare_fid.inception_graph,
  "quality_model": lambda config, fetch: quality_model(config),
  "dinov2_weights": prepare_fid.dinov2_weights,
  "clip_weights": prepare_fid.clip_weights,
}
# The flags that choose each piece.
FLAGS = {
  "dataset": "--dataset, --data_dir",
  "reference_statistics": "--fid_stats",
  "inception_graph": "--fid_inception (or $FID_CACHE_DIR)",
  "quality_model": "--quality_model",
  "dinov2_weights": "--fd_dinov2_weights (or $KAGGLEHUB_CACHE)",
  "clip_weights": "--cmmd_weights (or $KAGGLEHUB_CACHE)",
}


def report(pieces: list[Piece]) -> str:
  return "\n".join(line for piece in pieces for line in piece.lines())


def refuse_if_missing(pieces: list[Piece], offline: bool = False) -> None:
  """ConfigError with the whole listing when any piece is missing;
  offline: --mode=prepare found no internet, and says what it would have
  fetched."""
  missing = [p for p in pieces if not p.ready]
  hint = (
    "The same command with --mode=prepare fetches what it can where "
    "there is internet."
  )
  fetchable = [p.fetch for p in missing if p.fetch]
  if offline:
    hint = (
      "No internet here (the download mirror did not answer): "
      "nothing was fetched."
      + (
        f" With internet, --mode=prepare would fetch: {'; '.join(fetchable)}."
        if fetchable
        else ""
      )
    )
  if len(missing) == 1:
    piece = missing[0]
    chosen = f" [{piece.flags}]" if piece.flags else ""
    raise ConfigError(
      "\n".join(
        [
          f"{piece.what}{chosen}: {piece.detail} (nothing was written)",
          *(f"  {h}" for h in piece.how),
          hint,
        ]
      )
    )
  if missing:
    raise ConfigError(
      f"{len(missing)} of the {len(pieces)} things this run reads are "
      f"missing (nothing was written):\n{report(pieces)}\n{hint}"
    )
