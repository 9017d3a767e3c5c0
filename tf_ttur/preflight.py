"""The files a run will read and the folder it will write, checked when the
config is validated (tf_ttur.config says which): a bad reference file fails
now, not after hours of training, and nothing is created or written here.
Each check takes the values it checks, not the config. The file checks are
also each piece's verdict in `--mode=prepare` (tf_ttur.prepare), so a file
is judged once, the same way, by both."""

from __future__ import annotations

import dataclasses
import json
import os
import tarfile

from tf_ttur.errors import ConfigError

# The dimension of the FID's features (Inception pool_3).
FID_DIMENSIONS = 2048


def check_run(f, needs: set[str], quality_model: str) -> None:
  """Every check a run's flags ask for (f: the flags as attributes; needs:
  what its evaluations read, tf_ttur.evals.needed): the files it will
  read, the folder it will write (not for --mode=dry_run or prepare) and
  the environment variables it will read."""
  inception = "inception_graph" in needs
  if "reference_statistics" in needs:
    check_fid_stats(f.fid_stats)
  if inception and f.fid_inception:
    check_inception(f.fid_inception)
  if "quality_model" in needs:
    check_quality_model(quality_model, load=f.mode == "train")
  check_data_dir(f.data_dir)
  if f.mode not in ("dry_run", "prepare"):
    check_writable(f.workdir)
  check_environment(
    inception_download=inception and not f.fid_inception, jsd=bool(f.jsd_every)
  )
  if f.strategy == "multi_worker":
    check_tf_config(os.environ.get("TF_CONFIG"))


def check_tf_config(value: str | None) -> None:
  """ConfigError naming TF_CONFIG unless it describes a cluster and this
  process's task (tf.distribute's format)."""
  if value is None:
    raise ConfigError(
      "--strategy=multi_worker needs the TF_CONFIG "
      "environment variable (cluster and task)"
    )
  try:
    parsed = json.loads(value)
  except json.JSONDecodeError as e:
    raise ConfigError(
      f"TF_CONFIG is not JSON ({e.msg} at character {e.pos}): {value[:80]!r}"
    ) from None
  if (
    not isinstance(parsed, dict)
    or not isinstance(parsed.get("cluster"), dict)
    or not isinstance(parsed.get("task"), dict)
  ):
    raise ConfigError(
      'TF_CONFIG must be a JSON object with "cluster" '
      '(job name -> addresses) and "task" (type and '
      f"index), got {value[:80]!r}"
    )


def check_data_dir(data_dir: str | None) -> None:
  """--data_dir, or else $TFDS_DATA_DIR (TFDS's folder), must be a folder
  where it exists (a missing one is made by TFDS)."""
  for name, value in (
    ("--data_dir", data_dir),
    ("TFDS_DATA_DIR", os.environ.get("TFDS_DATA_DIR")),
  ):
    if value and os.path.exists(value) and not os.path.isdir(value):
      raise ConfigError(
        f"{name}={value}: a file, not a folder (TFDS's data folder)"
      )
    if value:  # --data_dir, when given, is the one TFDS uses.
      return


def check_environment(inception_download: bool, jsd: bool) -> None:
  """The environment variables a run will read, each named when unusable:
  FID_MAX_PIXELS (folder datasets), FID_CACHE_DIR (where the FID's
  Inception graph is downloaded to: inception_download), TF_TTUR_CACHE_DIR
  (the JSD's reference n-grams: jsd)."""
  from fid import decode
  from fid import download
  from fid import sources

  try:
    decode.max_pixels()
    if inception_download:
      download.default_cache_dir()
  except (sources.SourceError, download.InceptionError) as e:
    raise ConfigError(str(e)) from None
  cache = os.environ.get("TF_TTUR_CACHE_DIR")
  if jsd and cache and os.path.exists(cache) and not os.path.isdir(cache):
    raise ConfigError(
      f"TF_TTUR_CACHE_DIR={cache}: not a folder (where the "
      "JSD's reference n-gram counts are kept)"
    )


def check_fid_stats(path: str | None) -> None:
  """A given statistics file must be usable; a missing one is listed by
  tf_ttur.prepare with the rest of what the run needs."""
  from fid import stats as fid_stats

  if not path:
    raise ConfigError(
      "--fid_every needs --fid_stats (make one with "
      "python -m fid DATA --save_stats OUT.npz)"
    )
  if not os.path.exists(path):
    return
  if not os.path.isfile(path):
    raise ConfigError(f"--fid_stats={path}: not a file")
  try:
    mu, _ = fid_stats.load_stats(path)
  except fid_stats.StatsError as e:
    raise ConfigError(f"--fid_stats: {e}") from None
  if mu.shape != (FID_DIMENSIONS,):
    raise ConfigError(
      f"--fid_stats={path}: mu has {mu.shape[0]} dimensions; FID "
      f"statistics are of the {FID_DIMENSIONS} pool_3 features (make them "
      "with python -m fid DATA --save_stats OUT.npz)"
    )


def check_inception(path: str) -> None:
  """--fid_inception must be the 2015 graph (.pb) or its archive (.tgz),
  checked without extracting anything (a missing one is listed by
  tf_ttur.prepare)."""
  if not os.path.exists(path):
    return
  if not os.path.isfile(path):
    raise ConfigError(f"--fid_inception={path}: not a file")
  if path.endswith((".tgz", ".tar.gz")):
    if not tarfile.is_tarfile(path):
      raise ConfigError(f"--fid_inception={path}: not a .tgz archive")
    return
  from fid import graph

  try:
    graph.load_graph_def(path)
  except graph.InceptionError as e:
    raise ConfigError(f"--fid_inception: {e}") from None


def check_quality_model(path: str, load: bool) -> None:
  """A SavedModel of python -m tf_ttur.quality; with load, what the
  evaluator will call is loaded now rather than at its first evaluation
  (a generator's SavedModel has no `features`)."""
  from fid.files import saved_model_problem

  problem = saved_model_problem(path)
  if problem:
    raise ConfigError(
      f"--quality_model={path}: {problem}; python -m tf_ttur.quality trains one"
    )
  if not load:
    return
  from fid import saved_model

  try:
    saved_model.SavedModelExtractor(path)
  except (ValueError, OSError) as e:
    raise ConfigError(
      f"--quality_model={path}: {e} (it needs the "
      "`features` function of python -m "
      "tf_ttur.quality)"
    ) from None


def check_writable(path: str, flag: str = "--workdir") -> None:
  """Raises ConfigError naming `flag` if `path` cannot be created or
  written, writing nothing: os.access on the nearest existing ancestor."""
  path = os.path.abspath(path)
  probe = path
  while not os.path.exists(probe):
    parent = os.path.dirname(probe)
    if parent == probe:
      break
    probe = parent
  if not os.path.isdir(probe):
    raise ConfigError(f"{flag}={path} is not usable: {probe} is a file")
  if not os.access(probe, os.W_OK | os.X_OK):
    raise ConfigError(
      f"{flag}={path} is not writable ({probe} is not writable)"
    )


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
