"""What the FID of a run reads from outside, for --mode=prepare
(tf_ttur.prepare): the reference statistics (checked against the
provenance this run's preprocessing gives, fetched where TTUR publishes
them, or the command that makes them) and the Inception graph (fetched
with keras.utils.get_file's cache, or a given file checked)."""

from __future__ import annotations

import os

from fid import datasources
from fid import download
from fid import provenance
from tf_ttur import preflight
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError
from tf_ttur.errors import first_line
from tf_ttur.preflight import Piece


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


def dinov2_weights(config: Config, fetch: bool) -> Piece:
  """FD_DINOv2's weights (fid.dinov2)."""
  from fid import dinov2
  from tf_ttur import evals

  weights = evals.dinov2_weights(config.evaluation)
  return _hub_weights(
    dinov2.MODEL, "--fd_dinov2_weights", weights, dinov2.load_backbone, fetch
  )


def clip_weights(config: Config, fetch: bool) -> Piece:
  """CMMD's CLIP weights (fid.clip)."""
  from fid import clip
  from tf_ttur import evals

  weights = evals.clip_weights(config.evaluation)
  return _hub_weights(
    clip.MODEL, "--cmmd_weights", weights, clip.load_vision, fetch
  )


def _local_problem(folder: str, load, error) -> str | None:
  """Why a local folder of weights cannot be used, or None where its
  backbone loads."""
  if not os.path.isdir(folder):
    return "no such folder"
  try:
    load(folder)
  except error as e:
    return first_line(e)
  return None


def _hub_weights(model, flag: str, weights: str, load, fetch: bool) -> Piece:
  """A keras-hub backbone's weights: a local folder (a keras-hub preset
  or a Hugging Face folder), ready only where they load; or keras-hub's
  preset, in kagglehub's cache or fetched there where there is
  internet."""
  from fid import hub

  what = f"{model.name} weights {weights}"
  if hub.is_local(weights):
    missing = _local_problem(weights, load, model.error)
    if missing is not None:
      return Piece(
        what,
        False,
        missing,
        [
          f"a keras-hub preset folder, or Hugging Face's {model.hf_name} "
          "saved with save_pretrained (config.json, model.safetensors)"
        ],
      )
    return Piece(what, True, "a local folder (loaded)")
  cache = hub.kaggle_cache(model.family, weights)
  if not os.path.isdir(cache) and fetch:
    try:
      load(weights)
    except model.error as e:
      return Piece(what, False, first_line(e), [], fetch=weights)
  if os.path.isdir(cache):
    return Piece(what, True, f"keras-hub's preset in {cache}")
  return Piece(
    what,
    False,
    f"not in {cache}",
    [
      f"where there is internet, --mode=prepare fetches keras-hub's "
      f"{weights} (from Kaggle) into {cache}",
      "offline: copy that folder from a machine that has it, or a Hugging "
      f"Face save_pretrained folder of {model.hf_name} and {flag}=FOLDER",
    ],
    fetch=f"keras-hub's {weights}",
  )
