"""The library behind `python -m fid`: sources resolved, one pass per
input, the FID and the metrics that travel with it, as a dict."""

from __future__ import annotations

import os
import warnings

import numpy as np

from fid import architecture
from fid import core
from fid import datasources
from fid import download
from fid import frechet
from fid import generator as generator_lib
from fid import metrics
from fid import preprocess
from fid import provenance
from fid import sources
from fid import stats as stats_lib

EXPECTED_ERRORS = (
  sources.SourceError,
  stats_lib.StatsError,
  download.InceptionError,
  generator_lib.GeneratorError,
  ValueError,
  OSError,
)


def _plain(path: str) -> str:
  """folder:PATH (training's spelling, which prepare prints) as the plain
  folder PATH; any other input as it is."""
  folder = datasources.KINDS["folder"].prefix
  return path[len(folder) :] if path.startswith(folder) else path


def resolve(
  path: str,
  recursive: bool,
  data_dir: str | None,
  image_size: int | None = None,
  crop: str | None = None,
):
  """('stats', (mu, sigma)), ('images', list of files or array),
  ('stream', TfdsSource), ('source', (Source, its image count)) or
  ('generator', SavedModelGenerator). folder:PATH is the folder PATH."""
  path = _plain(path)
  if path.startswith(generator_lib.SAVEDMODEL_PREFIX):
    return "generator", generator_lib.SavedModelGenerator(
      path[len(generator_lib.SAVEDMODEL_PREFIX) :]
    )
  if path.startswith(sources.TFDS_PREFIX):
    return "stream", sources.TfdsSource(path, data_dir, image_size, crop)
  if ":" in path and path.split(":", 1)[0] in datasources.KINDS:
    source = datasources.parse(path)
    if source.kind.modality != datasources.IMAGES:
      raise sources.SourceError(f"{path}: not a source of images")
    if crop is not None:
      raise ValueError(
        f"{path}: its crop is {source.crop()!r}, as "
        "training's; --crop does not apply"
      )
    check = source.check()
    if not check.ready:
      raise sources.SourceError(f"{path}: {check.detail}")
    return "source", (source, check.count)
  if os.path.isdir(path):
    return "images", sources.list_images(path, recursive)
  if not os.path.isfile(path):
    raise sources.SourceError(f"{path}: no such file or folder")
  if path.endswith(".npz"):
    try:
      with np.load(path, allow_pickle=False) as data:
        is_stats = "mu" in data.files or "sigma" in data.files
    except stats_lib.NPZ_READ_ERRORS as e:
      raise sources.SourceError(f"{path}: not a readable .npz ({e})") from None
    if is_stats:
      return "stats", (
        *stats_lib.load_stats(path),
        stats_lib.load_spatial_stats(path),
      )
    return "images", sources.load_array(path)
  if path.endswith(".npy"):
    return "images", sources.load_array(path)
  raise sources.SourceError(
    f"{path}: not a folder, .npz, .npy, tfds:NAME:SPLIT or savedmodel:DIR"
  )


