"""The Frechet distance between two Gaussians, as TTUR's fid.py computes it.

d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), in float64.

Numeric hazards, all handled here:
- A singular product S1 S2 (fewer samples than dimensions, mode collapse):
  when the square root of S1 S2 is not finite, TTUR computes that square
  root again with eps = 1e-6 added to both diagonals (tr(S1) and tr(S2)
  keep no offset); both methods below do the same.
- scipy's sqrtm returns small imaginary parts; TTUR raises if the diagonal's
  imaginary part exceeds 1e-3 and drops it otherwise ("ttur" method).
- scipy 1.11.2-1.12 sqrtm gives huge spurious imaginary parts and 1.16
  deprecated `disp`; the default "eigh" method avoids sqrtm altogether:
  tr((S1 S2)^(1/2)) = sum sqrt(eig(A S2 A)) with A = S1^(1/2), both from
  symmetric eigendecompositions (eigenvalues clipped at 0).
- Statistics in float32 shift the FID by ~1e-2; everything is float64.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from fid.errors import SampleSizeWarning
from fid.stats import check_covariance

EPS = 1e-6
IMAGINARY_ATOL = 1e-3
METHODS = ("eigh", "ttur")


def _check(mu1, sigma1, mu2, sigma2):
  mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
  mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
  sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
  if mu1.shape != mu2.shape:
    raise ValueError(
      f"mean vectors have different lengths: {mu1.shape} vs {mu2.shape}"
    )
  if sigma1.shape != sigma2.shape:
    raise ValueError(
      f"covariances have different dimensions: {sigma1.shape} vs {sigma2.shape}"
    )
  if sigma1.shape != (mu1.shape[0], mu1.shape[0]):
    raise ValueError(
      f"covariance {sigma1.shape} does not match the mean {mu1.shape}"
    )
  for name, value in (
    ("mu1", mu1),
    ("sigma1", sigma1),
    ("mu2", mu2),
    ("sigma2", sigma2),
  ):
    if not np.all(np.isfinite(value)):
      raise ValueError(f"{name} contains NaN or infinite values")
  check_covariance(sigma1, "sigma1")
  check_covariance(sigma2, "sigma2")
  return mu1, sigma1, mu2, sigma2


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
  values, vectors = np.linalg.eigh(sigma)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """tr((S1 S2)^(1/2)) = sum sqrt(eig(F^T S2 F)) for any F with F F^T = S1.

  F is the Cholesky factor when S1 is positive definite (the usual case with
  more than 2048 samples; ~3x cheaper than a full eigendecomposition), and
  the symmetric square root from eigh otherwise. S1 S2 = F F^T S2 is similar
  to F^T S2 F, which is symmetric, so eigvalsh gives its eigenvalues exactly.
  """
  return _trace_with_factor(_factor(sigma1), sigma2)


def _factor(sigma1: np.ndarray) -> np.ndarray:
  """F with F F^T = S1: Cholesky's, or the symmetric square root."""
  try:
    return np.linalg.cholesky(sigma1)
  except np.linalg.LinAlgError:  # Singular S1: fewer samples than dimensions.
    return _sqrt_psd(sigma1)


def _trace_with_factor(factor: np.ndarray, sigma2: np.ndarray) -> float:
  middle = factor.T @ sigma2 @ factor
  middle = (middle + middle.T) / 2.0  # Exact symmetry for eigvalsh.
  values = np.linalg.eigvalsh(middle)
  return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def trace_sqrt_product_ttur(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """tr(sqrtm(S1 S2)) with TTUR's retry and imaginary-part rules."""
  covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
  if not np.all(np.isfinite(covmean)):
    warnings.warn(
      f"fid: singular product; adding {EPS} to the diagonal of "
      "both covariances",
      SampleSizeWarning,
      stacklevel=3,
    )
    offset = np.eye(sigma1.shape[0]) * EPS
    covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
  if np.iscomplexobj(covmean):
    if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_ATOL):
      raise ValueError(
        f"Imaginary component {np.max(np.abs(covmean.imag))}: the "
        "covariances are too singular (too few samples?)"
      )
    covmean = covmean.real
  return float(np.trace(covmean))


