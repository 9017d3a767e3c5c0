"""FD_DINOv2 held to dgm-eval's DINOv2 path: the same random weights in
torch.hub's model (run through dgm-eval's own transform and forward by
tests/scripts/dinov2_reference.py) and in keras-hub's backbone loaded by
fid.dinov2 give the same CLS features, images through the resize
included; and the metric travels through `python -m fid` with its
protocol named."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from fid import __main__ as cli
from fid import api
from fid import dinov2
from tests.helpers import REPO
from tests.helpers import tiny_run
from tests.helpers import write_random_pngs

FIXTURE = os.path.join(REPO, "tests", "fixtures", "dinov2")


@pytest.fixture(scope="module")
def extractor():
  return dinov2.make_extractor(FIXTURE)


@pytest.fixture(scope="module")
def reference():
  with np.load(os.path.join(FIXTURE, "reference.npz")) as data:
    return {k: data[k] for k in data.files}


def test_features_equal_dgm_evals_path(extractor, reference):
  """Upscaled (24x24), non-square (40x56) and downscaled (240x232) images:
  Pillow's bicubic to 224, /255, ImageNet's mean and std, the CLS token
  after the final norm, position embeddings interpolated as torch.hub's
  DINOv2 does: equal to 1e-5 relative to the largest feature."""
  sizes = [k.removeprefix("images_") for k in reference if "images_" in k]
  assert len(sizes) == 3
  for size in sizes:
    features, logits = extractor(reference[f"images_{size}"])
    expected = reference[f"features_{size}"].astype(np.float64)
    error = np.abs(features - expected).max() / np.abs(expected).max()
    assert error < 1e-5, (size, error)
    assert features.dtype == np.float64 and logits.shape == (len(features), 0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_features_stay_float32_under_a_mixed_precision_policy(
  policy, reference
):
  """A run under --precision=mixed_* builds its evaluators beside its
  networks: the backbone is float32 whatever the global policy."""
  import keras

  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy(policy)
  try:
    extractor = dinov2.make_extractor(FIXTURE)
  finally:
    keras.mixed_precision.set_dtype_policy(previous)
  features, _ = extractor(reference["images_40x56"])
  expected = reference["features_40x56"].astype(np.float64)
  assert np.abs(features - expected).max() / np.abs(expected).max() < 1e-5


def test_keras_hubs_own_table_is_not_the_references(reference):
  """Why fid.dinov2 interpolates the position table again: keras-hub's
  (TensorFlow's bicubic, a = -0.5, to the output size) is 1e-4 relative
  or more off dgm-eval's features on the same weights."""
  import keras_hub

  backbone = keras_hub.models.DINOV2Backbone.from_preset(
    FIXTURE, image_shape=(224, 224, 3)
  )
  theirs = dinov2.DinoV2Extractor(backbone, FIXTURE)
  images = reference["images_24x24"]
  features, _ = theirs(images)
  expected = reference["features_24x24"].astype(np.float64)
  assert np.abs(features - expected).max() / np.abs(expected).max() > 1e-4


def test_torch_positions_keep_a_table_of_the_right_size():
  table = np.random.default_rng(0).normal(size=(1, 1 + 37 * 37, 4))
  same = dinov2.torch_positions(table, 14, 518)
  np.testing.assert_array_equal(same, table.astype(np.float32))
  out = dinov2.torch_positions(table, 14, 224)
  assert out.shape == (1, 1 + 16 * 16, 4)
  np.testing.assert_array_equal(out[:, 0], table[:, 0].astype(np.float32))
  # A constant table stays constant (the cubic weights sum to one).
  flat = np.ones((1, 1 + 37 * 37, 2))
  np.testing.assert_allclose(dinov2.torch_positions(flat, 14, 224), 1, 1e-6)


def test_float_images_are_read_as_the_uint8_a_file_holds():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (2, 30, 20, 3), np.uint8)
  np.testing.assert_array_equal(
    dinov2.dgm_eval_images(images),
    dinov2.dgm_eval_images(images.astype(np.float32)),
  )
  with pytest.raises(ValueError, match=r"expected images \[N, H, W, 3\]"):
    dinov2.dgm_eval_images(images[..., :2])


@pytest.mark.slow
def test_fd_dinov2_is_independent_of_the_batch_size(tmp_path):
  a = write_random_pngs(tmp_path / "a", 200, seed=0, size=(8, 8))
  b = write_random_pngs(tmp_path / "b", 200, seed=1, size=(8, 8))
  values = [
    api.compute(
      [a, b],
      extractor="dinov2",
      inception_path=FIXTURE,
      batch_size=batch,
    )["fid"]
    for batch in (1, 200)
  ]
  assert abs(values[0] - values[1]) <= 1e-5 * abs(values[1])


def test_the_command_line_names_the_metric_and_its_protocol(tmp_path, capsys):
  a = write_random_pngs(tmp_path / "a", 8, seed=0)
  b = write_random_pngs(tmp_path / "b", 8, seed=1)
  weights = ["--extractor=dinov2", f"--inception={FIXTURE}", "--quiet"]
  assert cli.main([a, b, *weights]) == 0
  out, err = capsys.readouterr()
  assert out.startswith("FD_DINOv2: ")
  assert "dgm-eval's protocol" in err
  saved = str(tmp_path / "a.npz")
  assert cli.main([a, "--save_stats", saved, *weights]) == 0
  capsys.readouterr()
  assert cli.main(["--info", saved, "--json"]) == 0
  record = json.loads(capsys.readouterr().out)["provenance"]
  assert record["extractor"] == "dinov2"
  assert record["protocol"]["protocol"] == "dgm-eval"
  assert record["protocol"]["weights"] == FIXTURE
  assert record["resize"].startswith("none: as stored (Pillow bicubic")
  # Statistics of DINOv2 features are not an FID's reference.
  assert cli.main([saved, b, "--quiet"]) == 2
  err = capsys.readouterr().err
  assert "holds statistics of dinov2 features (FD_DINOv2)" in err
  assert "pass --extractor=dinov2" in err
  assert cli.main([saved, b, "--json", *weights]) == 0
  out = json.loads(capsys.readouterr().out)
  assert out["metric"] == "FD_DINOv2" and out["is_fid"] is False
  assert out["protocol"]["token"] == "CLS after the final layer norm"


