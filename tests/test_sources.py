"""The data sources registry (fid.datasources) and the routes it opens,
from the files a user has to the first training step: LSUN's LMDB export
(a small LMDB written here, WebP records as LSUN's) and CelebA's aligned
images (a folder and its zip, 178x218 JPEGs as CelebA's)."""

from __future__ import annotations

import io
import os
import warnings
import zipfile

import numpy as np
from PIL import Image
import pytest

from fid import api
from fid import datasources
from fid import sources
from fid import stats as fid_stats
from tests.helpers import REPO
from tests.helpers import stand_in_url_infos
from tests.helpers import trains_two_steps
from tf_ttur import prepare
from tf_ttur import prepare_fid
from tf_ttur.config import Config
from tf_ttur.data import images as images_lib
from tf_ttur.errors import ConfigError

DEMO = os.path.join(REPO, "configs", "demo.flags")


def _lmdb(folder, count=7) -> list[np.ndarray]:
  """An LMDB as LSUN exports it: hex keys, WebP-encoded images of mixed
  sizes; returns the images in key order."""
  import lmdb

  rng = np.random.default_rng(0)
  pictures = {}
  env = lmdb.open(str(folder), map_size=1 << 26)
  with env.begin(write=True) as txn:
    for i in range(count):
      h, w = [(40, 52), (60, 45), (33, 33)][i % 3]
      picture = rng.integers(0, 256, (h, w, 3), np.uint8)
      encoded = io.BytesIO()
      Image.fromarray(picture).save(encoded, "WEBP", lossless=True)
      key = f"{rng.integers(1 << 60):016x}".encode()
      txn.put(key, encoded.getvalue())
      pictures[key] = picture
  env.close()
  return [pictures[k] for k in sorted(pictures)]


def _celeba(folder, count=5) -> list[str]:
  """CelebA's aligned layout: 000001.jpg ... of 178x218."""
  folder.mkdir()
  rng = np.random.default_rng(1)
  names = []
  for i in range(1, count + 1):
    name = f"{i:06d}.jpg"
    Image.fromarray(rng.integers(0, 256, (218, 178, 3), np.uint8)).save(
      folder / name, quality=90
    )
    names.append(name)
  return names


@pytest.mark.parametrize(
  "spec, kind, path, name, split",
  [
    ("cifar10", "tfds", None, "cifar10", "train"),
    ("celeb_a", "tfds", None, "celeb_a", "train+validation+test"),
    ("tfds:svhn_cropped", "tfds", None, "svhn_cropped", "train"),
    ("tfds:shapes:train[:10]", "tfds", None, "shapes", "train[:10]"),
    ("lm1b", "tfds", None, "lm1b", "train"),
    ("folder:/a/b", "folder", "/a/b", None, None),
    ("lmdb:/x/bedroom_train_lmdb", "lmdb", "/x/bedroom_train_lmdb", None, None),
    (
      "celeba:img_align_celeba.zip",
      "celeba",
      "img_align_celeba.zip",
      None,
      None,
    ),
    ("textfile:/t.txt", "textfile", "/t.txt", None, None),
  ],
)
def test_one_spelling_per_source(spec, kind, path, name, split):
  source = datasources.parse(spec)
  assert (source.kind.name, source.path, source.name, source.split) == (
    kind,
    path,
    name,
    split,
  )
  # The spelling parses back to the same source.
  assert datasources.parse(source.spelling) == source


@pytest.mark.parametrize(
  "spec, message",
  [
    ("mnist", "unknown dataset 'mnist'"),
    ("folder:", "folder: needs a PATH"),
    ("zip:/a", "unknown dataset 'zip:/a'"),
    ("tfds:cifar10[:5]", "a slice needs a split"),
  ],
)
def test_bad_spellings(spec, message):
  with pytest.raises(datasources.SourceSpecError, match=message):
    datasources.parse(spec)


def test_crops_are_training_s():
  assert datasources.parse("celeb_a").crop() == "center108"
  assert datasources.parse("celeba:x").crop() == "center108"
  assert datasources.parse("lsun/bedroom").crop() == "square"
  assert datasources.parse("lmdb:x").crop() == "square"
  assert datasources.parse("folder:x").crop() == "square"
  assert datasources.parse("cifar10").crop() == "none"


