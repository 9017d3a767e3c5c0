"""The family registry (tf_ttur.families) and a few training steps of each
entry through the one GAN train_step: every family has tags for what its
loss logs, a network module, a flagfile and a small setting here, and
trains with its modality's evaluations (FID and KID on the synthetic
Inception graph for images, the n-gram JSD for text)."""

import glob
import importlib
import json
import os

import numpy as np
import pytest

from tests.helpers import REPO
from tests.helpers import tiny_run
from tf_ttur import export as export_lib
from tf_ttur import losses
from tf_ttur import train as train_lib
from tf_ttur.config import Config
from tf_ttur.evals import EVALS
from tf_ttur.families import FAMILIES

# A small setting of each family, trained below: a family added to the
# registry without one fails test_every_family_has_a_small_setting.
TINY = {
  "dcgan": dict(image_size=32, z_dim=16, width=4),
  "wgan_gp": dict(
    image_size=32,
    z_dim=16,
    width=4,
    n_critic=2,
    beta_1=0.0,
    beta_2=0.9,
    d_lr=3e-4,
    g_lr=1e-4,
  ),
  "began": dict(
    image_size=64,
    z_dim=8,
    width=4,
    beta_1=0.9,
    lr_halve_every=1,
    d_lr=6e-5,
    g_lr=4e-5,
  ),
  "language": dict(
    dataset="english",
    z_dim=16,
    width=8,
    d_lr=3e-4,
    g_lr=1e-4,
    jsd_every=2,
    jsd_samples=8,
  ),
  "sngan": dict(
    image_size=32,
    z_dim=16,
    width=4,
    beta_1=0.0,
    beta_2=0.9,
    d_lr=4e-4,
    g_lr=1e-4,
  ),
}


def test_every_family_has_a_small_setting():
  assert set(TINY) == set(FAMILIES)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_names_its_loss_values_and_networks(name):
  family = FAMILIES[name]
  loss = losses.LOSSES[family.loss]
  # Every value the step logs has a tag of its own, none under eval/.
  assert {"d_loss", "g_loss", *loss.d_metrics} <= set(family.tags)
  shown = [tag for tag in family.tags.values() if tag is not None]
  assert not any(
    tag.startswith(("eval/", "best/", "speed/", "lr/")) for tag in shown
  )
  assert len(shown) == len(set(shown))  # No series twice.
  module = importlib.import_module(f"tf_ttur.networks.{family.networks}")
  assert callable(module.make_generator)
  assert callable(module.discriminator_for)
  assert family.z_distribution in ("uniform", "normal")
  if family.modality.name == "image":
    assert family.image_sizes and family.fid_pixels in (
      "float",
      "truncate",
      "clip",
    )


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_generator_batch_norm_is_what_the_generator_has(name):
  """The declaration --extra_g_passes is refused by holds for the
  generator the family builds."""
  from tf_ttur import builder
  from tf_ttur import gan
  from tf_ttur.config import ConfigError

  config = Config.of(model=name, **TINY[name])
  size = None if FAMILIES[name].image_sizes else 40  # A vocabulary's.
  model = builder.build_model(config, "float32", size=size)
  has = bool(gan.batch_norm_layers(model.generator))
  assert FAMILIES[name].generator_batch_norm == has
  if not has:
    with pytest.raises(ConfigError, match="--extra_g_passes"):
      config.replace(extra_g_passes=2, log_every=1).validate()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_has_a_flagfile(name):
  flagfiles = glob.glob(os.path.join(REPO, "configs", "*.flags"))
  models = {Config.from_flagfile(path).network.model for path in flagfiles}
  assert name in models


def test_every_evaluation_is_built_by_name_and_prepared_for():
  from tf_ttur import evaluators
  from tf_ttur import prepare

  assert set(evaluators.BUILDERS) == set(EVALS)
  # What an evaluation reads from outside the run is a piece that
  # --mode=prepare checks and fetches.
  for entry in EVALS.values():
    assert set(entry.needs) <= set(prepare.PIECES), entry.name


