"""CMMD held to google-research's cmmd code: the same random weights in
scenic's CLIP (run through cmmd's own `io_util` and `distance.mmd` by
tests/scripts/cmmd_reference.py) and in keras-hub's CLIPVisionEncoder
loaded by fid.clip give the same embeddings from the same PNG files, and
the same distance; and the metric travels through `python -m fid`, its
embeddings files and their provenance."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from fid import __main__ as cli
from fid import api
from fid import clip
from fid import datasources
from fid import decode
from fid import stats as stats_lib
from tests.helpers import REPO
from tests.helpers import write_random_pngs

FIXTURE = os.path.join(REPO, "tests", "fixtures", "cmmd")
FOLDERS = {name: os.path.join(FIXTURE, name) for name in "ab"}


@pytest.fixture(scope="module")
def extractor():
  return clip.make_extractor(FIXTURE)


@pytest.fixture(scope="module")
def reference():
  with np.load(os.path.join(FIXTURE, "reference.npz")) as data:
    return {k: data[k] for k in data.files}


def _embeddings(extractor, folder: str) -> np.ndarray:
  """The folder's images in cmmd's (sorted) order, each decoded to RGB
  by the package's reader, one at a time (they differ in size)."""
  files = datasources.list_images(folder, False)
  assert [os.path.basename(f) for f in files] == sorted(os.listdir(folder))
  rows = [extractor(decode.decode_path(f)[0][None])[0] for f in files]
  return np.concatenate(rows)


def test_embeddings_equal_cmmds_code(extractor, reference):
  """Up (24x24), non-square (40x56, 348x500: the centred square), exact
  (336x336), down (350x340) and grayscale images, read from the same PNG
  files: equal to 1e-5 relative to the largest embedding."""
  for name, folder in FOLDERS.items():
    ours = _embeddings(extractor, folder)
    expected = reference[f"embeddings_{name}"].astype(np.float64)
    assert ours.shape == expected.shape == (4, 32)
    error = np.abs(ours - expected).max() / np.abs(expected).max()
    assert error < 1e-5, (name, error)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, rtol=1e-6)


def test_the_distance_equals_cmmds_estimator(reference):
  """fid.clip.cmmd on the reference's own embeddings equals
  distance.mmd run in float64 (JAX's x64) to 1e-9; cmmd's float32 run
  differs from both by float32's own error, which is why the sums here
  are float64."""
  for prefix, (x, y) in {
    "": ("embeddings_a", "embeddings_b"),
    "random_": ("random_x", "random_y"),
  }.items():
    ours = clip.cmmd(reference[x], reference[y])
    exact = float(reference[f"{prefix}mmd_float64"])
    float32 = float(reference[f"{prefix}mmd_float32"])
    assert abs(ours - exact) <= 1e-9 * abs(exact), prefix
    assert 1e-6 * abs(exact) < abs(float32 - exact) < 2e-3 * abs(exact)


def test_the_distance_does_not_depend_on_the_blocks(reference, monkeypatch):
  x, y = reference["random_x"], reference["random_y"]  # 300 and 200 rows.
  whole = clip.cmmd(x, y)
  monkeypatch.setattr(clip, "BLOCK", 7)
  assert abs(clip.cmmd(x, y) - whole) <= 1e-9 * abs(whole)
  assert clip.cmmd(x, x) == pytest.approx(0, abs=1e-12)
  with pytest.raises(ValueError, match="two embedding sets"):
    clip.cmmd(x, y[:, :3])
  with pytest.raises(ValueError, match="at least 2 images"):
    clip.cmmd(x[:1], y)


def test_images_are_cropped_to_their_centred_square():
  from PIL import Image

  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (41, 56, 3), np.uint8)
  square = Image.fromarray(image[:, 7:48]).resize((336, 336), Image.BICUBIC)
  expected = (np.asarray(square, np.float32) / 255 - clip.CLIP_MEAN) / (
    clip.CLIP_STD
  )
  np.testing.assert_array_equal(clip.cmmd_images(image[None])[0], expected)
  np.testing.assert_array_equal(
    clip.cmmd_images(image[None]), clip.cmmd_images(image[None] * 1.0)
  )
  with pytest.raises(ValueError, match=r"expected images \[N, H, W, 3\]"):
    clip.cmmd_images(image[None, ..., :2])


def test_keras_hubs_zero_position_ids_are_not_clips(extractor, reference):
  """Why fid.clip sets position_ids: keras-hub's encoder built from a
  config leaves them at zeros (every token at position 0)."""
  encoder, projection = clip.load_vision(FIXTURE)
  encoder.embedding.position_ids.assign(
    np.zeros_like(encoder.embedding.position_ids.numpy())
  )
  theirs = clip.ClipExtractor(encoder, projection, FIXTURE)
  ours = _embeddings(theirs, FOLDERS["a"])
  expected = reference["embeddings_a"].astype(np.float64)
  assert np.abs(ours - expected).max() > 1e-2


def test_embeddings_stay_float32_under_a_mixed_precision_policy(reference):
  import keras

  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
  try:
    extractor = clip.make_extractor(FIXTURE)
  finally:
    keras.mixed_precision.set_dtype_policy(previous)
  ours = _embeddings(extractor, FOLDERS["b"])
  expected = reference["embeddings_b"].astype(np.float64)
  assert np.abs(ours - expected).max() < 1e-5


