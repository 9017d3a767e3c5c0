"""Streaming float64 mean and covariance, and TTUR-compatible .npz files.

`RunningStats` merges batches with Chan et al.'s parallel update (exact in
float64, memory O(D^2) whatever the number of images); `covariance()` uses
ddof = 1 like `np.cov(rowvar=False)` in TTUR. Statistics files are
`np.savez_compressed(path, mu=[D], sigma=[D, D])`, as TTUR's published
`fid_stats_*.npz`, pytorch-fid's `--save-stats` and clean-fid, with this
package's `provenance` record beside them (fid.provenance).
"""

from __future__ import annotations

import json
from typing import NamedTuple
import zipfile

import numpy as np

from fid import files

# What np.load raises for a file that is not a readable .npy/.npz (a
# truncated or non-zip .npz raises BadZipFile, which is neither of the
# others). Every reader of user-given arrays catches exactly these.
NPZ_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)


class StatsError(ValueError):
  """A statistics file or array that cannot be used; the message says why."""


def _unreadable(path: str, error: BaseException) -> StatsError:
  """The one line for a file np.load cannot read as an .npz (NumPy's own
  advice to load a text file unsafely is not passed on)."""
  reason = str(error)
  if "allow_pickle" in reason or "pickled" in reason:
    reason = "it is not an .npz archive of arrays"
  return StatsError(f"{path}: not a readable .npz file ({reason})")


class RunningStats:
  """Mean and covariance of feature rows, accumulated batch by batch."""

  def __init__(self, dim: int):
    self.dim = dim
    self.count = 0
    self.mean = np.zeros(dim, np.float64)
    self._m2 = np.zeros((dim, dim), np.float64)

  def update(self, features) -> None:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != self.dim:
      raise ValueError(f"expected features [N, {self.dim}], got {x.shape}")
    n = x.shape[0]
    if n == 0:
      return
    batch_mean = x.mean(axis=0)
    centred = x - batch_mean
    batch_m2 = centred.T @ centred
    total = self.count + n
    delta = batch_mean - self.mean
    self._m2 += batch_m2 + np.outer(delta, delta) * (self.count * n / total)
    self.mean = self.mean + delta * (n / total)
    self.count = total

  def merge(self, other: RunningStats) -> None:
    """Adds another accumulator's images (e.g. from another replica)."""
    if other.count == 0:
      return
    total = self.count + other.count
    delta = other.mean - self.mean
    self._m2 += other._m2 + np.outer(delta, delta) * (
      self.count * other.count / total
    )
    self.mean = self.mean + delta * (other.count / total)
    self.count = total

  def covariance(self) -> np.ndarray:
    if self.count < 2:
      raise StatsError(
        f"need at least 2 images for a covariance, got {self.count}"
      )
    return self._m2 / (self.count - 1)


def save_stats(
  path: str,
  mu: np.ndarray,
  sigma: np.ndarray,
  spatial: tuple[np.ndarray, np.ndarray] | None = None,
  provenance: dict | None = None,
) -> None:
  """Writes mu and sigma (TTUR's keys) with np.savez_compressed,
  atomically; spatial (the sFID's mu and sigma) as spatial_mu and
  spatial_sigma beside them, and provenance (fid.provenance.record) as a
  JSON string, both of which TTUR's readers ignore."""
  mu = np.asarray(mu, np.float64)
  sigma = np.asarray(sigma, np.float64)
  _validate(mu, sigma, path)
  extra = {}
  if spatial is not None:
    extra = {
      "spatial_mu": np.asarray(spatial[0], np.float64),
      "spatial_sigma": np.asarray(spatial[1], np.float64),
    }
    _validate(*extra.values(), path, names=SPATIAL_KEYS)
  if provenance is not None:
    extra["provenance"] = np.array(json.dumps(provenance, sort_keys=True))
  with files.atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      np.savez_compressed(f, mu=mu, sigma=sigma, **extra)


