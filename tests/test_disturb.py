"""FID against disturbances: each disturbance, and the table end to end."""

import numpy as np
import pytest

from tf_ttur.data import shapes
from tf_ttur.experiments import disturb


def _unit_images(n=6):
  images = np.stack([shapes.make_example(i)[0] for i in range(n)])
  return images.astype(np.float64) / 127.5 - 1.0


@pytest.mark.parametrize("name", sorted(disturb.DISTURBANCES))
def test_level_zero_is_identity(name):
  x = _unit_images()
  out = disturb.DISTURBANCES[name](x, 0.0, np.random.default_rng(0))
  np.testing.assert_allclose(out, x)


def test_each_disturbance_changes_images_as_described():
  x = _unit_images()
  rng = np.random.default_rng(1)
  noisy = disturb.gaussian_noise(x, 0.5, rng)
  assert noisy.min() >= -1 and noisy.max() <= 1 and not np.allclose(noisy, x)
  blurred = disturb.blur(x, 2.0, rng)
  assert blurred.std() < x.std()
  boxed = disturb.rectangles(x, 0.25, rng)
  assert np.sum(np.all(boxed == -1, axis=-1)) > np.sum(np.all(x == -1, axis=-1))
  salted = disturb.salt_and_pepper(x, 0.2, rng)
  changed = np.mean(np.any(salted != x, axis=-1))
  assert 0.1 < changed < 0.25
  swirled = disturb.swirl(x, 4.0, rng)
  np.testing.assert_array_equal(swirled[:, :3], x[:, :3])  # border kept
  assert not np.allclose(swirled, x)


@pytest.mark.slow
def test_table_on_the_replica(tmp_path, extractors):
  _, fast = extractors
  images = (_unit_images(8) + 1) * 127.5
  from fid import core

  with pytest.warns(RuntimeWarning):
    ref = core.run_pass(iter([images]), fast)
  with pytest.warns(RuntimeWarning):
    rows = disturb.run(images, ref.mu, ref.sigma, fast, batch_size=8)
  assert len(rows) == 20
  for name in disturb.DISTURBANCES:
    sub = [r["fid"] for r in rows if r["disturbance"] == name]
    # Undisturbed: the reference images themselves. 8 images leave sigma of
    # rank 7 in 2048 dimensions, where the trace carries ~1e-4 of noise.
    assert abs(sub[0]) < 1e-3
    # Stronger disturbance, larger FID (docs/paper.md A.5's sanity check);
    # swirl moves
    # 32x32 images least, as in the paper's table.
    assert all(b > a for a, b in zip(sub, sub[1:])), (name, sub)
    assert sub[-1] > 0.1
  disturb.write(rows, str(tmp_path))
  table = (tmp_path / "disturbances.md").read_text()
  assert "| salt_and_pepper |" in table
  assert (tmp_path / "disturbances.png").exists()
  assert len((tmp_path / "disturbances.csv").read_text().splitlines()) == 21