def test_the_command_line_gives_cmmds_number_and_keeps_embeddings(
  tmp_path, reference, capsys
):
  a, b = FOLDERS["a"], FOLDERS["b"]
  weights = ["--metric=cmmd", f"--inception={FIXTURE}", "--quiet"]
  assert cli.main([a, b, *weights]) == 0
  out, err = capsys.readouterr()
  assert out.startswith("CMMD: ")
  value = float(out.split()[1])
  exact = float(reference["mmd_float64"])
  assert abs(value - exact) <= 1e-5 * exact
  assert "google-research cmmd's protocol" in err
  saved = str(tmp_path / "a.npz")
  assert cli.main([a, "--save_stats", saved, *weights]) == 0
  assert capsys.readouterr().out.startswith("saved embeddings of 4 images")
  held = stats_lib.read(saved)
  assert held.mu is None and held.embeddings.shape == (4, 32)
  assert held.provenance["extractor"] == "clip"
  assert held.provenance["protocol"]["protocol"] == "google-research cmmd"
  assert cli.main([saved, b, "--json", *weights]) == 0
  out = json.loads(capsys.readouterr().out)
  assert out["metric"] == "CMMD" and abs(out["cmmd"] - value) < 1e-12
  assert cli.main(["--info", saved]) == 0
  assert "4 embeddings of 32 features" in capsys.readouterr().out


def test_embeddings_and_statistics_are_not_mistaken(tmp_path, capsys):
  a = FOLDERS["a"]
  embeddings = str(tmp_path / "e.npz")
  rng = np.random.default_rng(0)
  stats_lib.save_embeddings(embeddings, rng.normal(size=(5, 32)))
  statistics = str(tmp_path / "s.npz")
  stats_lib.save_stats(statistics, np.zeros(32), np.eye(32))
  cases = {
    (embeddings, "--metric=fid"): "holds embeddings, not statistics",
    (statistics, "--metric=cmmd"): "holds statistics (mu, sigma), not",
  }
  for (path, metric), message in cases.items():
    code = cli.main([path, a, metric, f"--inception={FIXTURE}", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1], err
  bad = str(tmp_path / "bad.npz")
  np.savez(bad, embeddings=np.array([1.0, np.nan]))
  with pytest.raises(stats_lib.StatsError, match="embeddings of shape"):
    stats_lib.read(bad)
  np.savez(bad, embeddings=np.full((3, 2), np.nan))
  with pytest.raises(stats_lib.StatsError, match="NaN or infinity"):
    stats_lib.read(bad)


def test_a_metric_and_an_extractor_that_disagree_are_refused(capsys):
  a = FOLDERS["a"]
  code = cli.main([a, a, "--metric=cmmd", "--extractor=dinov2"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1
  assert "--extractor=dinov2 cannot give it" in err[0]
  with pytest.raises(ValueError, match="--metric=kid: one of fid, cmmd"):
    api.compute([a, a], metric="kid")


@pytest.mark.slow
def test_cmmd_is_independent_of_the_batch_size(tmp_path):
  a = write_random_pngs(tmp_path / "a", 200, seed=0, size=(12, 10))
  b = write_random_pngs(tmp_path / "b", 200, seed=1, size=(12, 10))
  values = [
    api.compute([a, b], metric="cmmd", inception_path=FIXTURE, batch_size=n)[
      "cmmd"
    ]
    for n in (1, 200)
  ]
  assert abs(values[0] - values[1]) <= 1e-5 * abs(values[1])


def test_missing_or_foreign_weights_are_one_error_line(tmp_path, capsys):
  a = FOLDERS["a"]
  missing = str(tmp_path / "nowhere")
  code = cli.main([a, a, "--metric=cmmd", f"--inception={missing}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1
  assert err[0].startswith(f"error: --inception={missing}: no such folder")
  foreign = tmp_path / "gelu"
  shutil.copytree(FIXTURE, foreign, ignore=shutil.ignore_patterns("a", "b"))
  config = json.loads((foreign / "config.json").read_text())
  config["vision_config"]["hidden_act"] = "gelu"
  (foreign / "config.json").write_text(json.dumps(config))
  code = cli.main([a, a, "--metric=cmmd", f"--inception={foreign}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1
  assert "cannot load CLIP's weights" in err[0] and "quick_gelu" in err[0]


def test_prepare_loads_local_weights_before_calling_them_ready(
  tmp_path, monkeypatch
):
  """A local folder is ready only where its backbone loads (a folder with
  config.json and broken weights is not); keras-hub's preset is looked
  for in kagglehub's cache."""
  from tf_ttur import evals
  from tf_ttur import prepare_fid
  from tf_ttur.config import Config

  def piece(weights=""):
    config = Config.of(cmmd_every=2, log_every=2, cmmd_weights=weights)
    assert "clip_weights" in {
      p for e in evals.enabled(config.evaluation) for p in e.needs
    }
    return prepare_fid.clip_weights(config, fetch=False)

  assert piece(FIXTURE).ready
  missing = piece(str(tmp_path / "nowhere"))
  assert not missing.ready and missing.detail == "no such folder"
  broken = tmp_path / "broken"
  shutil.copytree(FIXTURE, broken, ignore=shutil.ignore_patterns("a", "b"))
  (broken / "model.safetensors").write_bytes(b"not safetensors")
  damaged = piece(str(broken))
  assert not damaged.ready
  assert damaged.detail.startswith("cannot load CLIP's weights")
  monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kaggle"))
  preset = piece()
  cache = tmp_path / "kaggle/models/keras/clip/keras/clip_vit_large_patch14_336"
  assert not preset.ready and preset.detail == f"not in {cache}"
  assert preset.fetch == "keras-hub's clip_vit_large_patch14_336"
  assert "--cmmd_weights=FOLDER" in preset.how[-1]
  os.makedirs(cache)
  assert piece().ready
