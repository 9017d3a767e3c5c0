"""Frechet distance against scipy and analytic cases; statistics; .npz."""

import numpy as np
import pytest
import scipy.linalg

from fid import frechet
from fid import stats


def _random_stats(rng, n, d):
  x = np.maximum(rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3, 0)
  return x.mean(axis=0), np.cov(x, rowvar=False)


def _scipy_fid(mu1, s1, mu2, s2):
  covmean = scipy.linalg.sqrtm(s1 @ s2).real
  diff = mu1 - mu2
  return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


@pytest.mark.parametrize("method", frechet.METHODS)
def test_identical_statistics_give_zero(method):
  mu, sigma = _random_stats(np.random.default_rng(0), 500, 32)
  value = frechet.calculate_frechet_distance(
    mu, sigma, mu, sigma, method=method
  )
  assert abs(value) < 1e-8


@pytest.mark.parametrize("method", frechet.METHODS)
def test_equal_covariances_give_squared_mean_difference(method):
  rng = np.random.default_rng(1)
  mu1, sigma = _random_stats(rng, 500, 32)
  mu2 = mu1 + rng.normal(size=32)
  value = frechet.calculate_frechet_distance(
    mu1, sigma, mu2, sigma, method=method
  )
  assert value == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-8)


def test_eigh_falls_back_for_singular_covariance():
  rng = np.random.default_rng(7)
  mu1, s1 = _random_stats(rng, 20, 64)  # rank 19: no Cholesky factor
  mu2, s2 = _random_stats(rng, 500, 64)
  with pytest.raises(np.linalg.LinAlgError):
    np.linalg.cholesky(s1)
  expected = _scipy_fid(mu1, s1, mu2, s2)
  assert frechet.calculate_frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
    expected, rel=1e-6
  )


def test_diagonal_case_closed_form():
  mu1, mu2 = np.zeros(3), np.ones(3)
  s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 1.0])
  # sum (sqrt(a) - sqrt(b))^2 over the diagonal, plus |mu1 - mu2|^2.
  expected = 3 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
  for method in frechet.METHODS:
    assert frechet.calculate_frechet_distance(
      mu1, s1, mu2, s2, method=method
    ) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed, n", [(0, 400), (1, 400), (2, 66)])
def test_eigh_agrees_with_scipy_sqrtm(seed, n):
  # n = 66 > 64 dimensions: barely full rank, the hard case for Cholesky.
  rng = np.random.default_rng(seed)
  mu1, s1 = _random_stats(rng, n, 64)
  mu2, s2 = _random_stats(rng, n, 64)
  expected = _scipy_fid(mu1, s1, mu2, s2)
  for method in frechet.METHODS:
    value = frechet.calculate_frechet_distance(mu1, s1, mu2, s2, method=method)
    assert value == pytest.approx(expected, rel=1e-6)


def test_ttur_method_raises_on_large_imaginary_diagonal(monkeypatch):
  bad = np.eye(2) * (1 + 1j)
  monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", lambda m: bad)
  with pytest.raises(ValueError, match="Imaginary component"):
    frechet.calculate_frechet_distance(
      np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="ttur"
    )


def test_ttur_method_retries_with_eps_on_non_finite(monkeypatch):
  calls = []
  real_sqrtm = scipy.linalg.sqrtm

  def flaky(m):
    calls.append(m.copy())
    return np.full_like(m, np.nan) if len(calls) == 1 else real_sqrtm(m)

  monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", flaky)
  with pytest.warns(RuntimeWarning, match="singular product"):
    frechet.calculate_frechet_distance(
      np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="ttur"
    )
  np.testing.assert_allclose(calls[1], np.eye(2) * (1 + 1e-6) ** 2)


