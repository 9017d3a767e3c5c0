"""Statistics that say where they came from: the record every saved .npz
carries, TTUR's names reserved, the run's warning when its reference was
made from other images, and the warning for a graph that is not the 2015
one."""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import numpy as np
import pytest

import fid
from fid import api
from fid import inception
from fid import provenance
from fid import stats as fid_stats
from tests.helpers import REPO
from tests.helpers import write_random_pngs
from tf_ttur import prepare_fid
from tf_ttur.config import Config


def _md5(path) -> str:
  return hashlib.md5(open(path, "rb").read()).hexdigest()


def _folder(path, count=5):
  write_random_pngs(path, count, size=(20, 24), seed=0)
  return path


@pytest.mark.slow
def test_saved_statistics_record_a_folder(tmp_path, inception_pb):
  images = _folder(tmp_path / "images")
  out = tmp_path / "mine.npz"
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # The replica is no 2015 graph.
    api.compute(
      [str(images)],
      inception_path=inception_pb,
      save_stats=str(out),
      batch_size=2,
    )
  recorded = fid_stats.load_provenance(str(out))
  assert recorded["source"] == str(images)
  assert recorded["dataset"] == f"folder:{images}"
  assert recorded["count"] == 5
  assert (recorded["image_size"], recorded["crop"]) == (None, None)
  assert recorded["extractor"] == "fast"
  assert recorded["graph_md5"] == _md5(inception_pb)
  assert recorded["paper_graph"] is False
  assert recorded["fid_version"] == fid.__version__
  # TTUR's readers see their two keys.
  with np.load(out) as data:
    assert {"mu", "sigma"} <= set(data.files)


@pytest.mark.slow
def test_saved_statistics_record_a_tfds_split(tmp_path, inception_pb, tfds_dir):
  out = tmp_path / "shapes_train_32.npz"
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    result = api.compute(
      ["tfds:shapes:train[:6]"],
      inception_path=inception_pb,
      save_stats=str(out),
      data_dir=tfds_dir,
      image_size=32,
      extractor="reference",
    )
  recorded = fid_stats.load_provenance(str(out))
  assert (
    recorded["dataset"],
    recorded["split"],
    recorded["image_size"],
    recorded["crop"],
  ) == ("shapes", "train[:6]", 32, "none")
  assert recorded["count"] == result["counts"][0] == 6
  assert recorded["extractor"] == "reference"


@pytest.mark.parametrize("name", sorted(provenance.TTUR_STATS))
def test_ttur_names_are_reserved(tmp_path, name):
  with pytest.raises(ValueError, match="TTUR's published statistics"):
    api.compute([str(tmp_path)], save_stats=str(tmp_path / name))
  assert os.listdir(tmp_path) == []


def test_a_file_without_record_reads_as_none(stats_file):
  assert fid_stats.load_provenance(stats_file) is None


def test_a_foreign_graph_warns_once(inception_pb):
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    extractor = inception.make_extractor("reference", inception_pb)
  messages = [str(w.message) for w in caught]
  assert len(messages) == 1
  assert "not the 2015-12-05 Inception graph" in messages[0]
  assert "cannot be compared with published ones" in messages[0]
  assert extractor.graph_md5 == _md5(inception_pb)


def _stats_with(tmp_path, **fields) -> str:
  path = str(tmp_path / "reference.npz")
  rng = np.random.default_rng(0)
  x = rng.normal(size=(64, 2048)) * 0.1
  record = provenance.record(
    "tfds:x:y",
    64,
    "fast",
    fields.pop("graph_md5", provenance.download.PB_MD5),
    **fields,
  )
  fid_stats.save_stats(
    path, x.mean(0), np.cov(x, rowvar=False), provenance=record
  )
  return path


def _svhn(path) -> Config:
  return Config.from_flagfile(
    os.path.join(REPO, "configs", "svhn.flags"), f"--fid_stats={path}"
  )


def test_a_reference_of_other_images_gets_one_warning(tmp_path):
  path = _stats_with(
    tmp_path, dataset="cifar10", split="train", image_size=32, crop="none"
  )
  piece = prepare_fid.reference_statistics(_svhn(path), fetch=False)
  assert piece.ready
  assert len(piece.warnings) == 1
  assert (
    "dataset 'cifar10' in the file, 'svhn_cropped' in the run"
    in (piece.warnings[0])
  )
  assert "tfds:svhn_cropped:train" in piece.warnings[0]


