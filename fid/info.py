"""`python -m fid --info FILE`: what a statistics file holds and where
it came from, as a dict and as lines a person reads."""

from __future__ import annotations

import os

from fid import provenance
from fid import stats as stats_lib


def stats_info(path: str) -> dict:
  """What `python -m fid --info FILE` tells of a statistics file: the
  shapes it holds, whether it has the sFID's spatial statistics, its
  provenance record (None: TTUR's published files have none) and, for a
  published file's name, what TTUR computed it from. StatsError when the
  file is not usable statistics."""
  held = stats_lib.read(path)
  if held.embeddings is not None:  # CMMD's (fid.stats.save_embeddings).
    count, features = held.embeddings.shape
  else:
    count, features = None, held.mu.shape[0]
  return {
    "path": path,
    "features": int(features),
    "embeddings": count,
    "spatial": held.spatial is not None,
    "provenance": held.provenance,
    "ttur_published": provenance.TTUR_STATS.get(os.path.basename(path)),
  }


def format_stats_info(info: dict) -> list[str]:
  """stats_info's dict as lines a person reads."""
  held = (
    f"{info['embeddings']} embeddings of {info['features']} features"
    if info.get("embeddings")
    else f"mu and sigma of {info['features']} features"
  )
  lines = [
    f"{info['path']}: {held}"
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