def test_lmdb_images_are_the_records_in_key_order(tmp_path):
  folder = tmp_path / "bedroom_train_lmdb"
  pictures = _lmdb(folder)
  source = datasources.parse(f"lmdb:{folder}")
  assert source.check() == datasources.Check(
    True, "7 encoded images (LMDB)", count=7
  )
  raw = [x.numpy() for x in sources.raw_images(source)]
  assert len(raw) == 7
  for got, want in zip(raw, pictures):
    np.testing.assert_array_equal(got, want)  # Lossless WebP.
  trained = [x.numpy() for x in images_lib.load_images(f"lmdb:{folder}", 32)]
  assert all(x.shape == (32, 32, 3) for x in trained)


def test_lmdb_not_there_is_one_listing_line(tmp_path):
  for path, detail in (
    (tmp_path / "nowhere", "no such folder"),
    (tmp_path, "no data.mdb in that folder"),
  ):
    config = Config.of(dataset=f"lmdb:{path}", image_size=32)
    piece = prepare.dataset(config, fetch=False, build_offline=True)
    assert not piece.ready and piece.detail.startswith(detail)
    assert "bedroom_train_lmdb.zip" in " ".join(piece.how)
    with pytest.raises(ConfigError, match=detail):
      prepare.refuse_if_missing([piece])


def test_celeba_folder_and_zip_give_the_same_cropped_images(tmp_path):
  folder = tmp_path / datasources.CELEBA_FOLDER
  names = _celeba(folder)
  archive = tmp_path / f"{datasources.CELEBA_FOLDER}.zip"
  with zipfile.ZipFile(archive, "w") as z:
    for name in reversed(names):  # Order in the zip does not matter.
      z.write(folder / name, f"{datasources.CELEBA_FOLDER}/{name}")
  check = datasources.parse(f"celeba:{archive}").check()
  assert check.ready and check.detail.startswith(
    "5 aligned images; CelebA has 202,599"
  )
  from_folder = np.stack(
    [x.numpy() for x in images_lib.load_images(f"celeba:{folder}", 64)]
  )
  from_zip = np.stack(
    [x.numpy() for x in images_lib.load_images(f"celeba:{archive}", 64)]
  )
  np.testing.assert_array_equal(from_folder, from_zip)
  # The 108x108 center crop of the 178x218 image, then 64x64: CelebA's
  # rule (fid.preprocess.PAPER), as tfds celeb_a gets it.
  import tensorflow as tf

  from fid import preprocess

  first = tf.io.decode_jpeg(open(folder / names[0], "rb").read())
  expected = preprocess.crop_and_resize(first, "center108", 64).numpy()
  np.testing.assert_array_equal(from_folder[0], expected)


@pytest.mark.slow
def test_lmdb_route_from_files_to_statistics_and_training(
  tmp_path, inception_pb
):
  """An LSUN-style LMDB: prepare says ready, the printed reference command
  gives the statistics of the images training delivers, and training runs
  its first steps on it."""
  folder = tmp_path / "bedroom_train_lmdb"
  _lmdb(folder, count=9)
  config = Config.from_flagfile(
    DEMO,
    f"--dataset=lmdb:{folder}",
    f"--workdir={tmp_path}/run",
    "--quality_every=0",
    "--fid_every=50",
    f"--fid_stats={tmp_path}/lsun_own.npz",
    f"--fid_inception={inception_pb}",
  ).validate()
  piece = prepare.dataset(config, fetch=False, build_offline=True)
  assert piece.ready and piece.detail == "9 encoded images (LMDB)"
  command = prepare_fid.own_stats_command(config, f"{tmp_path}/lsun_own.npz")
  assert command.startswith(f"python -m fid lmdb:{folder} --image_size=32 ")
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # The replica; few images.
    api.compute(
      [f"lmdb:{folder}"],
      inception_path=inception_pb,
      image_size=32,
      batch_size=3,
      save_stats=f"{tmp_path}/lsun_own.npz",
    )
    from fid import core
    from fid import inception

    net = inception.make_extractor("fast", inception_pb)
    delivered = np.stack(
      [x.numpy() for x in images_lib.load_images(f"lmdb:{folder}", 32)]
    )
    want = core.run_pass([delivered[i : i + 3] for i in range(0, 9, 3)], net)
  mu, sigma = fid_stats.load_stats(f"{tmp_path}/lsun_own.npz")
  np.testing.assert_allclose(
    mu, want.mu, rtol=1e-6, atol=1e-6 * np.abs(want.mu).max()
  )
  np.testing.assert_allclose(
    sigma, want.sigma, rtol=1e-6, atol=1e-6 * np.abs(want.sigma).max()
  )
  recorded = fid_stats.load_provenance(f"{tmp_path}/lsun_own.npz")
  assert (
    prepare_fid.provenance.differences(
      recorded, prepare_fid.expected_provenance(config)
    )
    == []
  )
  trains_two_steps(
    str(tmp_path / "run"),
    f"--flagfile={DEMO}",
    f"--dataset=lmdb:{folder}",
    "--quality_every=0",
  )


