"""The library behind `python -m fid`: sources resolved, one pass per
input, the FID and the metrics that travel with it, as a dict."""

from __future__ import annotations

import dataclasses
import os
import warnings

from fid import architecture
from fid import companions
from fid import core
from fid import decode
from fid import download
from fid import frechet
from fid import generator as generator_lib
from fid import inputs
from fid import preprocess
from fid import provenance
from fid import sources
from fid import stats as stats_lib
from fid.options import Options

EXPECTED_ERRORS = (
  sources.SourceError,
  stats_lib.StatsError,
  download.InceptionError,
  generator_lib.GeneratorError,
  ValueError,
  OSError,
)


def compute(paths: list[str], options: Options | None = None, **fields):
  """Everything the CLI computes, as a dict: the FID of two inputs (with
  the companions of fid.companions where options.extra_metrics), or the
  statistics of one saved to options.save_stats. Fields of Options may be
  given as keywords instead of (or over) `options`."""
  options = _with_metric(dataclasses.replace(options or Options(), **fields))
  _check_arguments(paths, options)
  if options.cache_dir is None and options.inception_path is None:
    download.default_cache_dir()  # $FID_CACHE_DIR, before any pass.
  resolved = [
    inputs.resolve(
      p, options.recursive, options.data_dir, options.image_size, options.crop
    )
    for p in paths
  ]
  if options.image_size is not None and all(
    kind in ("stats", "generator") for kind, _ in resolved
  ):
    # A generator's samples are used at their own size, statistics as
    # they are: the flag would change nothing.
    raise ValueError(
      "--image_size applies to image inputs (folders, "
      "arrays, datasets); these are statistics or a "
      "generator"
    )
  _check_statistics_extractor(paths, resolved, options.extractor)
  passes = _Passes(options)
  results = [passes.run(p, r) for p, r in zip(paths, resolved)]
  out: dict = {"counts": [r.count or None for r in results]}
  if passes.generated:
    out["generated"] = passes.generated
  if passes.notes:
    out["converted_to_rgb"] = passes.notes
  if options.save_stats is not None:
    _save(paths[0], resolved[0], results[0], passes.net, options)
    out["saved"] = options.save_stats
    return out
  out.update(_distance(paths, resolved, results, passes.net, options))
  return out


def _distance(paths, resolved, results, net, options: Options) -> dict:
  """The Frechet distance of the two inputs, named by the extractor's
  metric (with its protocol), and the companions where asked."""
  a, b = results
  kind = architecture.EXTRACTOR_KINDS[options.extractor]
  out: dict = {"metric": kind.metric}
  if getattr(net, "protocol", None):
    out["protocol"] = net.protocol
  if kind.distance == "mmd":
    from fid import clip

    _check_shapes(paths, resolved, results, options, "features")
    out["cmmd"] = clip.cmmd(a.features, b.features)
    return out
  _check_shapes(paths, resolved, results, options, "mu")
  out["fid"] = frechet.calculate_frechet_distance(
    a.mu, a.sigma, b.mu, b.sigma, method=options.method
  )
  if options.extra_metrics:
    out.update(companions.companions(a, b, results, options.method, kind))
  return out


def _check_shapes(paths, resolved, results, options: Options, field: str):
  """ValueError where the two inputs' features (mu, or the embeddings)
  differ in width: statistics of different extractors."""
  a, b = (getattr(r, field) for r in results)
  if a.shape[-1] != b.shape[-1]:
    computed = [
      getattr(r, field) for (k, _), r in zip(resolved, results) if k != "stats"
    ]
    gives = (
      f" (--extractor={options.extractor} gives {computed[0].shape[-1]})"
      if computed
      else ""
    )
    raise ValueError(
      f"{paths[0]} has {a.shape[-1]} features and {paths[1]} "
      f"{b.shape[-1]}: statistics of different extractors cannot be "
      f"compared{gives}"
    )


class _Passes:
  """One pass per input through one extractor, made at the first image
  input (TensorFlow loads there, after the arguments and paths are
  checked); what the generators were asked and the RGB conversions are
  kept for the output."""

  def __init__(self, options: Options):
    self.options = options
    self.net = None
    self.generated: list[dict] = []
    self.notes: dict = {}

  def run(self, path: str, resolved) -> core.Activations:
    kind, value = resolved
    o = self.options
    if kind == "stats":
      return _recorded(path, value, o)
    if kind == "generator":
      self.generated.append(
        {
          "path": value.path,
          "num": o.num,
          "seed": o.seed,
          "z_dim": value.z_dim,
          "z_distribution": value.z_distribution,
          "step": value.info.get("step"),
        }
      )
    batches, total = inputs.batches(kind, value, o, self.notes)
    if self.net is None:
      from fid import inception

      # The sFID's spatial features ride along where they are reported or
      # saved (the tensor is computed anyway; its statistics are cheap).
      spatial = o.extra_metrics or o.save_stats is not None
      self.net = inception.make_extractor(
        o.extractor,
        o.inception_path,
        o.cache_dir,
        **({"spatial": spatial} if _kind(o).spatial else {}),
        **({"strategy": _mirrored()} if o.mirrored else {}),
      )
    # A warning about one set's statistics names that set.
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      result = core.run_pass(
        batches,
        self.net,
        keep=o.extra_metrics or _kind(o).distance == "mmd",
        progress=o.progress,
        total=total,
      )
    for warning in caught:
      message = str(warning.message).removeprefix("fid: ")
      warnings.warn(f"fid: {path}: {message}", warning.category, stacklevel=3)
    return result