def calculate_frechet_distance(
  mu1, sigma1, mu2, sigma2, eps: float = EPS, method: str = "eigh"
) -> float:
  """The Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

  Args:
    mu1, mu2: mean vectors [D] (TTUR's argument order and names).
    sigma1, sigma2: covariance matrices [D, D].
    eps: the diagonal offset of the retry on a non-finite result.
    method: "eigh" (default, exact, no sqrtm) or "ttur" (scipy sqrtm with
      TTUR's exact rules).

  Returns:
    The squared Frechet distance as a Python float (what papers call FID).

  Raises:
    ValueError: on shape mismatches, non-finite statistics, an unknown
      method, or (method "ttur") an imaginary diagonal part above 1e-3.
  """
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
  mu1, sigma1, mu2, sigma2 = _check(mu1, sigma1, mu2, sigma2)
  diff = mu1 - mu2
  if method == "ttur":
    trace = trace_sqrt_product_ttur(sigma1, sigma2)
  else:
    trace = trace_sqrt_product_eigh(sigma1, sigma2)
    if not np.isfinite(trace):
      offset = np.eye(sigma1.shape[0]) * eps
      trace = trace_sqrt_product_eigh(sigma1 + offset, sigma2 + offset)
  value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace)
  if not np.isfinite(value):
    raise ValueError("the Frechet distance is not finite")
  return value


def distances_to(mu1, sigma1):
  """The Frechet distance to one fixed N(mu1, sigma1), as a function of
  (mu2, sigma2), with sigma1's factor computed once: what a table of many
  distances to one reference (the disturbance experiment) needs. Each
  value is calculate_frechet_distance(mu1, sigma1, mu2, sigma2) (the
  eigh method, its eps retry included)."""
  mu1, sigma1, _, _ = _check(mu1, sigma1, mu1, sigma1)
  factor = _factor(sigma1)

  def distance(mu2, sigma2) -> float:
    _, _, mu2, sigma2 = _check(mu1, sigma1, mu2, sigma2)
    trace = _trace_with_factor(factor, sigma2)
    if not np.isfinite(trace):  # The retry, as calculate_frechet_distance.
      return calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace)
    if not np.isfinite(value):
      raise ValueError("the Frechet distance is not finite")
    return value

  return distance


def frechet_distance_from_features(
  features1: np.ndarray, features2: np.ndarray
) -> float:
  """The same distance from the feature rows, exact also when N < D.

  With centred rows X1, X2 and S_i = X_i^T X_i / (n_i - 1), the non-zero
  eigenvalues of S1 S2 are the squared singular values of X1 X2^T /
  sqrt((n1 - 1)(n2 - 1)), so tr((S1 S2)^(1/2)) is that matrix's nuclear norm.
  This avoids the square roots of the numerically-zero eigenvalues that make
  D x D methods noisy for rank-deficient covariances (fewer than 2048
  images), which is what tests with few images need.
  """
  x1 = np.asarray(features1, np.float64)
  x2 = np.asarray(features2, np.float64)
  if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
    raise ValueError(
      f"features must be [N, D] alike, got {x1.shape} and {x2.shape}"
    )
  n1, n2 = len(x1), len(x2)
  if min(n1, n2) < 2:
    raise ValueError("need at least 2 rows on each side")
  mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
  c1, c2 = x1 - mu1, x2 - mu2
  cross = c1 @ c2.T / np.sqrt((n1 - 1) * (n2 - 1))
  trace = np.sum(np.linalg.svd(cross, compute_uv=False))
  diff = mu1 - mu2
  return float(
    diff @ diff
    + np.sum(c1 * c1) / (n1 - 1)
    + np.sum(c2 * c2) / (n2 - 1)
    - 2 * trace
  )