def test_missing_weights_are_one_error_line(tmp_path, capsys):
  a = write_random_pngs(tmp_path / "a", 2)
  missing = str(tmp_path / "nowhere")
  code = cli.main([a, a, "--extractor=dinov2", f"--inception={missing}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1
  assert err[0].startswith(f"error: --inception={missing}: no such folder")
  code = cli.main([a, a, "--extractor=dinov2", f"--inception={a}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1
  assert "cannot load DINOv2's weights" in err[0]


def test_prepare_finds_the_weights_or_says_where_they_go(tmp_path, monkeypatch):
  from tf_ttur import evals
  from tf_ttur import prepare_fid
  from tf_ttur.config import Config

  def piece(weights=""):
    config = Config.of(
      fd_dinov2_every=2, log_every=2, fd_dinov2_weights=weights
    )
    assert "dinov2_weights" in {
      p for e in evals.enabled(config.evaluation) for p in e.needs
    }
    return prepare_fid.dinov2_weights(config, fetch=False)

  assert piece(FIXTURE).ready
  missing = piece(str(tmp_path / "nowhere"))
  assert not missing.ready and missing.detail == "no such folder"
  broken = tmp_path / "broken"
  os.makedirs(broken)
  shutil.copy(os.path.join(FIXTURE, "config.json"), broken)
  (broken / "model.safetensors").write_bytes(b"not safetensors")
  damaged = piece(str(broken))
  assert not damaged.ready
  assert damaged.detail.startswith("cannot load DINOv2's weights")
  monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kaggle"))
  preset = piece()
  cache = str(tmp_path / "kaggle/models/keras/dinov2/keras/dinov2_large")
  assert not preset.ready and preset.detail == f"not in {cache}"
  assert preset.fetch == "keras-hub's dinov2_large"
  os.makedirs(cache)
  assert piece().ready


@pytest.mark.slow
def test_a_run_logs_fd_dinov2_and_cmmd(tmp_path, tfds_dir):
  """Both keras-hub metrics in one run (CMMD's weights: its fixture)."""
  from tf_ttur import export as export_lib
  from tf_ttur import train as train_lib

  clip_weights = os.path.join(REPO, "tests", "fixtures", "cmmd")
  config = tiny_run(
    tmp_path / "run",
    tfds_dir,
    image_size=32,
    width=8,
    z_dim=16,
    fd_dinov2_every=2,
    fd_dinov2_samples=40,
    fd_dinov2_weights=FIXTURE,
    cmmd_every=2,
    cmmd_samples=20,
    cmmd_weights=clip_weights,
  ).validate()
  train_lib.train(config)
  with open(tmp_path / "run" / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  info = export_lib.read_model_info(str(tmp_path / "run" / "saved_model"))
  for name, samples, protocol, weights in (
    ("fd_dinov2", 40, "dgm-eval", FIXTURE),
    ("cmmd", 20, "google-research cmmd", clip_weights),
  ):
    logged = [r for r in records if name in r]
    assert [r["step"] for r in logged] == [2], name
    assert logged[0][name] > 0 and logged[0][f"{name}_samples"] == samples
    assert info[name]["value"] == logged[0][name]
    assert info[name]["protocol"] == protocol
    assert info[name]["weights"] == weights


@pytest.mark.slow
def test_the_leaderboard_check_sets_computed_beside_published(tmp_path, capsys):
  """python -m fid.leaderboard on stand-ins (random images, the test
  weights): each row's computed value is the FD_DINOv2 of that set
  against the training set, beside Table 11's; far off, so exit 1."""
  from fid import leaderboard

  train = write_random_pngs(tmp_path / "train", 6, seed=0)
  test = write_random_pngs(tmp_path / "test", 5, seed=1)
  samples = write_random_pngs(tmp_path / "sg", 5, seed=2)
  args = [
    f"--train={train}",
    f"--test={test}",
    "--samples",
    f"StyleGAN2-ada={samples}",
    f"--weights={FIXTURE}",
  ]
  assert leaderboard.main(args) == 1
  out = capsys.readouterr().out
  for name, path in (("test", test), ("StyleGAN2-ada", samples)):
    expected = api.compute(
      [train, path], extractor="dinov2", inception_path=FIXTURE
    )["fid"]
    row = next(line for line in out.splitlines() if f"| {name} |" in line)
    published, computed = (float(c) for c in row.split("|")[2:4])
    assert published == leaderboard.PUBLISHED[name]
    assert computed == pytest.approx(expected, rel=1e-4)
  assert out.strip().endswith("(<= 0.001)")
  assert leaderboard.main([*args, "--tolerance=1"]) == 0


@pytest.mark.parametrize(
  "extra, message",
  [
    (["--samples", "Foo=x"], "--samples Foo: not in the table"),
    (["--samples", "BigGAN"], "--samples BigGAN: expected NAME=PATH"),
    ([], "give --test or --samples"),
  ],
)
def test_the_leaderboard_check_refuses_bad_input(
  extra, message, tmp_path, capsys
):
  code = leaderboard_main([f"--train={tmp_path}", *extra])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and message in err[0], err


def leaderboard_main(argv):
  from fid import leaderboard

  return leaderboard.main(argv)
