"""Precision/recall and sFID against direct numpy implementations of their
definitions, and from the same single pass as the FID (`--json`)."""

import json
import warnings

import numpy as np
from PIL import Image
import pytest
import scipy.linalg
import scipy.spatial
import tensorflow as tf

from fid import __main__ as cli
from fid import api
from fid import graph
from fid import inception
from fid import metrics
from fid import stats as stats_lib


def _direct_precision_recall(real, fake, k=3):
  """Kynkaanniemi et al. 2019, written out: a sample is covered when it is
  within the k-th nearest-neighbour distance of some sample of the other
  set (the neighbour count excluding the sample itself)."""

  def radii(x):
    d = scipy.spatial.distance.cdist(x, x)
    return np.array([np.sort(row)[k] for row in d])  # row[0] is itself

  def covered(points, centres, r):
    d = scipy.spatial.distance.cdist(points, centres)
    return np.mean([np.any(row <= r) for row in d])

  return (covered(fake, real, radii(real)), covered(real, fake, radii(fake)))


@pytest.mark.parametrize("shift", [0.0, 0.7, 3.0])
def test_precision_recall_equal_their_definition(shift):
  rng = np.random.default_rng(0)
  real = rng.normal(size=(70, 6))
  fake = rng.normal(size=(55, 6)) * 1.3 + shift
  got = metrics.precision_recall(real, fake)
  expected = _direct_precision_recall(real, fake)
  assert got == pytest.approx(expected, abs=1e-12)
  # Blocks smaller than the sets give the same answer.
  assert metrics.manifold_radii(real, block=16) == pytest.approx(
    metrics.manifold_radii(real, block=1000), rel=1e-12
  )
  if shift == 3.0:
    assert got[0] < 0.3 and got[1] < 0.3  # disjoint sets
  if shift == 0.0:
    assert got[0] > 0.5 and got[1] > 0.5


def test_precision_recall_need_more_than_k_images():
  with pytest.raises(ValueError, match="more than k = 3"):
    metrics.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))


def _images(n, seed, size=40):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, size, size, 3), np.uint8)


@pytest.mark.slow
def test_spatial_features_are_the_graphs_mixed_6_conv(graph_def):
  images = _images(3, 0).astype(np.float32)
  session_graph = tf.Graph()
  with session_graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
    (conv,) = tf.graph_util.import_graph_def(
      graph_def,
      input_map={graph.INPUT_TENSOR: x},
      return_elements=["mixed_6/conv:0"],
      name="g",
    )
  with tf.compat.v1.Session(graph=session_graph) as session:
    raw = session.run(conv, {x: images})
  assert raw.shape == (3, 17, 17, 192)
  expected = raw[..., :7].reshape(3, -1)
  reference = inception.ReferenceExtractor(graph_def, spatial=True)
  features, logits, spatial = reference(images)
  assert spatial.shape == (3, 2023) and features.shape == (3, 2048)
  np.testing.assert_array_equal(spatial, expected.astype(np.float64))
  fast = inception.FastExtractor(graph_def, jit_compile=False, spatial=True)
  _, _, fast_spatial = fast(images)
  np.testing.assert_allclose(fast_spatial, spatial, rtol=1e-4, atol=1e-4)
  # Without spatial, two outputs as before.
  assert len(inception.ReferenceExtractor(graph_def)(images)) == 2


def _frechet_direct(x, y):
  mu1, mu2 = x.mean(0), y.mean(0)
  s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
  with warnings.catch_warnings():  # Fewer images than features: singular.
    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.slow
def test_json_reports_sfid_precision_recall_from_one_pass(
  tmp_path, inception_pb, graph_def, capsys
):
  folders = []
  for name, seed in (("real", 1), ("fake", 2)):
    folder = tmp_path / name
    folder.mkdir()
    for i, image in enumerate(_images(12, seed)):
      Image.fromarray(image).save(folder / f"{i:02d}.png")
    folders.append(str(folder))
  code = cli.main(
    [
      *folders,
      f"--inception={inception_pb}",
      "--json",
      "--quiet",
      "--extractor=reference",
      "--batch_size=5",
    ]
  )
  out = json.loads(capsys.readouterr().out)
  assert code == 0
  reference = inception.ReferenceExtractor(graph_def, spatial=True)
  per_set = [
    reference(
      np.stack(
        [np.asarray(Image.open(f"{folder}/{i:02d}.png")) for i in range(12)]
      ).astype(np.float32)
    )
    for folder in folders
  ]
  (real_f, _, real_s), (fake_f, _, fake_s) = per_set
  assert out["sfid"] == pytest.approx(_frechet_direct(real_s, fake_s), rel=1e-5)
  assert [out["precision"], out["recall"]] == pytest.approx(
    list(_direct_precision_recall(real_f, fake_f)), abs=1e-12
  )
  # The statistics file keeps the sFID's statistics; against it, the same.
  stats = str(tmp_path / "real.npz")
  assert (
    cli.main(
      [
        folders[0],
        "--save_stats",
        stats,
        "--quiet",
        "--extractor=reference",
        f"--inception={inception_pb}",
      ]
    )
    == 0
  )
  capsys.readouterr()
  spatial = stats_lib.load_spatial_stats(stats)
  assert spatial[0].shape == (2023,)
  with np.load(stats) as data:
    assert {"mu", "sigma"} <= set(data.files)
  assert (
    cli.main(
      [
        stats,
        folders[1],
        f"--inception={inception_pb}",
        "--json",
        "--quiet",
        "--extractor=reference",
      ]
    )
    == 0
  )
  against = json.loads(capsys.readouterr().out)
  assert against["sfid"] == pytest.approx(out["sfid"], rel=1e-6)
  assert against["precision"] is None  # no features in a statistics file


@pytest.mark.slow
def test_fid_and_kid_do_not_depend_on_the_batch_size(inception_pb, tmp_path):
  """The same images at batch 1 and at batch 200: the FID and the KID
  agree to 1e-5 relative (torchmetrics #1620 saw 1.9 against
  10 for one distribution)."""
  from tests.helpers import write_random_pngs

  # One set of 200 (a whole batch of 200), the other small: the pass
  # costs a 299x299 Inception forward per image and batch size.
  a = write_random_pngs(tmp_path / "a", 200, seed=0, size=(8, 8))
  b = write_random_pngs(tmp_path / "b", 8, seed=1, size=(8, 8))
  out = [
    api.compute(
      [a, b],
      inception_path=inception_pb,
      batch_size=batch,
      extra_metrics=True,
    )
    for batch in (1, 200)
  ]
  for name, one, all_ in (
    ("fid", out[0]["fid"], out[1]["fid"]),
    ("kid", out[0]["kid"]["mean"], out[1]["kid"]["mean"]),
  ):
    assert abs(one - all_) <= 1e-5 * abs(all_), (name, one, all_)
