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

import dataclasses
import os

from fid import datasources
from fid import download
from fid import provenance
from tf_ttur import evals
from tf_ttur import preflight
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError
from tf_ttur.errors import first_line

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


@dataclasses.dataclass
class Piece:
  """One thing the run reads: what it is, whether it is there, and how to
  get it (with and without internet)."""

  what: str
  ready: bool
  detail: str
  how: list[str] = dataclasses.field(default_factory=list)
  warnings: list[str] = dataclasses.field(default_factory=list)
  # What --mode=prepare fetches for it where there is internet ("" if
  # nothing can be fetched).
  fetch: str = ""
  # The flags that choose it (FLAGS), named where it is missing.
  flags: str = ""

  def lines(self) -> list[str]:
    head = f"  {'ok' if self.ready else 'MISSING':8} {self.what}: {self.detail}"
    chosen = (
      [f"           set by {self.flags}"]
      if (self.flags and not self.ready)
      else []
    )
    return [head, *chosen, *(f"           {h}" for h in self.how)]


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


def expected_provenance(config: Config) -> dict:
  """What statistics made from this run's training images record."""
  return datasources.parse(config.data.dataset).provenance(
    config.data.image_size
  )


def own_stats_command(config: Config, path: str) -> str:
  """The command that computes reference statistics from the run's own
  training images (never under a TTUR file name): the source as
  `python -m fid` spells it, at the run's size (its crop is the source's,
  as training's)."""
  source = datasources.parse(config.data.dataset)
  size = config.data.image_size
  if provenance.is_ttur_name(path):
    folder = os.path.dirname(path) or "."
    if source.kind.name == "tfds":
      own = source.name.replace("/", "_")
      split = "all" if "+" in source.split else source.split
      own = f"{own}_{split}"
    else:
      base = os.path.basename(os.path.normpath(source.path))
      own = f"{source.kind.name}_{base}"
    path = os.path.join(folder, f"{own}_{size}.npz")
  return (
    f"python -m fid {source.spelling} --image_size={size} "
    f"--save_stats {path} (then --fid_stats={path})"
  )


def reference_statistics(config: Config, fetch: bool) -> Piece:
  """The FID's reference statistics: present and made from the run's
  images, TTUR's published file (downloaded), or the command that makes
  them."""
  from fid import stats as fid_stats

  path = config.evaluation.fid_stats
  what = f"reference statistics {path}"
  url = provenance.ttur_url(path)
  if not os.path.isfile(path) and url and fetch:
    try:
      _fetch_file(url, path)
    except OSError as e:
      return _stats_missing(config, path, what, f"download failed: {e}")
  if not os.path.isfile(path):
    return _stats_missing(config, path, what, "no such file")
  try:
    # The check Config.validate runs on a given file (tf_ttur.preflight):
    # one verdict for prepare and training.
    preflight.check_fid_stats(path)
    recorded = fid_stats.load_provenance(path)
  except (ConfigError, fid_stats.StatsError) as e:
    return Piece(what, False, str(e), [own_stats_command(config, path)])
  if recorded is None:
    return Piece(
      what,
      True,
      "no provenance record (TTUR's published files "
      "have none): its images cannot be checked against the "
      "run's",
    )
  piece = Piece(what, True, provenance.describe(recorded))
  expected = expected_provenance(config)
  differences = provenance.differences(recorded, expected)
  if differences:
    piece.warnings.append(
      f"{path} was made from other images than this run trains on: "
      f"{'; '.join(differences)}. Its FIDs measure against those images "
      f"({own_stats_command(config, 'OWN.npz')} makes the run's own)"
    )
  md5 = recorded.get("graph_md5")
  if md5 is not None and not provenance.is_paper_graph(md5):
    # By the MD5 it records, whatever its paper_graph field says.
    piece.warnings.append(
      f"{path} was made with another Inception graph (MD5 "
      f"{recorded.get('graph_md5')}): FIDs against it cannot be compared "
      "with published ones"
    )
  return piece


def _stats_missing(config: Config, path: str, what: str, detail: str) -> Piece:
  url = provenance.ttur_url(path)
  how = []
  if url:
    how += [
      f"TTUR's published file (the paper's reference: "
      f"{provenance.TTUR_STATS[os.path.basename(path)]}): "
      f"--mode=prepare downloads {url}",
      f"offline: download it elsewhere and copy it to {os.path.abspath(path)}",
      f"or compute the project's own from the same images: "
      f"{own_stats_command(config, path)}",
    ]
  else:
    how += [
      f"compute it from the run's images (needs the dataset and the "
      f"Inception graph): {own_stats_command(config, path)}"
    ]
  return Piece(what, False, detail, how, fetch=url or "")