def _mirrored():
  """A MirroredStrategy over the local GPUs, or without one the logical
  CPU devices (one unless they were configured)."""
  import tensorflow as tf

  from fid.exact import local_devices

  return tf.distribute.MirroredStrategy(local_devices())


def _kind(options: Options) -> architecture.ExtractorKind:
  return architecture.EXTRACTOR_KINDS[options.extractor]


def _recorded(path: str, value: stats_lib.StatsFile, o: Options):
  """A statistics (or embeddings) file as the activations of a pass;
  ValueError where it does not hold what the metric needs."""
  if o.save_stats is not None:
    raise ValueError(f"{path} already holds statistics")
  mmd = _kind(o).distance == "mmd"
  if mmd and value.embeddings is None:
    raise ValueError(
      f"{path} holds statistics (mu, sigma), not embeddings: "
      f"{_kind(o).metric} needs each image's embedding (save them with "
      f"--metric=cmmd --save_stats)"
    )
  if not mmd and value.embeddings is not None:
    raise ValueError(
      f"{path} holds embeddings, not statistics (mu, sigma): pass --metric=cmmd"
    )
  if mmd:
    return core.Activations(None, None, count=0, features=value.embeddings)
  spatial = value.spatial or (None, None)
  return core.Activations(
    value.mu,
    value.sigma,
    count=0,
    spatial_mu=spatial[0],
    spatial_sigma=spatial[1],
  )


def _save(path: str, resolved, result, net, options: Options) -> None:
  """The statistics of the one input (CMMD's: the embeddings), with their
  provenance record."""
  record = inputs.provenance_of(path, resolved, result.count, net, options)
  if _kind(options).distance == "mmd":
    stats_lib.save_embeddings(options.save_stats, result.features, record)
    return
  stats_lib.save_stats(
    options.save_stats,
    result.mu,
    result.sigma,
    spatial=(
      (result.spatial_mu, result.spatial_sigma)
      if result.spatial_mu is not None
      else None
    ),
    provenance=record,
  )


def _check_statistics_extractor(paths, resolved, extractor: str) -> None:
  """ValueError when a statistics file records features of another metric
  than `extractor` gives (FD_DINOv2's beside the FID's, say): their
  distance would be printed under the wrong name, or not computable."""
  wanted = architecture.EXTRACTOR_KINDS[extractor].metric
  for path, (kind, value) in zip(paths, resolved):
    if kind != "stats":
      continue
    # A damaged record reads as none: the numbers alone are used.
    recorded = value.provenance or {}
    made = architecture.EXTRACTOR_KINDS.get(recorded.get("extractor"))
    if made is not None and made.metric != wanted:
      switch = (
        f"--metric={made.metric.lower()}"
        if made.distance == "mmd"
        else f"--extractor={made.name}"
      )
      raise ValueError(
        f"{path} holds statistics of {made.name} features ({made.metric}); "
        f"--extractor={extractor} gives the {wanted}: pass {switch}"
      )


def _with_metric(o: Options) -> Options:
  """The options with the extractor --metric asks for (cmmd: clip, where
  the extractor is the default); ValueError where the two disagree."""
  asked = None if o.extractor == Options.extractor else o.extractor
  extractor = architecture.extractor_for(o.metric, asked)
  return dataclasses.replace(o, extractor=extractor or Options.extractor)


def _check_arguments(paths: list[str], o: Options) -> None:
  for name in ("batch_size", "num", "image_size", "workers"):
    value = getattr(o, name)
    if value is not None and value < 1:
      raise ValueError(f"--{name} must be positive, got {value}")
  if o.save_stats is not None and len(paths) != 1:
    raise ValueError("--save_stats takes exactly one input PATH")
  if o.save_stats is None and len(paths) != 2:
    raise ValueError("expected two paths (or one with --save_stats)")
  if o.save_stats is not None:
    _check_output(o.save_stats, o.overwrite)
  if o.crop is not None and o.image_size is None:
    raise ValueError(
      "--crop needs --image_size (the side the crop is resized to)"
    )
  if o.crop is not None and o.crop not in preprocess.CROPS:
    raise ValueError(f"--crop={o.crop}: one of {', '.join(preprocess.CROPS)}")
  decode.max_pixels()  # $FID_MAX_PIXELS, before any long computation.


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
