"""`python -m fid savedmodel:DIR`: FID straight from an exported generator,
equal to writing the same samples as PNGs and reading them back."""

import json
import os
import shutil

import numpy as np
from PIL import Image
import pytest

from fid import __main__ as cli
from fid import generator as generator_lib
from tests.helpers import SMALL_IMAGE_CONFIG as IMAGE
from tests.helpers import spread_batch_norm
from tf_ttur import builder
from tf_ttur import export as export_lib

CLASSIFIER = os.path.join(
  os.path.dirname(os.path.dirname(__file__)),
  "saved_models",
  "shapes_classifier",
)
DEMO = os.path.join(os.path.dirname(CLASSIFIER), "demo_shapes_dcgan")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  model = builder.build_model(IMAGE, "float32")
  spread_batch_norm(model.generator)
  return export_lib.export_generator(
    model,
    IMAGE.replace(tflite=False),
    str(tmp_path_factory.mktemp("gen") / "g"),
    "float32",
  )


def _cli(capsys, *args):
  code = cli.main([*args, "--quiet"])
  out, err = capsys.readouterr()
  return code, out, err


@pytest.mark.slow
def test_generator_input_equals_pngs_read_back(
  exported, inception_pb, stats_file, tmp_path, capsys
):
  code, out, err = _cli(
    capsys,
    f"savedmodel:{exported}",
    stats_file,
    "--num=30",
    "--seed=3",
    "--batch_size=7",
    "--json",
    f"--inception={inception_pb}",
  )
  assert code == 0, err
  direct = json.loads(out)
  assert direct["counts"] == [30, None]
  assert direct["generated"][0]["seed"] == 3
  assert direct["generated"][0]["z_distribution"] == "uniform"
  # The same z (seed 3, numpy), through the generator, written as PNGs.
  generate = generator_lib.SavedModelGenerator(exported)
  z = generator_lib.draw_z(np.random.default_rng(3), 30, 16, "uniform")
  images = generate(z)
  assert images.std() > 10
  folder = tmp_path / "pngs"
  folder.mkdir()
  for i, image in enumerate(images):
    Image.fromarray(image).save(folder / f"{i:06d}.png")
  code, out, err = _cli(
    capsys,
    str(folder),
    stats_file,
    "--json",
    "--batch_size=7",
    f"--inception={inception_pb}",
  )
  assert code == 0, err
  assert json.loads(out)["fid"] == pytest.approx(direct["fid"], rel=1e-6)
  # Another seed, other samples.
  code, out, _ = _cli(
    capsys,
    f"savedmodel:{exported}",
    stats_file,
    "--num=30",
    "--seed=4",
    f"--inception={inception_pb}",
  )
  assert code == 0 and float(out.split()[1]) != pytest.approx(direct["fid"])


def test_generated_batches_do_not_depend_on_batch_size():
  calls = []

  def generate(z):
    calls.append(len(z))
    return np.broadcast_to(z[:, None, None, :3], (len(z), 2, 2, 3)).copy()

  a = np.concatenate(
    list(
      generator_lib.generated_batches(
        generate, 25, 4, "normal", [1, 2], batch_size=4, generation_batch=10
      )
    )
  )
  b = np.concatenate(
    list(
      generator_lib.generated_batches(
        generate, 25, 4, "normal", [1, 2], batch_size=25, generation_batch=10
      )
    )
  )
  np.testing.assert_array_equal(a, b)
  assert a.shape == (25, 2, 2, 3) and calls == [10, 10, 5] * 2


@pytest.mark.parametrize(
  "target,message",
  [
    ("classifier", "no assets/model.json"),
    ("missing", "no SavedModel there (no such folder)"),
    (
      "no_variables",
      "the SavedModel's variables/ folder is missing or incomplete",
    ),
  ],
)
def test_not_a_generator_is_one_error(
  target, message, stats_file, tmp_path, capsys
):
  path = CLASSIFIER if target == "classifier" else str(tmp_path / "none")
  if target == "no_variables":  # saved_model.pb copied without variables/.
    shutil.copytree(DEMO, path, ignore=shutil.ignore_patterns("variables"))
  code, out, err = _cli(capsys, f"savedmodel:{path}", stats_file)
  assert code == 2 and out == ""
  assert err.strip().splitlines()[-1].startswith("error: ")
  assert message in err


