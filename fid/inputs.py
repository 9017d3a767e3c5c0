"""What `python -m fid` reads: each input spelled as a path resolved to
what it is (statistics, images, a TFDS stream, a registry source, a
generator), its batches, and the provenance record its statistics carry."""

from __future__ import annotations

import os

import numpy as np

from fid import datasources
from fid import generator as generator_lib
from fid import provenance
from fid import sources
from fid import stats as stats_lib
from fid.options import Options


def plain(path: str) -> str:
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
  """('stats', fid.stats.StatsFile), ('images', list of files or array),
  ('stream', TfdsSource), ('source', (Source, its image count)) or
  ('generator', SavedModelGenerator). folder:PATH is the folder PATH."""
  path = plain(path)
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
        is_stats = any(k in data.files for k in ("mu", "sigma", "embeddings"))
    except stats_lib.NPZ_READ_ERRORS as e:
      raise sources.SourceError(f"{path}: not a readable .npz ({e})") from None
    if is_stats:
      return "stats", stats_lib.read(path, strict_record=False)
    return "images", sources.load_array(path)
  if path.endswith(".npy"):
    return "images", sources.load_array(path)
  raise sources.SourceError(
    f"{path}: not a folder, .npz, .npy, tfds:NAME:SPLIT or savedmodel:DIR"
  )


def batches(kind: str, value, options: Options, notes: dict):
  """(batches, total) of one image input, as `options` ask (batch size,
  drop_last_partial_batch, a generator's num and seed, the decoding
  workers, and (crop, size) for a folder or an array, as training brings
  its images to size); notes collects the RGB conversions."""
  batch_size, drop_last = options.batch_size, options.drop_last_partial_batch
  preprocessing = options.preprocessing
  if kind == "generator":
    # Sampled in memory through serving_default; no image is written.
    return value.batches(options.num, options.seed, batch_size), options.num
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
  workers = options.workers
  return sources.iter_batches(value, batch_size, notes, workers), len(value)


def provenance_of(
  path: str, resolved, count: int, net, options: Options
) -> dict:
  """The record a saved statistics file carries (fid.provenance), with
  the options that made it (drop_last_partial_batch, the (crop, size)
  applied to a folder or an array)."""
  drop_last, preprocessing = (
    options.drop_last_partial_batch,
    options.preprocessing,
  )
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
      protocol=getattr(net, "protocol", None),
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
    source = os.path.abspath(plain(path))
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
    protocol=getattr(net, "protocol", None),
    **fields,
  )