def _celeba_originals(manual, folder, names) -> dict:
  """TFDS celeb_a's five original files in its manual folder (the zip of
  the aligned images and four lists, stand-ins of the real layout), and
  the UrlInfos TFDS checks them against (the stand-ins' own)."""
  from tensorflow_datasets.datasets.celeb_a import (
    celeb_a_dataset_builder as celeb_a,
  )

  manual.mkdir(parents=True)
  with zipfile.ZipFile(manual / "img_align_celeba.zip", "w") as z:
    for name in names:
      z.write(folder / name, f"img_align_celeba/{name}")
  # Partition 0, 1, 2 = train, validation, test: some in each.
  (manual / "list_eval_partition.txt").write_text(
    "".join(f"{n} {i % 3}\n" for i, n in enumerate(names))
  )
  attrs = celeb_a.ATTR_HEADINGS
  (manual / "list_attr_celeba.txt").write_text(
    f"{len(names)}\n{' '.join(attrs)}\n"
    + "".join(f"{n} {' '.join('1' for _ in attrs)}\n" for n in names)
  )
  marks = celeb_a.LANDMARK_HEADINGS
  (manual / "list_landmarks_align_celeba.txt").write_text(
    f"{len(names)}\n{' '.join(marks)}\n"
    + "".join(f"{n} {' '.join('10' for _ in marks)}\n" for n in names)
  )
  (manual / "identity_CelebA.txt").write_text(
    "".join(f"{n} {i + 1}\n" for i, n in enumerate(names))
  )
  return stand_in_url_infos(celeb_a.Builder, manual)


@pytest.mark.slow
def test_celeba_source_gives_exactly_tfds_celeb_a(tmp_path, monkeypatch):
  """TFDS's celeb_a built offline from its original files (through
  --mode=prepare) and celeba:img_align_celeba.zip deliver the same
  images, all of them, with the same crop: training on either sees the
  same data, and TTUR's statistics fit both."""
  from tensorflow_datasets.datasets.celeb_a import (
    celeb_a_dataset_builder as celeb_a,
  )

  folder = tmp_path / datasources.CELEBA_FOLDER
  names = _celeba(folder, count=7)
  data_dir = tmp_path / "tfds"
  manual = data_dir / "downloads" / "manual"
  monkeypatch.setattr(
    celeb_a.Builder, "url_infos", _celeba_originals(manual, folder, names)
  )
  monkeypatch.setattr(sources, "download_reachable", lambda *a: False)
  config = Config.of(dataset="celeb_a", image_size=64, data_dir=str(data_dir))
  piece = prepare.dataset(config, fetch=False, build_offline=True)
  assert piece.ready and piece.detail.startswith("7 examples"), piece

  def delivered(name):
    out = [
      x.numpy()
      for x in images_lib.load_images(
        name, 64, data_dir=str(data_dir), download=False
      )
    ]
    return sorted(out, key=lambda x: x.tobytes())

  from_tfds = delivered("celeb_a")
  from_zip = delivered(f"celeba:{manual / 'img_align_celeba.zip'}")
  assert len(from_tfds) == len(from_zip) == 7
  for a, b in zip(from_tfds, from_zip):
    np.testing.assert_array_equal(a, b)
  # The CelebA row's flagfile trains its first steps on either route.
  celeba = os.path.join(REPO, "configs", "celeba.flags")
  trains_two_steps(
    str(tmp_path / "run_tfds"),
    f"--flagfile={celeba}",
    f"--data_dir={data_dir}",
    "--fid_every=0",
  )
  trains_two_steps(
    str(tmp_path / "run_zip"),
    f"--flagfile={celeba}",
    f"--dataset=celeba:{manual / 'img_align_celeba.zip'}",
    "--fid_every=0",
  )


def test_kid_on_a_one_image_folder_is_refused_before_anything_is_written(
  tmp_path,
):
  folder = tmp_path / "one"
  folder.mkdir()
  Image.new("RGB", (40, 40)).save(folder / "0.png")
  config = Config.of(
    dataset=f"folder:{folder}",
    image_size=32,
    kid_every=50,
    workdir=str(tmp_path / "run"),
  )
  piece = prepare.dataset(config, fetch=False, build_offline=False)
  assert not piece.ready
  assert piece.detail == "1 image: --kid_every needs at least 2 training images"
  with pytest.raises(ConfigError, match="--kid_every needs at least 2"):
    prepare.refuse_if_missing([piece])
  assert not (tmp_path / "run").exists()
