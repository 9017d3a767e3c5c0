"""Inception Score and Kernel Inception Distance from the same pass.

IS (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))) over 10 splits, with
p(y|x) the softmax of pool_3 @ W, the head's logits without the bias (as
improved-gan, OpenAI and torch-fidelity compute it). KID (Binkowski et al.
2018): the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over 100 random subsets of 1,000
(torch-fidelity's defaults).
"""

from __future__ import annotations

import numpy as np
import scipy.special


def inception_score(logits: np.ndarray, splits: int = 10
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
  return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) +
               (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)) -
               2 * k_xy.mean())


def kernel_inception_distance(features1: np.ndarray, features2: np.ndarray,
                              subsets: int = 100, subset_size: int = 1000,
                              seed: int = 2020) -> tuple[float, float]:
  """Mean and standard deviation of the unbiased MMD^2 over random subsets."""
  f1 = np.asarray(features1, np.float64)
  f2 = np.asarray(features2, np.float64)
  size = min(subset_size, len(f1), len(f2))
  if size < 2:
    raise ValueError("KID needs at least 2 images on each side")
  rng = np.random.RandomState(seed)
  values = [
      _mmd2_unbiased(f1[rng.choice(len(f1), size, replace=False)],
                     f2[rng.choice(len(f2), size, replace=False)])
      for _ in range(subsets)]
  return float(np.mean(values)), float(np.std(values))