def save_embeddings(
  path: str, embeddings: np.ndarray, provenance: dict | None = None
) -> None:
  """Writes CMMD's embeddings [N, E] (float32, as cmmd computes them)
  under the key `embeddings`, atomically, with the provenance record as
  save_stats writes it; no mu or sigma (a kernel distance needs every
  embedding)."""
  embeddings = np.asarray(embeddings, np.float32)
  _validate_embeddings(embeddings, path)
  extra = {}
  if provenance is not None:
    extra["provenance"] = np.array(json.dumps(provenance, sort_keys=True))
  with files.atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      np.savez_compressed(f, embeddings=embeddings, **extra)


def _validate_embeddings(embeddings: np.ndarray, path: str) -> None:
  if not np.issubdtype(embeddings.dtype, np.floating):
    raise StatsError(f"{path}: embeddings of dtype {embeddings.dtype}")
  if embeddings.ndim != 2 or len(embeddings) < 2:
    raise StatsError(
      f"{path}: embeddings of shape {embeddings.shape}; CMMD needs [N, E] "
      "with N >= 2"
    )
  if not np.all(np.isfinite(embeddings)):
    raise StatsError(f"{path}: the embeddings hold NaN or infinity")


class StatsFile(NamedTuple):
  """Everything a statistics file holds, read with one opening: mu and
  sigma, the sFID's (spatial_mu, spatial_sigma) or None, and the
  provenance record or None (TTUR's published files have neither); or,
  in an embeddings file (save_embeddings), the embeddings [N, E] with mu
  and sigma None."""

  mu: np.ndarray | None
  sigma: np.ndarray | None
  spatial: tuple[np.ndarray, np.ndarray] | None
  provenance: dict | None
  embeddings: np.ndarray | None = None


STATS_KEYS = ("mu", "sigma")
SPATIAL_KEYS = ("spatial_mu", "spatial_sigma")


def _arrays(path: str, keys: tuple[str, ...]) -> tuple[list[str], dict]:
  """(the file's keys, {key: array} for those of `keys` it holds), with
  the file opened once; StatsError when np.load cannot read it."""
  try:
    with np.load(path, allow_pickle=False) as data:
      return list(data.files), {k: data[k] for k in keys if k in data.files}
  except NPZ_READ_ERRORS as e:
    raise _unreadable(path, e) from None


def _mu_sigma(path: str, names: list[str], arrays: dict):
  missing = [k for k in STATS_KEYS if k not in arrays]
  if missing:
    raise StatsError(
      f"{path}: no {' or '.join(missing)} in the file "
      f"(keys: {', '.join(names) or 'none'}); a "
      "statistics file needs 'mu' and 'sigma'"
    )
  mu, sigma = arrays["mu"], arrays["sigma"]
  _validate(mu, sigma, path)
  return mu.astype(np.float64), sigma.astype(np.float64)


def _spatial(path: str, arrays: dict):
  if not all(k in arrays for k in SPATIAL_KEYS):
    return None
  mu, sigma = (arrays[k] for k in SPATIAL_KEYS)
  _validate(mu, sigma, path, names=SPATIAL_KEYS)
  return mu.astype(np.float64), sigma.astype(np.float64)


def _provenance(path: str, arrays: dict) -> dict | None:
  if "provenance" not in arrays:
    return None
  text = str(arrays["provenance"])
  try:
    recorded = json.loads(text)
  except json.JSONDecodeError as e:
    raise StatsError(
      f"{path}: its provenance record is not JSON ({e.msg} "
      f"at character {e.pos}); the file was damaged or "
      "edited"
    ) from None
  if not isinstance(recorded, dict):
    raise StatsError(
      f"{path}: its provenance record is "
      f"{type(recorded).__name__}, not a JSON object; the "
      "file was damaged or edited"
    )
  return recorded


