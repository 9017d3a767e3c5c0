"""From images to statistics and scores: the pass that feeds everything."""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses
import sys
import warnings

import numpy as np

from fid import architecture
from fid import stats as stats_lib
from fid.errors import SampleSizeWarning

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


class _PerReplica:
  """Float64 statistics per replica (and of the sFID's spatial features
  when the extractor gives them), merged at the end: they equal the
  one-device ones whatever the number of replicas."""

  def __init__(self, dim: int, replicas: int, keep: bool):
    self.main = [stats_lib.RunningStats(dim) for _ in range(replicas)]
    self.spatial = None  # Made at the first result that has them.
    self.keep = keep
    self.features, self.logits = [], []

  def update(self, replica: int, result) -> None:
    features, logits = result[:2]
    self.main[replica].update(features)
    if len(result) > 2:
      if self.spatial is None:
        self.spatial = [
          stats_lib.RunningStats(result[2].shape[1]) for _ in self.main
        ]
      self.spatial[replica].update(result[2])
    if self.keep:
      self.features.append(features.astype(np.float32))
      self.logits.append(logits.astype(np.float32))

  @staticmethod
  def _merged(accumulators):
    for other in accumulators[1:]:
      accumulators[0].merge(other)
    return accumulators[0]

  def activations(self) -> Activations:
    running = self._merged(self.main)
    if running.count < 2:
      raise stats_lib.StatsError(
        f"need at least 2 images for the statistics, got {running.count}"
      )
    spatial = self._merged(self.spatial) if self.spatial else None
    return Activations(
      running.mean,
      running.covariance(),
      running.count,
      np.concatenate(self.features) if self.keep else None,
      np.concatenate(self.logits) if self.keep else None,
      spatial.mean if spatial else None,
      spatial.covariance() if spatial else None,
    )


def run_pass(
  batches: Iterable[np.ndarray],
  extractor,
  keep: bool = False,
  progress: bool = False,
  total: int | None = None,
) -> Activations:
  """Streams batches through the extractor into float64 statistics.

  Args:
    batches: float or uint8 image batches [n, H, W, 3] in [0, 255].
    extractor: a callable images -> (features [n, d], logits [n, k]) or,
      with spatial=True (fid.inception), (features, logits, spatial
      [n, 2023]) whose statistics give the sFID: the
      2015 Inception graph's (d = 2048, k = 1008) for the FID, or any other
      (fid.saved_model.SavedModelExtractor) with a `feature_dim` attribute.
      One with a multi-replica `strategy` gives one result per replica.
    keep: also keep every feature and logit row (for KID and IS); memory
      then grows with the number of images, otherwise it does not.
    progress: show a progress bar on stderr.
    total: the number of images, for the progress bar.
  """
  replicas = getattr(
    getattr(extractor, "strategy", None), "num_replicas_in_sync", 1
  )
  dim = getattr(extractor, "feature_dim", architecture.FEATURE_DIM)
  accumulated = _PerReplica(dim, replicas, keep)
  bar = None
  if progress:
    import tqdm

    bar = tqdm.tqdm(total=total, unit="img", file=sys.stderr, leave=False)
  try:
    for batch in batches:
      results = (
        extractor.per_replica(batch) if replicas > 1 else [extractor(batch)]
      )
      for replica, result in enumerate(results):
        accumulated.update(replica, result)
      if bar is not None:
        bar.update(len(batch))
  finally:
    if bar is not None:
      bar.close()
  activations = accumulated.activations()
  kind = architecture.EXTRACTOR_KINDS.get(getattr(extractor, "kind", ""))
  if kind is None or kind.distance == "frechet":  # A covariance is used.
    _warn_rank(activations.count, dim)
  return activations


def _warn_rank(count: int, dim: int) -> None:
  if dim == architecture.FEATURE_DIM:
    warn_sample_size(count)
  elif count < dim:
    warnings.warn(
      f"fid: {count} images < {dim} features: the covariance is rank deficient",
      SampleSizeWarning,
      stacklevel=3,
    )


def warn_sample_size(count: int) -> None:
  if count < MIN_FULL_RANK:
    warnings.warn(
      f"fid: {count} images < {MIN_FULL_RANK}: the covariance is rank "
      "deficient, so the FID is unreliable and not comparable",
      SampleSizeWarning,
      stacklevel=3,
    )
  elif count < MIN_RECOMMENDED:
    warnings.warn(
      f"fid: {count} images < {MIN_RECOMMENDED}: the FID estimate is "
      "biased by the small sample and not comparable to 50k-sample figures "
      "(TTUR's README recommends at least 10,000)",
      SampleSizeWarning,
      stacklevel=3,
    )
