"""Where a statistics file came from, and TTUR's published files by name.

Every `.npz` this package writes carries a `provenance` record beside `mu`
and `sigma` (a JSON string; TTUR's and pytorch-fid's readers ignore it):
the source, its split, the number of images, the size and crop they were
brought to, the extractor, the Inception graph's MD5 and this package's
version. TTUR's published files have none. A file made from other images
must not pass for a published one, so the published names are reserved.
"""

from __future__ import annotations

import datetime
import os
from typing import TypedDict, Unpack

from fid import download
from fid.version import __version__

# TTUR's published statistics (docs/paper.md A.2; SPEC "Published files").
TTUR_STATS_URL = "http://bioinf.jku.at/research/ttur/ttur_stats/"
TTUR_STATS = {
  "fid_stats_celeba.npz": "celeb_a: all 202,599 images, 108 center crop, 64x64",
  "fid_stats_lsun_train.npz": "lsun/bedroom: all training images, 64x64",
  "fid_stats_cifar10_train.npz": "cifar10: the 50,000 training images",
  "fid_stats_svhn_train.npz": "svhn_cropped: the 73,257 training images",
  "fid_stats_imagenet_train.npz": "ImageNet 64x64 (downsampled), train",
  "fid_stats_imagenet_valid.npz": "ImageNet 64x64 (downsampled), validation",
}
# The fields a run's expectation is compared on.
COMPARED = ("dataset", "split", "image_size", "crop")


def is_ttur_name(path: str) -> bool:
  return os.path.basename(path) in TTUR_STATS


def ttur_url(path: str) -> str | None:
  """The download URL of a TTUR published file's name, else None."""
  name = os.path.basename(path)
  return TTUR_STATS_URL + name if name in TTUR_STATS else None


def graph_md5(pb_path: str) -> str:
  """The MD5 of a GraphDef file, computed once per file version."""
  return download.file_md5(pb_path)


def is_paper_graph(md5: str | None) -> bool:
  return md5 == download.PB_MD5


def foreign_graph_warning(pb_path: str, md5: str) -> str:
  return (
    f"fid: {pb_path} is not the 2015-12-05 Inception graph (MD5 {md5}, "
    f"expected {download.PB_MD5}): its FIDs cannot be compared with "
    "published ones"
  )


class Images(TypedDict, total=False):
  """What a record says of the images, where it is known: the dataset
  (a TFDS name, folder:PATH, a source's spelling, savedmodel:DIR), its
  split, and the side and crop they were brought to."""

  dataset: str | None
  split: str | None
  image_size: int | None
  crop: str | None


def record(
  source: str,
  count: int,
  extractor: str,
  graph_md5_value: str,
  drop_last_partial_batch: bool = False,
  protocol: dict | None = None,
  **images: Unpack[Images],
) -> dict:
  """The provenance record of a statistics file (see the module);
  protocol: how an extractor other than the 2015 graph computes its
  features (fid.dinov2.PROTOCOL, with its backbone and weights)."""
  unknown = set(images) - set(Images.__annotations__)
  if unknown:
    raise TypeError(f"record() got unknown fields {sorted(unknown)}")
  dataset, split = images.get("dataset"), images.get("split")
  image_size, crop = images.get("image_size"), images.get("crop")
  recorded = {
    "source": source,
    "dataset": dataset,
    "split": split,
    "count": count,
    "image_size": image_size,
    "crop": crop,
    "resize": _resize(image_size, protocol),
    "drop_last_partial_batch": drop_last_partial_batch,
    "extractor": extractor,
    "graph_md5": graph_md5_value,
    "paper_graph": is_paper_graph(graph_md5_value),
    "fid_version": __version__,
    "created": datetime.datetime.now(datetime.timezone.utc).strftime(
      "%Y-%m-%dT%H:%M:%SZ"
    ),
  }
  if protocol is not None:
    recorded["protocol"] = protocol
  return recorded


def _resize(image_size: int | None, protocol: dict | None) -> str:
  """How the images were resized: to image_size (training's way), then by
  the extractor (the 2015 graph to 299 itself; another by its protocol)."""
  model = protocol["resize"] if protocol else "the graph resizes to 299"
  if image_size:
    return f"antialiased bilinear to image_size, then {model}"
  return f"none: as stored ({model})"


def describe(recorded: dict) -> str:
  """One line: what the images were."""
  where = recorded.get("source") or "?"
  size = recorded.get("image_size")
  crop = recorded.get("crop")
  return f"{where}, {recorded.get('count')} images" + (
    f", {crop} crop to {size}x{size}" if size else ", as stored"
  )


def differences(recorded: dict, expected: dict) -> list[str]:
  """'field: recorded X, run Y' for each COMPARED field the record states
  and the run expects differently."""
  found = []
  for key in COMPARED:
    have, want = recorded.get(key), expected.get(key)
    # A record's image_size of null states "as stored": a difference from
    # a run that brings its images to a size.
    stated = have is not None or (key == "image_size" and key in recorded)
    if stated and want is not None and have != want:
      have = "as stored" if have is None else repr(have)
      found.append(f"{key} {have} in the file, {want!r} in the run")
  return found