def _fetch_file(url: str, path: str) -> None:
  """Downloads url to path with keras.utils.get_file (a partial download
  never takes the name)."""
  import keras

  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  try:
    keras.utils.get_file(
      os.path.basename(path), origin=url, cache_dir=folder, cache_subdir="."
    )
  except Exception as e:  # noqa: BLE001 get_file raises plain Exception.
    raise OSError(first_line(e)) from None


def inception_graph(config: Config, fetch: bool) -> Piece:
  """The 2015 Inception graph: given, in the cache, or downloaded. A
  cached file is checked as fid.download.get_inception_graph checks it
  (its size and MD5), so what this calls ok is what training uses."""
  given = config.evaluation.fid_inception
  if given:
    return _given_graph(given)
  cache = download.default_cache_dir()
  cached = os.path.join(cache, download.PB_NAME)
  archive = os.path.join(cache, download.ARCHIVE_NAME)
  what = f"Inception graph {cached}"
  problem = download.graph_problem(cached) if os.path.isfile(cached) else None
  if (not os.path.isfile(cached) or problem) and (
    fetch or os.path.isfile(archive)
  ):
    try:
      download.get_inception_graph(
        archive if os.path.isfile(archive) else None,
        cache,
        url=download.INCEPTION_URL,
        md5=download.PB_MD5,
        pb_size=download.PB_SIZE,
        archive_size=download.ARCHIVE_SIZE,
        flag="--fid_inception",
      )
    except download.InceptionError as e:
      return _graph_missing(what, cache, str(e))
    problem = download.graph_problem(cached)
  if problem:
    return _graph_missing(
      what,
      cache,
      f"{problem} (replace it, or remove "
      "it and run --mode=prepare where there is internet)",
    )
  if not os.path.isfile(cached):
    return _graph_missing(what, cache, "not in the cache")
  return Piece(
    what, True, f"{os.path.getsize(cached):,} bytes, MD5 {download.PB_MD5}"
  )


def _given_graph(path: str) -> Piece:
  """--fid_inception: used as given (training does not replace it); a
  graph other than the 2015 one is named, as make_extractor warns."""
  what = f"Inception graph {path} (--fid_inception)"
  if not os.path.isfile(path):
    return Piece(
      what,
      False,
      "no such file",
      [
        f"the 2015 graph: {download.INCEPTION_URL} ({download.PB_NAME} "
        f"inside has MD5 {download.PB_MD5}), or its .tgz"
      ],
    )
  try:
    preflight.check_inception(path)  # Config.validate's check.
  except ConfigError as e:
    return Piece(what, False, str(e))
  if path.endswith((".tgz", ".tar.gz")):
    return Piece(
      what,
      True,
      f"an archive; its {download.PB_NAME} is "
      "checked (size, MD5) when it is extracted",
    )
  piece = Piece(what, True, f"{os.path.getsize(path):,} bytes")
  problem = download.graph_problem(path)
  if problem:
    piece.detail += " (not the 2015 graph)"
    piece.warnings.append(
      f"{problem}: its FIDs cannot be compared with published ones"
    )
  return piece


def _graph_missing(what: str, cache: str, detail: str) -> Piece:
  return Piece(
    what,
    False,
    detail,
    fetch=download.INCEPTION_URL,
    how=[
      f"with internet: --mode=prepare downloads {download.INCEPTION_URL} "
      f"({download.ARCHIVE_SIZE:,} bytes) and keeps only {download.PB_NAME} "
      f"(MD5 {download.PB_MD5})",
      f"offline: copy {download.ARCHIVE_NAME} or {download.PB_NAME} into "
      f"{cache} (${download.CACHE_ENV} chooses the folder), or pass "
      "--fid_inception=PATH",
    ],
  )


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
  "reference_statistics": reference_statistics,
  "inception_graph": inception_graph,
  "quality_model": lambda config, fetch: quality_model(config),
}
# The flags that choose each piece.
FLAGS = {
  "dataset": "--dataset, --data_dir",
  "reference_statistics": "--fid_stats",
  "inception_graph": "--fid_inception (or $FID_CACHE_DIR)",
  "quality_model": "--quality_model",
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