@pytest.mark.parametrize("damage", ["missing", "no_variables"])
def test_a_bad_feature_savedmodel_is_one_line_and_no_warning_first(
  damage, tmp_path, capsys
):
  """--extractor=savedmodel: a folder that is not a whole SavedModel is the
  error alone (the not-the-FID warning is for one that loads)."""
  path = str(tmp_path / "features")
  if damage == "no_variables":
    shutil.copytree(
      CLASSIFIER, path, ignore=shutil.ignore_patterns("variables")
    )
  images = str(tmp_path / "images.npy")
  np.save(images, np.zeros((2, 8, 8, 3), np.uint8))
  code, out, err = _cli(
    capsys, images, images, "--extractor=savedmodel", f"--inception={path}"
  )
  assert code == 2 and out == ""
  assert len(err.strip().splitlines()) == 1, err
  assert err.startswith(f"error: {path}: ")


def test_num_must_be_positive(exported, stats_file, capsys):
  code, _, err = _cli(capsys, f"savedmodel:{exported}", stats_file, "--num=0")
  assert code == 2 and "--num must be positive" in err


@pytest.mark.slow
def test_api_from_a_callable_equals_the_cli(
  exported, inception_pb, stats_file, capsys
):
  import fid
  from fid import frechet

  generate = generator_lib.SavedModelGenerator(exported)
  extractor = fid.create_inception_graph(inception_pb)
  mu, sigma = fid.calculate_generator_statistics(
    generate, 12, 16, "uniform", seed=5, sess=extractor, batch_size=12
  )
  mu_ref, sigma_ref = fid.load_stats(stats_file)
  code, out, _ = _cli(
    capsys,
    f"savedmodel:{exported}",
    stats_file,
    "--num=12",
    "--seed=5",
    "--batch_size=12",
    f"--inception={inception_pb}",
  )
  assert code == 0
  assert float(out.split()[1]) == pytest.approx(
    frechet.calculate_frechet_distance(mu, sigma, mu_ref, sigma_ref), rel=1e-9
  )


def test_json_with_a_feature_savedmodel_names_what_it_cannot_give(
  tmp_path, capsys
):
  """--extractor=savedmodel: a Frechet distance that is not the FID
  (`is_fid` false); the Inception Score and the sFID need Inception's
  logits and spatial features, so they are null with that reason (they
  were an IS of 1.0 and a reason about statistics files)."""
  rng = np.random.default_rng(0)
  paths = []
  for name in ("a", "b"):
    path = str(tmp_path / f"{name}.npy")
    np.save(path, rng.integers(0, 256, (12, 32, 32, 3), np.uint8))
    paths.append(path)
  code, out, err = _cli(
    capsys,
    *paths,
    "--extractor=savedmodel",
    f"--inception={CLASSIFIER}",
    "--json",
  )
  assert code == 0, err
  result = json.loads(out)
  assert result["is_fid"] is False and result["fid"] > 0
  assert result["inception_score"] == [None, None]
  assert result["sfid"] is None
  assert result["why_null"]["inception_score"] == (
    "the savedmodel extractor has no Inception logits"
  )
  assert result["why_null"]["sfid"] == (
    "the savedmodel extractor has no Inception spatial features"
  )
  assert result["kid"]["mean"] is not None


@pytest.mark.slow
def test_cmmd_of_a_generator_against_a_tfds_split(
  exported, tfds_dir, tmp_path, capsys
):
  """CMMD from a savedmodel: generator and a TFDS split, directly and
  through the embeddings files each input saves: the same value."""
  from fid import clip
  from fid import stats as stats_lib

  weights = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "tests", "fixtures", "cmmd"
  )
  inputs = (f"savedmodel:{exported}", "tfds:shapes:train[:6]")
  common = (f"--data_dir={tfds_dir}", "--metric=cmmd", f"--inception={weights}")
  code, out, _ = _cli(capsys, *inputs, *common, "--num=6", "--json")
  assert code == 0, out
  direct = json.loads(out)
  assert direct["counts"] == [6, 6] and direct["metric"] == "CMMD"
  saved = []
  for i, path in enumerate(inputs):
    saved.append(str(tmp_path / f"{i}.npz"))
    code, _, err = _cli(
      capsys, path, *common, "--num=6", "--save_stats", saved[-1]
    )
    assert code == 0, err
  a, b = (stats_lib.read(p).embeddings for p in saved)
  assert a.shape == b.shape == (6, 32)
  assert clip.cmmd(a, b) == pytest.approx(direct["cmmd"], rel=1e-12)