def _tiny(name, workdir, tfds_dir, inception_pb, stats_file) -> Config:
  family = FAMILIES[name]
  evaluations = (
    dict(
      fid_every=2,
      fid_samples=6,
      fid_stats=stats_file,
      fid_inception=inception_pb,
      fid_batch_size=3,
      kid_every=2,
      kid_samples=6,
      kid_subset_size=4,
      kid_subsets=3,
    )
    if family.modality.name == "image"
    else {}
  )
  return tiny_run(
    workdir,
    tfds_dir,
    shuffle_buffer=64,
    model=name,
    **evaluations,
    **TINY[name],
  ).validate()


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_trains_and_logs_its_evaluations(
  family, tmp_path, tfds_dir, inception_pb, stats_file
):
  config = _tiny(
    family, str(tmp_path / "run"), tfds_dir, inception_pb, stats_file
  )
  model = train_lib.train(config)
  with open(tmp_path / "run" / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  losses_logged = [r for r in records if "d_loss" in r]
  assert [r["step"] for r in losses_logged] == [1, 2]
  if FAMILIES[family].modality.name == "text":
    jsds = [r for r in records if "jsd_4" in r]
    assert [r["step"] for r in jsds] == [2]
    info = export_lib.read_model_info(str(tmp_path / "run" / "saved_model"))
    assert info["jsd"]["value"] == jsds[0]["jsd_4"]
    return
  kids = [r for r in records if "kid" in r]
  assert len(kids) == 1 and kids[0]["kid_samples"] == 6
  assert np.isfinite(kids[0]["kid"]) and kids[0]["kid_std"] >= 0
  with open(tmp_path / "run" / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  fids = [r for r in records if "fid" in r]
  assert len(fids) == 1 and fids[0]["step"] == 2
  assert np.isfinite(fids[0]["fid"]) and fids[0]["fid"] > 0
  assert fids[0]["checkpoint"] == "ckpt-2" and fids[0]["fid_samples"] == 6
  # The best generator says which FID it has, against which statistics.
  for export in ("saved_model_best", "saved_model"):
    info = export_lib.read_model_info(str(tmp_path / "run" / export))
    assert info["family"] == family and info["step"] == 2
    assert info["kid"]["value"] == kids[0]["kid"]
    assert info["fid"]["value"] == fids[0]["fid"]
    assert info["fid"]["reference_stats"] == os.path.basename(stats_file)
  with open(tmp_path / "run" / "best_fid.json") as f:
    assert json.load(f)["fid"] == fids[0]["fid"]
  if family == "wgan_gp":
    assert {"wasserstein", "gp"} <= set(losses_logged[0])
    assert int(model.d_optimizer.iterations) == 4  # 2 critic steps per step
    assert int(model.g_optimizer.iterations) == 2
  if family == "began":
    assert {"m_global", "k_t"} <= set(losses_logged[0])
    assert 0.0 <= float(model.k_t) <= 1.0
    # Halved after each update here (lr_halve_every=1): 6e-5 / 4 after 2.
    lr = model.d_optimizer.learning_rate
    assert float(lr) == pytest.approx(6e-5 / 4)


@pytest.mark.parametrize("name", sorted(EVALS))
def test_every_evaluator_returns_its_declared_values(
  name, tmp_path, monkeypatch
):
  """Each tf_ttur.evals entry's builder makes an Evaluator (the protocol
  the callback calls) whose values hold the entry's, on a stub model, with
  stand-ins for what it reads from outside (the Inception extractor, the
  statistics file, the shapes classifier, DINOv2, CLIP, the training images)."""
  import tensorflow as tf

  import fid
  from fid import clip
  from fid import dinov2
  from fid import saved_model
  from tf_ttur import evaluators
  from tf_ttur.data import text

  rng = np.random.default_rng(0)

  class Features:  # images [n, H, W, 3] -> 8 features, no logits.
    feature_dim = 8

    def __call__(self, images):
      flat = np.asarray(images, np.float64).reshape(len(images), -1)
      return flat[:, :8] / 255.0, np.zeros((len(images), 0))

  features = Features()

  monkeypatch.setattr(fid, "make_extractor", lambda *a, **k: features)
  monkeypatch.setattr(fid, "load_stats", lambda path: (np.zeros(8), np.eye(8)))
  monkeypatch.setattr(saved_model, "SavedModelExtractor", lambda path: features)
  monkeypatch.setattr(dinov2, "make_extractor", lambda *a, **k: features)
  monkeypatch.setattr(clip, "make_extractor", lambda *a, **k: features)
  monkeypatch.setattr(
    evaluators,
    "_training_images",
    lambda config: tf.data.Dataset.from_tensor_slices(
      rng.integers(0, 256, (16, 8, 8, 3), np.uint8)
    ),
  )
  monkeypatch.setenv("TF_TTUR_CACHE_DIR", str(tmp_path / "cache"))
  entry = EVALS[name]
  small = {
    f"{name}_every": 2,
    f"{name}_samples": 16,
    "log_every": 2,
    "workdir": str(tmp_path / "run"),
  }
  if entry.modality == "text":
    vocabulary = text.Vocabulary.from_lines(["abcd" * 8] * 4)

    class Data:
      lines = ["abcd" * 8, "dcba" * 8] * 4

    Data.vocabulary = vocabulary
    config = Config.of(model="language", dataset="english", **small)

    class Model:
      z_dim, z_distribution = 4, "normal"
      generator = staticmethod(
        lambda z, training=False: tf.one_hot(
          tf.zeros((len(z), 32), tf.int32), len(vocabulary.chars)
        )
      )
  else:
    Data = None
    config = Config.of(image_size=32, fid_stats="x.npz", **small)

    class Model:
      z_dim, z_distribution = 4, "uniform"
      generator = staticmethod(
        lambda z, training=False: tf.tanh(
          tf.random.stateless_normal((len(z), 8, 8, 3), (0, len(z)))
        )
      )

  evaluator = evaluators.BUILDERS[name](config, Data, None)
  assert isinstance(evaluator.name, str) and evaluator.name == name
  values = evaluator(Model(), step=2)
  evaluators.check_values(evaluator, values)
  assert all(np.isfinite(v) for v in values.values())
  assert evaluator.line(values)
  with pytest.raises(TypeError, match="without its declared"):
    evaluators.check_values(evaluator, {})
