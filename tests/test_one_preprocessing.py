"""Reference statistics are made from the images training sees, whatever
the source: the command `--mode=prepare` prints for a run's own
statistics gives, run as printed, the statistics of the images the
training pipeline delivers (1e-6 relative), for a folder and a TFDS
dataset; without --image_size a folder's statistics differ."""

from __future__ import annotations

import shlex
import warnings

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from fid import __main__ as cli
from fid import api
from fid import core
from fid import inception
from fid import sources
from fid import stats as fid_stats
from tf_ttur import prepare_fid
from tf_ttur.config import Config
from tf_ttur.data import images as images_lib


def _folder(path):
  """Images of several sizes and formats, one with an alpha channel."""
  path.mkdir()
  rng = np.random.default_rng(0)
  for i, (h, w) in enumerate(
    [(40, 50), (32, 32), (20, 30), (37, 41), (64, 48)]
  ):
    pixels = rng.integers(0, 256, (h, w, 3), np.uint8)
    Image.fromarray(pixels).save(path / f"{i}.png")
  Image.fromarray(rng.integers(0, 256, (30, 30, 4), np.uint8)).save(
    path / "5.png"
  )
  Image.fromarray(rng.integers(0, 256, (25, 35, 3), np.uint8)).save(
    path / "6.bmp"
  )
  return path


def _run_printed(command: str, inception_pb: str, *extra: str) -> str:
  """Runs `python -m fid ...` as prepare prints it; returns --save_stats."""
  args = shlex.split(command.split(" (then ")[0])
  assert args[:3] == ["python", "-m", "fid"], command
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # The replica, few images.
    code = cli.main(
      [
        *args[3:],
        f"--inception={inception_pb}",
        "--quiet",
        "--batch_size=3",
        *extra,
      ]
    )
  assert code == 0
  return args[args.index("--save_stats") + 1]


def _training_statistics(
  name: str, size: int, inception_pb: str, data_dir: str | None = None
):
  delivered = np.stack(
    [
      x.numpy()
      for x in images_lib.load_images(
        name, size, data_dir=data_dir, download=False
      )
    ]
  )
  net = inception.make_extractor("fast", inception_pb)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    # The batch size of the printed command's run (--batch_size=3): the
    # extractor's float32 sums depend on it at the 1e-8 level.
    result = core.run_pass(
      [delivered[i : i + 3] for i in range(0, len(delivered), 3)], net
    )
  return delivered, result.mu, result.sigma


def _assert_equal_statistics(path, mu, sigma):
  saved_mu, saved_sigma = fid_stats.load_stats(path)
  np.testing.assert_allclose(
    saved_mu, mu, rtol=1e-6, atol=1e-6 * np.abs(mu).max()
  )
  np.testing.assert_allclose(
    saved_sigma, sigma, rtol=1e-6, atol=1e-6 * np.abs(sigma).max()
  )


@pytest.mark.slow
def test_a_folders_printed_command_gives_the_training_images_statistics(
  tmp_path, inception_pb, monkeypatch
):
  folder = _folder(tmp_path / "images")
  monkeypatch.chdir(tmp_path)
  config = Config.of(
    dataset=f"folder:{folder}", image_size=16, fid_every=10, fid_stats="own.npz"
  )
  command = prepare_fid.own_stats_command(config, "own.npz")
  assert "--image_size=16" in command
  saved = _run_printed(command, inception_pb)
  delivered, mu, sigma = _training_statistics(
    f"folder:{folder}", 16, inception_pb
  )
  assert len(delivered) == 7  # Every file training reads, the .bmp too.
  _assert_equal_statistics(saved, mu, sigma)
  recorded = fid_stats.load_provenance(saved)
  assert (recorded["image_size"], recorded["crop"]) == (16, "square")
  assert (
    prepare_fid.provenance.differences(
      recorded, prepare_fid.expected_provenance(config)
    )
    == []
  )
  # As stored, the images are others: another mean, and the run says so.
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    api.compute(
      [str(folder)],
      inception_path=inception_pb,
      save_stats="stored.npz",
      batch_size=3,
    )
  stored_mu, _ = fid_stats.load_stats("stored.npz")
  assert np.abs(stored_mu - mu).max() > 1e-3 * np.abs(mu).max()
  differences = prepare_fid.provenance.differences(
    fid_stats.load_provenance("stored.npz"),
    prepare_fid.expected_provenance(config),
  )
  assert differences == ["image_size as stored in the file, 16 in the run"]


@pytest.mark.slow
def test_a_tfds_printed_command_gives_the_training_images_statistics(
  tmp_path, inception_pb, monkeypatch
):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: True)
  config = Config.of(
    dataset="svhn_cropped",
    image_size=32,
    fid_every=10,
    fid_stats="stats/fid_stats_svhn_train.npz",
  )
  (tmp_path / "stats").mkdir()
  command = prepare_fid.own_stats_command(config, config.evaluation.fid_stats)
  assert command.startswith(
    "python -m fid tfds:svhn_cropped:train --image_size=32 --save_stats stats/"
  )
  with tfds.testing.mock_data(num_examples=9):
    saved = _run_printed(command, inception_pb)
    delivered, mu, sigma = _training_statistics(
      "svhn_cropped", 32, inception_pb
    )
  assert len(delivered) == 9
  _assert_equal_statistics(saved, mu, sigma)


def test_flags_that_would_be_ignored_are_refused(tmp_path):
  folder = _folder(tmp_path / "images")
  with pytest.raises(ValueError, match="--crop needs --image_size"):
    api.compute(
      [str(folder)], save_stats=str(tmp_path / "s.npz"), crop="square"
    )
  stats = tmp_path / "s.npz"
  rng = np.random.default_rng(0)
  x = rng.normal(size=(8, 4))
  np.savez(stats, mu=x.mean(0), sigma=np.cov(x, rowvar=False))
  with pytest.raises(ValueError, match="--image_size applies to image inputs"):
    api.compute([str(stats), str(stats)], image_size=32)


def test_preprocessed_batches_name_an_undecodable_file(tmp_path):
  folder = _folder(tmp_path / "images")
  (folder / "7.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
  files = sources.list_images(str(folder))
  with pytest.raises(
    sources.SourceError,
    match=r"7\.png: cannot read the "
    "image",
  ):
    list(sources.preprocessed_batches(files, "square", 16, 4))