def compute(
  paths: list[str],
  inception_path: str | None = None,
  batch_size: int = 50,
  extractor: str = "fast",
  method: str = "eigh",
  recursive: bool = False,
  drop_last_partial_batch: bool = False,
  extra_metrics: bool = False,
  save_stats: str | None = None,
  cache_dir: str | None = None,
  data_dir: str | None = None,
  progress: bool = False,
  num: int = generator_lib.DEFAULT_NUM,
  seed: int = 0,
  workers: int | None = None,
  image_size: int | None = None,
  crop: str | None = None,
  overwrite: bool = False,
) -> dict:
  """Everything the CLI computes, as a dict (see main for the options).

  image_size (and crop) bring every image input to that side as training
  does (fid.preprocess.crop_and_resize; a folder's or an array's crop is
  training's for folders, preprocess.FOLDER_CROP, a TFDS split's the
  paper's rule for it); without it images are read as stored."""
  _check_arguments(
    paths, batch_size, num, image_size, workers, save_stats, overwrite
  )
  if crop is not None and image_size is None:
    raise ValueError(
      "--crop needs --image_size (the side the crop is resized to)"
    )
  if crop is not None and crop not in preprocess.CROPS:
    raise ValueError(f"--crop={crop}: one of {', '.join(preprocess.CROPS)}")
  if cache_dir is None and inception_path is None:
    download.default_cache_dir()  # $FID_CACHE_DIR, before any pass.
  resolved = [resolve(p, recursive, data_dir, image_size, crop) for p in paths]
  if image_size is not None and all(
    kind in ("stats", "generator") for kind, _ in resolved
  ):
    # A generator's samples are used at their own size, statistics as
    # they are: the flag would change nothing.
    raise ValueError(
      "--image_size applies to image inputs (folders, "
      "arrays, datasets); these are statistics or a "
      "generator"
    )
  net = None
  results = []
  generated = []
  notes: dict = {}
  for path, (kind, value) in zip(paths, resolved):
    if kind == "stats":
      if save_stats is not None:
        raise ValueError(f"{path} already holds statistics")
      spatial = value[2] or (None, None)
      results.append(
        core.Activations(
          value[0],
          value[1],
          count=0,
          spatial_mu=spatial[0],
          spatial_sigma=spatial[1],
        )
      )
      continue
    if kind == "generator":
      generated.append(
        {
          "path": value.path,
          "num": num,
          "seed": seed,
          "z_dim": value.z_dim,
          "z_distribution": value.z_distribution,
          "step": value.info.get("step"),
        }
      )
    batches, total = _batches(
      kind,
      value,
      batch_size,
      drop_last_partial_batch,
      num,
      seed,
      notes,
      workers,
      (crop or preprocess.FOLDER_CROP, image_size) if image_size else None,
    )
    if net is None:
      # The sFID's spatial features ride along where they are reported or
      # saved (the tensor is computed anyway; its statistics are cheap).
      # TensorFlow loads here, after the arguments and paths are checked.
      from fid import inception

      net = inception.make_extractor(
        extractor,
        inception_path,
        cache_dir,
        spatial=extra_metrics or save_stats is not None,
      )
    # A warning about one set's statistics names that set.
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      results.append(
        core.run_pass(
          batches, net, keep=extra_metrics, progress=progress, total=total
        )
      )
    for warning in caught:
      message = str(warning.message).removeprefix("fid: ")
      warnings.warn(f"fid: {path}: {message}", warning.category, stacklevel=2)
  out: dict = {"counts": [r.count or None for r in results]}
  if generated:
    out["generated"] = generated
  if notes:
    out["converted_to_rgb"] = notes
  if save_stats is not None:
    first = results[0]
    stats_lib.save_stats(
      save_stats,
      first.mu,
      first.sigma,
      spatial=(
        (first.spatial_mu, first.spatial_sigma)
        if first.spatial_mu is not None
        else None
      ),
      provenance=_provenance(
        paths[0],
        resolved[0],
        first.count,
        net,
        drop_last_partial_batch,
        (crop or preprocess.FOLDER_CROP, image_size) if image_size else None,
      ),
    )
    out["saved"] = save_stats
    return out
  a, b = results
  out["fid"] = frechet.calculate_frechet_distance(
    a.mu, a.sigma, b.mu, b.sigma, method=method
  )
  if extra_metrics:
    out.update(
      _companions(
        a, b, results, method, architecture.EXTRACTOR_KINDS[extractor]
      )
    )
  return out


def stats_info(path: str) -> dict:
  """What `python -m fid --info FILE` tells of a statistics file: the
  shapes it holds, whether it has the sFID's spatial statistics, its
  provenance record (None: TTUR's published files have none) and, for a
  published file's name, what TTUR computed it from. StatsError when the
  file is not usable statistics."""
  mu, _ = stats_lib.load_stats(path)
  name = os.path.basename(path)
  return {
    "path": path,
    "features": int(mu.shape[0]),
    "spatial": stats_lib.load_spatial_stats(path) is not None,
    "provenance": stats_lib.load_provenance(path),
    "ttur_published": provenance.TTUR_STATS.get(name),
  }