def test_a_reference_of_the_runs_images_is_quiet(tmp_path):
  path = _stats_with(
    tmp_path, dataset="svhn_cropped", split="train", image_size=32, crop="none"
  )
  piece = prepare_fid.reference_statistics(_svhn(path), fetch=False)
  assert piece.ready and piece.warnings == []
  assert piece.detail == "tfds:x:y, 64 images, none crop to 32x32"


def test_a_reference_from_another_graph_is_named(tmp_path):
  path = _stats_with(
    tmp_path,
    dataset="svhn_cropped",
    split="train",
    image_size=32,
    crop="none",
    graph_md5="0" * 32,
  )
  piece = prepare_fid.reference_statistics(_svhn(path), fetch=False)
  assert len(piece.warnings) == 1
  assert "another Inception graph" in piece.warnings[0]


def test_ttur_files_are_accepted_with_one_note(stats_file):
  piece = prepare_fid.reference_statistics(_svhn(stats_file), fetch=False)
  assert piece.ready and piece.warnings == []
  assert "no provenance record" in piece.detail


def test_the_savedmodel_extractor_is_chosen_by_name_and_recorded(tmp_path):
  """python -m fid --extractor=savedmodel --inception=DIR: a Frechet
  distance in that model's feature space, named as not the FID, and the
  statistics record which extractor made them."""
  classifier = os.path.join(REPO, "saved_models", "shapes_classifier")
  # More images than the classifier's 64 features.
  images = write_random_pngs(tmp_path / "images", 70, seed=1)
  out = tmp_path / "mine.npz"
  with pytest.warns(fid.errors.FIDWarning, match="not FIDs"):
    api.compute(
      [str(images)],
      inception_path=classifier,
      extractor="savedmodel",
      save_stats=str(out),
      batch_size=16,
    )
  record = fid_stats.load_provenance(str(out))
  assert record["extractor"] == "savedmodel"
  mu, sigma = fid.load_stats(str(out))
  assert mu.shape == (64,) and sigma.shape == (64, 64)
  with pytest.raises(ValueError, match="needs --inception=DIR"):
    inception.make_extractor("savedmodel")


def test_a_foreign_md5_is_named_whatever_paper_graph_says(tmp_path):
  path = _stats_with(
    tmp_path,
    dataset="svhn_cropped",
    split="train",
    image_size=32,
    crop="none",
    graph_md5="0" * 32,
  )
  with np.load(path) as data:
    arrays = dict(data)
  record = json.loads(str(arrays["provenance"]))
  record["paper_graph"] = "no"  # Truthy: edited or written by other code.
  arrays["provenance"] = np.array(json.dumps(record))
  np.savez(path, **arrays)
  piece = prepare_fid.reference_statistics(_svhn(path), fetch=False)
  assert [w for w in piece.warnings if "another Inception graph" in w]


@pytest.mark.parametrize(
  "text, says",
  [
    ("{broken", "its provenance record is not JSON"),
    ("[1, 2]", "its provenance record is list, not a JSON object"),
  ],
)
def test_a_damaged_provenance_record_is_not_taken_for_none(
  tmp_path, text, says
):
  path = str(tmp_path / "reference.npz")
  x = np.random.default_rng(0).normal(size=(64, 2048)) * 0.1
  np.savez(
    path, mu=x.mean(0), sigma=np.cov(x, rowvar=False), provenance=np.array(text)
  )
  piece = prepare_fid.reference_statistics(_svhn(path), fetch=False)
  assert not piece.ready and says in piece.detail
  assert "TTUR's published files have none" not in piece.detail


def test_a_text_file_given_as_statistics_is_one_plain_line(tmp_path):
  path = tmp_path / "notes.npz"
  path.write_text("mu = 1\n")
  with pytest.raises(fid_stats.StatsError) as raised:
    fid_stats.load_stats(str(path))
  message = str(raised.value)
  assert message.startswith(f"{path}: not a readable .npz file")
  assert "allow_pickle" not in message and "unsafe" not in message