def read(path: str, strict_record: bool = True) -> StatsFile:
  """The whole statistics file, opened once; StatsError if mu and sigma
  are unusable, or the spatial statistics or (with `strict_record`) the
  provenance record are damaged. strict_record=False: a damaged record
  reads as None, as where only the numbers are used."""
  names, arrays = _arrays(
    path, (*STATS_KEYS, *SPATIAL_KEYS, "provenance", "embeddings")
  )
  try:
    recorded = _provenance(path, arrays)
  except StatsError:
    if strict_record:
      raise
    recorded = None
  if "embeddings" in arrays and not any(k in arrays for k in STATS_KEYS):
    embeddings = arrays["embeddings"]
    _validate_embeddings(embeddings, path)
    return StatsFile(None, None, None, recorded, embeddings.astype(np.float32))
  mu, sigma = _mu_sigma(path, names, arrays)
  return StatsFile(mu, sigma, _spatial(path, arrays), recorded)


def load_stats(path: str) -> tuple[np.ndarray, np.ndarray]:
  """Reads (mu, sigma) from a TTUR-style .npz; StatsError if unusable."""
  return _mu_sigma(path, *_arrays(path, STATS_KEYS))


def load_provenance(path: str) -> dict | None:
  """The provenance record of a statistics file written by this package,
  or None when it has none (TTUR's published files).

  Raises:
    StatsError: the file is unreadable, or its record is not a JSON object
      (damaged or edited: never taken for "no record").
  """
  return _provenance(path, _arrays(path, ("provenance",))[1])


def load_spatial_stats(path: str) -> tuple[np.ndarray, np.ndarray] | None:
  """The sFID's (spatial_mu, spatial_sigma) of a statistics file saved by
  this package, or None when it has none (TTUR's files)."""
  return _spatial(path, _arrays(path, SPATIAL_KEYS)[1])


def _validate(
  mu: np.ndarray,
  sigma: np.ndarray,
  path: str,
  names: tuple[str, str] = ("mu", "sigma"),
) -> None:
  m, s = names
  if not (
    np.issubdtype(mu.dtype, np.floating)
    and np.issubdtype(sigma.dtype, np.floating)
  ):
    raise StatsError(
      f"{path}: {m} and {s} must be floating point, got "
      f"{mu.dtype} and {sigma.dtype}"
    )
  if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
    raise StatsError(
      f"{path}: {m} must be [D] and {s} [D, D], got "
      f"{mu.shape} and {sigma.shape}"
    )
  if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
    raise StatsError(f"{path}: {m} or {s} contains NaN or infinite values")
  check_covariance(sigma, f"{path}: {s}")


# Relative to sigma's largest diagonal entry: far above the rounding of a
# covariance computed in float64 (also a rank-deficient one, whose zero
# eigenvalues come out as +-1e-16 relative), far below anything real.
COVARIANCE_TOLERANCE = 1e-6


def check_covariance(sigma: np.ndarray, name: str = "sigma") -> None:
  """StatsError unless sigma is symmetric positive semi-definite (within
  COVARIANCE_TOLERANCE): a matrix that is not a covariance gives a Frechet
  distance that means nothing (sigma = -I gave an "FID" of -664)."""
  sigma = np.asarray(sigma, dtype=np.float64)
  scale = max(
    float(np.max(np.abs(np.diag(sigma)), initial=0.0)),
    np.finfo(np.float64).tiny,
  )
  asymmetry = float(np.max(np.abs(sigma - sigma.T), initial=0.0))
  if asymmetry > COVARIANCE_TOLERANCE * scale:
    raise StatsError(
      f"{name} is not symmetric (largest |sigma - sigma^T| = "
      f"{asymmetry:.3g}), so it is not a covariance"
    )
  try:
    np.linalg.cholesky(
      (sigma + sigma.T) / 2
      + np.eye(len(sigma)) * (COVARIANCE_TOLERANCE * scale)
    )
  except np.linalg.LinAlgError:
    smallest = float(np.linalg.eigvalsh((sigma + sigma.T) / 2)[0])
    raise StatsError(
      f"{name} is not positive semi-definite (smallest "
      f"eigenvalue {smallest:.3g}), so it is not a "
      "covariance"
    ) from None