def format_stats_info(info: dict) -> list[str]:
  """stats_info's dict as lines a person reads."""
  lines = [
    f"{info['path']}: mu and sigma of {info['features']} features"
    + (
      ", with the sFID's spatial_mu and spatial_sigma"
      if info["spatial"]
      else ""
    )
  ]
  if info["ttur_published"]:
    lines.append(f"  TTUR's published name: {info['ttur_published']}")
  recorded = info["provenance"]
  if recorded is None:
    lines.append(
      "  no provenance record (TTUR's published files and "
      "other tools' have none)"
    )
    return lines
  lines.append(f"  images: {provenance.describe(recorded)}")
  for key, value in recorded.items():
    lines.append(f"  {key}: {value}")
  return lines


def _provenance(
  path: str,
  resolved,
  count: int,
  net,
  drop_last: bool,
  preprocessing: tuple[str, int] | None,
) -> dict:
  """The record a saved statistics file carries (fid.provenance);
  preprocessing: (crop, size) applied to a folder or an array."""
  kind, value = resolved
  if kind == "source":
    source, _ = value
    size = preprocessing[1] if preprocessing else source.kind.default_size
    return provenance.record(
      source.spelling,
      count,
      extractor=net.kind,
      graph_md5_value=net.graph_md5,
      drop_last_partial_batch=drop_last,
      **source.provenance(size),
    )
  if kind == "stream":
    rule = value.preprocessing
    source = path
    fields = {
      "dataset": value.name,
      "split": value.split,
      "image_size": rule.size if rule else None,
      "crop": rule.crop if rule else None,
    }
  else:
    source = os.path.abspath(_plain(path))
    if kind == "generator":
      fields = {"dataset": f"savedmodel:{os.path.abspath(value.path)}"}
    else:
      fields = {
        "dataset": f"folder:{source}" if os.path.isdir(source) else source
      }
      if preprocessing:
        fields.update(crop=preprocessing[0], image_size=preprocessing[1])
  return provenance.record(
    source,
    count,
    extractor=net.kind,
    graph_md5_value=net.graph_md5,
    drop_last_partial_batch=drop_last,
    **fields,
  )


def _check_arguments(
  paths,
  batch_size,
  num,
  image_size,
  workers,
  save_stats,
  overwrite: bool = False,
) -> None:
  for name, value in (
    ("batch_size", batch_size),
    ("num", num),
    ("image_size", image_size),
    ("workers", workers),
  ):
    if value is not None and value < 1:
      raise ValueError(f"--{name} must be positive, got {value}")
  if save_stats is not None and len(paths) != 1:
    raise ValueError("--save_stats takes exactly one input PATH")
  if save_stats is None and len(paths) != 2:
    raise ValueError("expected two paths (or one with --save_stats)")
  if save_stats is not None:
    _check_output(save_stats, overwrite)
  sources.max_pixels()  # $FID_MAX_PIXELS, before any long computation.


def _check_output(path: str, overwrite: bool = False) -> None:
  """--save_stats: refused before the Inception pass, naming the path; an
  existing file only replaced with --overwrite."""
  if not path.endswith(".npz"):
    raise ValueError(f"--save_stats={path}: the file must end in .npz")
  if provenance.is_ttur_name(path):
    raise ValueError(
      f"--save_stats={path}: {os.path.basename(path)} is the name of "
      "TTUR's published statistics file; give yours another name (e.g. "
      "cifar10_train_32.npz) so that the two cannot be mistaken for each "
      "other"
    )
  if os.path.isdir(path):
    raise ValueError(f"--save_stats={path}: a folder is there")
  if os.path.exists(path) and not overwrite:
    raise ValueError(
      f"--save_stats={path} exists; pass --overwrite to replace it"
    )
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise ValueError(f"--save_stats={path}: the folder {folder} does not exist")
  if not os.access(folder, os.W_OK | os.X_OK):
    raise ValueError(
      f"--save_stats={path}: the folder {folder} is not writable"
    )


