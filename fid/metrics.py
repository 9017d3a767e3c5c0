"""Inception Score and Kernel Inception Distance from the same pass.

IS (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))) over 10 splits, with
p(y|x) the softmax of pool_3 @ W, the head's logits without the bias (as
improved-gan, OpenAI and torch-fidelity compute it). KID (Binkowski et al.
2018): the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over 100 random subsets of 1,000
(torch-fidelity's defaults). Precision and recall (Kynkaanniemi et al.
2019) with k = 3 on the pool_3 features, as OpenAI's guided-diffusion
evaluator computes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.special


def inception_score(
  logits: np.ndarray, splits: int = 10
) -> tuple[float, float]:
  """Mean and standard deviation of the IS over `splits` equal parts."""
  logits = np.asarray(logits, np.float64)
  if logits.ndim != 2 or logits.shape[0] < splits:
    raise ValueError(f"need logits [N >= {splits}, C], got {logits.shape}")
  log_p = scipy.special.log_softmax(logits, axis=1)
  scores = []
  for part in np.array_split(log_p, splits):
    log_marginal = scipy.special.logsumexp(part, axis=0) - np.log(len(part))
    kl = np.sum(np.exp(part) * (part - log_marginal), axis=1)
    scores.append(np.exp(np.mean(kl)))
  return float(np.mean(scores)), float(np.std(scores))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  d = x.shape[1]
  k_xx = (x @ x.T / d + 1) ** 3
  k_yy = (y @ y.T / d + 1) ** 3
  k_xy = (x @ y.T / d + 1) ** 3
  m, n = len(x), len(y)
  return float(
    (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    - 2 * k_xy.mean()
  )


def kernel_inception_distance(
  features1: np.ndarray,
  features2: np.ndarray,
  subsets: int = 100,
  subset_size: int = 1000,
  seed: int = 2020,
  before_subset: Callable[[], None] | None = None,
) -> tuple[float, float]:
  """Mean and standard deviation of the unbiased MMD^2 over random subsets.

  before_subset, when given, is called before each subset (a trainer's
  stop check: it may raise to end the loop, which any count of subsets
  then hears within one subset)."""
  f1 = np.asarray(features1, np.float64)
  f2 = np.asarray(features2, np.float64)
  size = min(subset_size, len(f1), len(f2))
  if size < 2:
    raise ValueError("KID needs at least 2 images on each side")
  rng = np.random.RandomState(seed)
  values = []
  for _ in range(subsets):
    if before_subset is not None:
      before_subset()
    values.append(
      _mmd2_unbiased(
        f1[rng.choice(len(f1), size, replace=False)],
        f2[rng.choice(len(f2), size, replace=False)],
      )
    )
  return float(np.mean(values)), float(np.std(values))


PR_NEIGHBOURS = 3


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Squared Euclidean distances [len(a), len(b)], float64, clipped at 0."""
  d = (
    np.sum(a * a, axis=1)[:, None]
    - 2.0 * a @ b.T
    + np.sum(b * b, axis=1)[None, :]
  )
  return np.maximum(d, 0.0)


def manifold_radii(
  features: np.ndarray, k: int = PR_NEIGHBOURS, block: int = 1024
) -> np.ndarray:
  """The squared distance of each row to its k-th nearest other row."""
  f = np.asarray(features, np.float64)
  if len(f) <= k:
    raise ValueError(
      f"precision/recall need more than k = {k} images on "
      f"each side, got {len(f)}"
    )
  radii = np.empty(len(f))
  for start in range(0, len(f), block):
    d = _squared_distances(f[start : start + block], f)
    # Index 0 of each sorted row is the row itself (distance 0).
    radii[start : start + block] = np.partition(d, k, axis=1)[:, k]
  return radii


def _coverage(
  points: np.ndarray, centres: np.ndarray, radii: np.ndarray, block: int = 1024
) -> float:
  """The share of points inside at least one ball (centre, radius)."""
  inside = 0
  for start in range(0, len(points), block):
    d = _squared_distances(points[start : start + block], centres)
    inside += int(np.sum(np.any(d <= radii[None, :], axis=1)))
  return inside / len(points)


def precision_recall(
  real: np.ndarray, fake: np.ndarray, k: int = PR_NEIGHBOURS
) -> tuple[float, float]:
  """(precision, recall): the share of generated images inside the real
  images' k-NN manifold, and of real images inside the generated one."""
  real = np.asarray(real, np.float64)
  fake = np.asarray(fake, np.float64)
  precision = _coverage(fake, real, manifold_radii(real, k))
  recall = _coverage(real, fake, manifold_radii(fake, k))
  return precision, recall
