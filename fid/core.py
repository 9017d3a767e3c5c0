"""From images to statistics and scores: the pass that feeds everything."""

from __future__ import annotations

import dataclasses
import sys
import warnings
from typing import Iterable

import numpy as np

from fid import architecture
from fid import stats as stats_lib

MIN_FULL_RANK = architecture.FEATURE_DIM
MIN_RECOMMENDED = 10_000


@dataclasses.dataclass
class Activations:
  """What one pass over a set of images gives."""
  mu: np.ndarray
  sigma: np.ndarray
  count: int
  features: np.ndarray | None = None  # float32 [N, 2048], kept for KID, P/R
  logits: np.ndarray | None = None  # float32 [N, 1008], kept for IS
  # The sFID's statistics (mixed_6/conv, 2,023-d), from a spatial extractor.
  spatial_mu: np.ndarray | None = None
  spatial_sigma: np.ndarray | None = None


def run_pass(batches: Iterable[np.ndarray], extractor, keep: bool = False,
             progress: bool = False, total: int | None = None) -> Activations:
  """Streams batches through the extractor into float64 statistics.

  Args:
    batches: float or uint8 image batches [n, H, W, 3] in [0, 255].
    extractor: a callable images -> (features [n, d], logits [n, k]) or,
      with spatial=True (fid.inception), (features, logits, spatial
      [n, 2023]) whose statistics give the sFID: the
      2015 Inception graph's (d = 2048, k = 1008) for the FID, or any other
      (fid.saved_model.SavedModelExtractor) with a `feature_dim` attribute.
    keep: also keep every feature and logit row (for KID and IS); memory
      then grows with the number of images, otherwise it does not.
    progress: show a progress bar on stderr.
    total: the number of images, for the progress bar.
  """
  replicas = getattr(getattr(extractor, "strategy", None),
                     "num_replicas_in_sync", 1)
  # One float64 accumulator per replica, merged at the end: the statistics
  # equal the one-device ones whatever the number of replicas.
  dim = getattr(extractor, "feature_dim", architecture.FEATURE_DIM)
  accumulators = [stats_lib.RunningStats(dim) for _ in range(replicas)]
  spatial = None  # One more accumulator per replica for the sFID.
  kept_features, kept_logits = [], []
  bar = None
  if progress:
    import tqdm  # pylint: disable=g-import-not-at-top
    bar = tqdm.tqdm(total=total, unit="img", file=sys.stderr, leave=False)
  try:
    for batch in batches:
      if replicas > 1:
        results = extractor.per_replica(batch)
      else:
        results = [extractor(batch)]
      for i, (accumulator, result) in enumerate(zip(accumulators, results)):
        features, logits = result[:2]
        accumulator.update(features)
        if len(result) > 2:
          if spatial is None:
            spatial = [stats_lib.RunningStats(result[2].shape[1])
                       for _ in range(replicas)]
          spatial[i].update(result[2])
        if keep:
          kept_features.append(features.astype(np.float32))
          kept_logits.append(logits.astype(np.float32))
      if bar is not None:
        bar.update(len(batch))
  finally:
    if bar is not None:
      bar.close()
  running = accumulators[0]
  for other in accumulators[1:]:
    running.merge(other)
  if running.count < 2:
    raise stats_lib.StatsError(
        f"need at least 2 images for the statistics, got {running.count}")
  if dim == architecture.FEATURE_DIM:
    warn_sample_size(running.count)
  elif running.count < dim:
    warnings.warn(f"fid: {running.count} images < {dim} features: the "
                  "covariance is rank deficient", RuntimeWarning, stacklevel=2)
  spatial_mu = spatial_sigma = None
  if spatial is not None:
    for other in spatial[1:]:
      spatial[0].merge(other)
    spatial_mu, spatial_sigma = spatial[0].mean, spatial[0].covariance()
  return Activations(
      running.mean, running.covariance(), running.count,
      np.concatenate(kept_features) if keep else None,
      np.concatenate(kept_logits) if keep else None,
      spatial_mu, spatial_sigma)


def warn_sample_size(count: int) -> None:
  if count < MIN_FULL_RANK:
    warnings.warn(
        f"fid: {count} images < {MIN_FULL_RANK}: the covariance is rank "
        "deficient, so the FID is unreliable and not comparable",
        RuntimeWarning, stacklevel=3)
  elif count < MIN_RECOMMENDED:
    warnings.warn(
        f"fid: {count} images < {MIN_RECOMMENDED}: the FID estimate is "
        "biased by the small sample and not comparable to 50k-sample figures "
        "(TTUR's README recommends at least 10,000)",
        RuntimeWarning, stacklevel=3)