def _batches(
  kind: str,
  value,
  batch_size: int,
  drop_last: bool,
  num: int,
  seed: int,
  notes: dict,
  workers: int | None,
  preprocessing: tuple[str, int] | None = None,
):
  """(batches, total) of one image input; preprocessing: (crop, size) for
  a folder or an array, as training brings its images to size."""
  if kind == "generator":
    # Sampled in memory through serving_default; no image is written.
    return value.batches(num, seed, batch_size), num
  if kind == "source":
    source, total = value
    size = preprocessing[1] if preprocessing else source.kind.default_size
    if drop_last:
      total = total // batch_size * batch_size
    return sources.source_batches(source, size, batch_size, total), total
  if kind == "stream":
    total = value.count
    if drop_last and total is not None:
      total = total // batch_size * batch_size
    return value.batches(batch_size, limit=total), total
  if drop_last:
    # TTUR's get_activations: n_batches = n // batch_size.
    value = value[: len(value) // batch_size * batch_size]
  if preprocessing:
    return (
      sources.preprocessed_batches(value, *preprocessing, batch_size),
      len(value),
    )
  return sources.iter_batches(value, batch_size, notes, workers), len(value)


def _companions(
  a: core.Activations,
  b: core.Activations,
  results,
  method: str,
  kind: architecture.ExtractorKind,
) -> dict:
  """IS, KID, precision/recall and sFID: what --json adds to the FID. Each
  value that cannot be computed is null, and "why_null" says why; the
  Inception Score and the sFID only where the extractor provides
  Inception's logits and spatial features (fid.architecture)."""
  why: dict = {}
  out: dict = {"is_fid": kind.is_fid}
  scores = []
  for i, r in enumerate(results, start=1):
    if not kind.logits:
      scores.append(None)
      why["inception_score"] = [
        f"the {kind.name} extractor has no Inception logits"
      ]
    elif r.logits is None:
      scores.append(None)
      why.setdefault("inception_score", []).append(
        f"PATH{i} is statistics: no logits"
      )
    elif len(r.logits) < 10:
      scores.append(None)
      why.setdefault("inception_score", []).append(
        f"PATH{i} has {len(r.logits)} images; the score's 10 splits need "
        "at least 10"
      )
    else:
      scores.append(
        dict(zip(("mean", "std"), metrics.inception_score(r.logits)))
      )
  out["inception_score"] = scores
  if "inception_score" in why:
    why["inception_score"] = "; ".join(why["inception_score"])
  both = a.features is not None and b.features is not None
  out["kid"] = (
    dict(
      zip(
        ("mean", "std"),
        metrics.kernel_inception_distance(a.features, b.features),
      )
    )
    if both
    else None
  )
  if not both:
    why["kid"] = why["precision"] = why["recall"] = (
      "an input is statistics: no per-image features"
    )
  # PATH1 is the reference (real) set and PATH2 the generated one, as in
  # OpenAI's evaluator: precision = generated inside the real manifold.
  enough = (
    both and min(len(a.features), len(b.features)) > metrics.PR_NEIGHBOURS
  )
  if both and not enough:
    why["precision"] = why["recall"] = (
      f"{min(len(a.features), len(b.features))} images in the smaller "
      f"set; k = {metrics.PR_NEIGHBOURS} neighbours need at least "
      f"{metrics.PR_NEIGHBOURS + 1}"
    )
  pr = metrics.precision_recall(a.features, b.features) if enough else None
  out["precision"], out["recall"] = pr if pr else (None, None)
  spatial = a.spatial_mu is not None and b.spatial_mu is not None
  out["sfid"] = (
    frechet.calculate_frechet_distance(
      a.spatial_mu,
      a.spatial_sigma,
      b.spatial_mu,
      b.spatial_sigma,
      method=method,
    )
    if spatial
    else None
  )
  if not spatial:
    why["sfid"] = (
      f"the {kind.name} extractor has no Inception spatial features"
      if not kind.spatial
      else "an input is a statistics file without spatial_mu and "
      "spatial_sigma (TTUR's files have none)"
    )
  if why:
    out["why_null"] = why
  return out