@pytest.mark.parametrize(
  "args, message",
  [
    ((np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)), "different lengths"),
    ((np.zeros(3), np.eye(3), np.zeros(3), np.eye(2)), "different dimensions"),
    ((np.full(3, np.nan), np.eye(3), np.zeros(3), np.eye(3)), "NaN"),
  ],
)
def test_bad_statistics_raise(args, message):
  with pytest.raises(ValueError, match=message):
    frechet.calculate_frechet_distance(*args)


def test_running_stats_equal_numpy():
  rng = np.random.default_rng(3)
  x = rng.normal(5.0, 2.0, size=(1003, 16))
  running = stats.RunningStats(16)
  for start in range(0, 1003, 50):  # last batch partial
    running.update(x[start : start + 50])
  np.testing.assert_allclose(running.mean, x.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(
    running.covariance(), np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12
  )
  assert running.count == 1003


def test_running_stats_merge_equals_one_pass():
  rng = np.random.default_rng(4)
  x = rng.normal(size=(300, 8))
  a, b, whole = (stats.RunningStats(8) for _ in range(3))
  a.update(x[:120])
  b.update(x[120:])
  whole.update(x)
  a.merge(b)
  np.testing.assert_allclose(a.covariance(), whole.covariance(), rtol=1e-12)
  with pytest.raises(stats.StatsError, match="at least 2"):
    stats.RunningStats(8).covariance()


def test_npz_round_trip_is_ttur_compatible(tmp_path):
  rng = np.random.default_rng(5)
  mu, sigma = _random_stats(rng, 100, 8)
  path = str(tmp_path / "stats.npz")
  stats.save_stats(path, mu, sigma)
  with np.load(path) as data:  # What TTUR's fid.py reads.
    assert sorted(data.files) == ["mu", "sigma"]
    assert data["mu"].dtype == np.float64
  mu2, sigma2 = stats.load_stats(path)
  np.testing.assert_array_equal(mu, mu2)
  np.testing.assert_array_equal(sigma, sigma2)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.npz"]


@pytest.mark.parametrize(
  "content, message",
  [
    (dict(mu=np.zeros(3)), "no sigma"),
    (dict(m=np.zeros(3), s=np.eye(3)), "no mu or sigma"),
    (dict(mu=np.zeros(3), sigma=np.eye(2)), r"mu must be \[D\]"),
    (dict(mu=np.zeros(3, int), sigma=np.eye(3, dtype=int)), "floating point"),
    (dict(mu=np.full(3, np.nan), sigma=np.eye(3)), "NaN"),
  ],
)
def test_load_stats_rejects(tmp_path, content, message):
  path = tmp_path / "bad.npz"
  np.savez(path, **content)
  with pytest.raises(stats.StatsError, match=message):
    stats.load_stats(str(path))


def test_load_stats_rejects_truncated_file(tmp_path):
  path = tmp_path / "cut.npz"
  np.savez(path, mu=np.zeros(3), sigma=np.eye(3))
  path.write_bytes(path.read_bytes()[:40])
  with pytest.raises(stats.StatsError, match="not a readable"):
    stats.load_stats(str(path))


def test_distances_to_one_reference_equal_the_distance():
  """frechet.distances_to: sigma1's factor once, the same values as
  calculate_frechet_distance, singular covariances (its retry) included."""
  rng = np.random.default_rng(0)
  d = 16
  ref = rng.normal(size=(40, d))
  distance = frechet.distances_to(ref.mean(0), np.cov(ref, rowvar=False))
  for n in (40, 5):  # Full rank, then rank 4 in 16 dimensions.
    other = rng.normal(size=(n, d)) + 0.3
    mu, sigma = other.mean(0), np.cov(other, rowvar=False)
    expected = frechet.calculate_frechet_distance(
      ref.mean(0), np.cov(ref, rowvar=False), mu, sigma
    )
    assert distance(mu, sigma) == pytest.approx(expected, rel=1e-12)
  with pytest.raises(ValueError, match="different lengths"):
    distance(np.zeros(3), np.eye(3))
