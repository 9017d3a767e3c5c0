"""python -m fid.verify [--inception=PATH] [--images=FOLDER] [--num=64]

Checks, on this machine, that the fast Keras port gives the original graph's
numbers: both extractors see the same images (a folder, or deterministic
synthetic ones at 32x32, 64x64 and 299x299), and the largest relative
difference of the pool_3 features and of the FID between two halves is
printed. Exit code 0 when features agree to 1e-4 and FIDs to 1e-6.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from fid import download
from fid import frechet
from fid import graph
from fid import inception
from fid import sources
from fid.errors import clipped
from fid.version import __version__

FEATURE_TOLERANCE = 1e-4
FID_TOLERANCE = 1e-6


def _synthetic(num: int, size: int, seed: int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  base = rng.uniform(0, 255, (num, 1, 1, 3))
  return np.clip(base + rng.normal(0, 40, (num, size, size, 3)), 0, 255)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m fid.verify")
  parser.add_argument(
    "--version", action="version", version=f"%(prog)s {__version__}"
  )
  parser.add_argument("--inception", default=None)
  parser.add_argument("--cache_dir", default=None)
  parser.add_argument("--images", default=None, help="a folder of images")
  parser.add_argument("--num", type=int, default=64)
  args = parser.parse_args(argv)
  try:
    graph_def = graph.load_graph_def(
      download.get_inception_graph(args.inception, args.cache_dir)
    )
    if args.images:
      files = sources.list_images(args.images)[: args.num]
      sets = {
        args.images: np.concatenate(list(sources.iter_batches(files, 50)))
      }
    else:
      sets = {
        f"synthetic {s}x{s}": _synthetic(args.num, s, s) for s in (32, 64, 299)
      }
  except (download.InceptionError, sources.SourceError) as e:
    print(f"error: {clipped(str(e))}", file=sys.stderr)
    return 2
  reference = inception.ReferenceExtractor(graph_def)
  fast = inception.FastExtractor(graph_def)
  worst_features = worst_fid = 0.0
  print("| images | features max rel. diff | FID (reference) | FID rel. diff |")
  print("|---|---|---|---|")
  for name, images in sets.items():
    batches = list(inception.batches(images, 50))
    ref = np.concatenate([reference(b)[0] for b in batches])
    new = np.concatenate([fast(b)[0] for b in batches])
    feature_diff = np.max(np.abs(new - ref)) / np.max(np.abs(ref))
    half = len(images) // 2
    fid_ref = frechet.frechet_distance_from_features(ref[:half], ref[half:])
    fid_new = frechet.frechet_distance_from_features(new[:half], new[half:])
    fid_diff = abs(fid_new - fid_ref) / max(abs(fid_ref), 1e-12)
    worst_features = max(worst_features, feature_diff)
    worst_fid = max(worst_fid, fid_diff)
    print(f"| {name} | {feature_diff:.2e} | {fid_ref:.6f} | {fid_diff:.2e} |")
  ok = worst_features < FEATURE_TOLERANCE and worst_fid < FID_TOLERANCE
  print(
    f"\n{'OK' if ok else 'MISMATCH'}: features {worst_features:.2e} "
    f"(< {FEATURE_TOLERANCE}), FID {worst_fid:.2e} (< {FID_TOLERANCE})"
  )
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
