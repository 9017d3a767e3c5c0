"""--mode=prepare and the check training runs first, against local
stand-ins: a 127.0.0.1 server holding SVHN's three .mat files (TFDS's own
svhn_cropped builder downloads and builds them), TTUR's statistics file and
the Inception archive (the synthetic replica)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest
import scipy.io
from tensorflow_datasets.datasets.svhn_cropped import (
  svhn_cropped_dataset_builder as svhn_builder,
)

from fid import download
from fid import provenance
from fid import sources
from fid import stats as fid_stats
from fid import testing
from tests.helpers import REPO
from tests.helpers import run_module
from tests.helpers import stand_in_url_infos
from tests.helpers import trains_two_steps
from tf_ttur import main as main_lib
from tf_ttur import prepare
from tf_ttur import prepare_fid
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError

SVHN = os.path.join(REPO, "configs", "svhn.flags")


def _tree(path) -> list[str]:
  return sorted(
    os.path.relpath(os.path.join(d, f), path)
    for d, _, files in os.walk(path)
    for f in files
  )


@pytest.fixture
def place(tmp_path, monkeypatch):
  """An empty data_dir, cache and stats folder; no internet."""
  monkeypatch.setenv("FID_CACHE_DIR", str(tmp_path / "cache"))
  monkeypatch.setattr(sources, "download_reachable", lambda *a: False)
  return tmp_path


def _svhn(place, *overrides) -> Config:
  return Config.from_flagfile(
    SVHN,
    f"--data_dir={place}/tfds",
    f"--workdir={place}/run",
    f"--fid_stats={place}/stats/fid_stats_svhn_train.npz",
    *overrides,
  ).validate()


def test_nothing_present_lists_every_piece_at_once(place):
  config = _svhn(place)
  pieces = prepare.check(config, fetch=False)
  assert [p.ready for p in pieces] == [False, False, False]
  with pytest.raises(ConfigError) as raised:
    prepare.refuse_if_missing(pieces)
  message = str(raised.value)
  assert message.startswith("3 of the 3 things this run reads are missing")
  # Each piece, with how to get it online and what to copy where offline.
  assert "dataset svhn_cropped (TFDS, split train)" in message
  assert "tfds build svhn_cropped" in message
  assert f"to {place}/tfds/svhn_cropped/3.1.0" in message
  assert (provenance.TTUR_STATS_URL + "fid_stats_svhn_train.npz") in message
  assert "python -m fid tfds:svhn_cropped:train --image_size=32" in message
  assert "stats/svhn_cropped_train_32.npz" in message
  assert download.INCEPTION_URL in message and download.PB_MD5 in message
  assert f"into {place}/cache" in message
  assert _tree(place) == []


@pytest.mark.slow
def test_training_refuses_with_the_whole_list_before_writing(tmp_path):
  proc = run_module(
    "tf_ttur.main",
    f"--flagfile={SVHN}",
    f"--workdir={tmp_path}/run",
    f"--data_dir={tmp_path}/tfds",
    f"--fid_stats={tmp_path}/fid_stats_svhn_train.npz",
    env_extra={"FID_CACHE_DIR": str(tmp_path / "cache")},
  )
  assert proc.returncode == 2, proc.stderr
  errors = [
    line for line in proc.stderr.splitlines() if line.startswith("error:")
  ]
  assert errors == [
    "error: 3 of the 3 things this run reads are missing (nothing was written):"
  ]
  assert proc.stderr.count("MISSING") == 3
  assert _tree(tmp_path) == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):
    del args


@pytest.fixture
def server(tmp_path):
  """A local web server over tmp_path/served, and its base URL."""
  served = tmp_path / "served"
  served.mkdir()
  handler = functools.partial(_Quiet, directory=str(served))
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
  httpd.shutdown()


def _serve_everything(served, inception_pb):
  rng = np.random.default_rng(0)
  for split, count in (("train", 6), ("test", 3), ("extra", 2)):
    scipy.io.savemat(
      str(served / f"{split}_32x32.mat"),
      {
        "X": rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8),
        "y": rng.integers(1, 11, (count, 1)),
      },
    )
  features = rng.normal(size=(64, 2048)) * 0.1
  # TTUR's published files carry mu and sigma only.
  np.savez_compressed(
    served / "fid_stats_svhn_train.npz",
    mu=features.mean(0),
    sigma=np.cov(features, rowvar=False),
  )
  testing.write_archive(str(served / download.ARCHIVE_NAME), inception_pb)


@pytest.mark.slow
def test_prepare_fetches_builds_and_says_ready(
  place, server, inception_pb, monkeypatch, capsys
):
  served, url = server
  _serve_everything(served, inception_pb)
  monkeypatch.setattr(sources, "download_reachable", lambda *a: True)
  monkeypatch.setattr(svhn_builder, "URL", url)
  monkeypatch.setattr(provenance, "TTUR_STATS_URL", url)
  monkeypatch.setattr(download, "INCEPTION_URL", url + download.ARCHIVE_NAME)
  # The replica's own checks, where the real graph's would refuse it.
  pb_bytes = open(inception_pb, "rb").read()
  monkeypatch.setattr(download, "PB_MD5", hashlib.md5(pb_bytes).hexdigest())
  monkeypatch.setattr(download, "PB_SIZE", len(pb_bytes))
  monkeypatch.setattr(
    download, "ARCHIVE_SIZE", os.path.getsize(served / download.ARCHIVE_NAME)
  )
  config = _svhn(place, "--mode=prepare")
  main_lib._check_needs(config)  # noqa: SLF001 The program's own step.
  out = capsys.readouterr().out
  assert out.count("  ok ") == 3 and "MISSING" not in out
  assert "6 examples in" in out
  assert "no provenance record (TTUR's published files have none)" in out
  assert out.rstrip().endswith(
    "ready: the same command without --mode=prepare trains it"
  )
  stats_path = place / "stats" / "fid_stats_svhn_train.npz"
  np.testing.assert_array_equal(
    fid_stats.load_stats(str(stats_path))[0],
    fid_stats.load_stats(str(served / "fid_stats_svhn_train.npz"))[0],
  )
  assert open(place / "cache" / download.PB_NAME, "rb").read() == pb_bytes
  # Training's own check now passes, offline.
  monkeypatch.setattr(sources, "download_reachable", lambda *a: False)
  assert all(p.ready for p in prepare.check(config.replace(mode="train")))


@pytest.mark.slow
def test_demo_is_ready_offline(tmp_path, monkeypatch):
  monkeypatch.setattr(sources, "download_reachable", lambda *a: False)
  config = Config.from_flagfile(
    os.path.join(REPO, "configs", "demo.flags"),
    f"--data_dir={tmp_path}",
    "--mode=prepare",
  ).validate()
  pieces = prepare.check(config, fetch=False, build_offline=True)
  assert [p.ready for p in pieces] == [True, True]
  assert os.path.isdir(tmp_path / "shapes")


def _cache_a_graph(place, content: bytes) -> str:
  cache = place / "cache"
  cache.mkdir(exist_ok=True)
  path = cache / download.PB_NAME
  path.write_bytes(content)
  return str(path)


def test_a_cached_graph_of_another_size_is_not_ready(place):
  """prepare checks a cached graph as training uses it (size, then MD5):
  never "ok" for a file training would not use."""
  _cache_a_graph(place, b"not the graph")
  config = _svhn(place)
  piece = prepare_fid.inception_graph(config, fetch=False)
  assert not piece.ready
  assert f"has 13 bytes, expected {download.PB_SIZE:,}" in piece.detail
  assert "--fid_inception=PATH" in " ".join(piece.how)
  # Refused in one line that names the flag setting it.
  pieces = prepare.check(
    config.replace(fid_stats=None, fid_every=0, kid_every=1000), fetch=False
  )
  with pytest.raises(ConfigError) as refused:
    prepare.refuse_if_missing(
      [p for p in pieces if not p.ready and "Inception" in p.what]
    )
  first = str(refused.value).splitlines()[0]
  assert first.startswith(f"Inception graph {place}/cache/")
  assert "[--fid_inception (or $FID_CACHE_DIR)]: " in first
  assert "has 13 bytes" in first
  # Training's own route to the graph refuses that file too, naming the
  # trainer's flag, without a traceback's worth of text.
  with pytest.raises(download.InceptionError) as raised:
    download.get_inception_graph(
      None,
      str(place / "cache"),
      url="http://127.0.0.1:9/none.tgz",
      flag="--fid_inception",
    )
  assert "has 13 bytes" in str(raised.value)
  assert "--fid_inception=PATH" in str(raised.value)
  assert len(str(raised.value).splitlines()) == 1


def test_a_cached_graph_with_another_md5_is_not_ready(place, monkeypatch):
  path = _cache_a_graph(place, b"x" * 64)
  monkeypatch.setattr(download, "PB_SIZE", 64)
  piece = prepare_fid.inception_graph(_svhn(place), fetch=False)
  assert not piece.ready and "has MD5" in piece.detail
  monkeypatch.setattr(download, "PB_MD5", download.file_md5(path))
  piece = prepare_fid.inception_graph(_svhn(place), fetch=False)
  assert piece.ready and download.PB_MD5 in piece.detail


def test_offline_prepare_says_what_it_would_fetch(place):
  pieces = prepare.check(_svhn(place, "--mode=prepare"), fetch=False)
  with pytest.raises(ConfigError) as raised:
    prepare.refuse_if_missing(pieces, offline=True)
  last = str(raised.value).splitlines()[-1]
  assert last.startswith("No internet here")
  assert "TFDS's download of svhn_cropped" in last
  assert provenance.TTUR_STATS_URL + "fid_stats_svhn_train.npz" in last
  assert download.INCEPTION_URL in last


@pytest.mark.slow
def test_training_refuses_a_wrong_cached_graph_before_writing(tmp_path):
  """What prepare calls MISSING, training refuses the same way: one
  error line, exit 2, nothing written (it used to try a download and end
  in a traceback after writing config.json)."""
  cache = tmp_path / "cache"
  cache.mkdir()
  (cache / download.PB_NAME).write_bytes(b"not the graph")
  stats = tmp_path / "ref.npz"
  rng = np.random.default_rng(0)
  x = rng.normal(size=(8, 2048))
  np.savez(stats, mu=x.mean(0), sigma=np.cov(x, rowvar=False))
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/demo.flags",
    f"--workdir={tmp_path}/run",
    f"--data_dir={tmp_path}/tfds",
    "--fid_every=250",
    f"--fid_stats={stats}",
    env_extra={"FID_CACHE_DIR": str(cache)},
  )
  assert proc.returncode == 2, proc.stderr
  assert "Traceback" not in proc.stderr
  errors = [
    line for line in proc.stderr.splitlines() if line.startswith("error:")
  ]
  assert len(errors) == 1 and "has 13 bytes" in errors[0], proc.stderr
  assert not os.path.exists(tmp_path / "run")


def _svhn_originals(folder, rng_seed=0) -> dict:
  """The three SVHN .mat files under their real names (few images each),
  and the UrlInfos TFDS would check them against (the stand-ins' own)."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(rng_seed)
  for info in svhn_builder.Builder.url_infos.values():
    count = {"train_32x32.mat": 6, "test_32x32.mat": 3}.get(info.filename, 2)
    scipy.io.savemat(
      os.path.join(folder, info.filename),
      {
        "X": rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8),
        "y": rng.integers(1, 11, (count, 1)),
      },
    )
  return stand_in_url_infos(svhn_builder.Builder, folder)


@pytest.mark.slow
def test_svhn_builds_offline_from_its_original_files(place, monkeypatch):
  """The files a user has (train/test/extra_32x32.mat) in TFDS's manual
  folder -> --mode=prepare builds the dataset offline (no apache_beam) ->
  training's check passes -> the run trains its first steps."""
  config = _svhn(place, "--mode=prepare", "--fid_every=0")
  manual = place / "tfds" / "downloads" / "manual"
  piece = prepare.dataset(config, fetch=False, build_offline=True)
  listing = "\n".join(piece.lines())
  assert (
    not piece.ready
    and f"into {manual} under these names (3 of 3 missing)" in listing
  )
  for name in ("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat"):
    assert f"  {name} (" in listing
  assert "182,040,794 bytes, SHA-256 435e94d69a87" in listing
  infos = _svhn_originals(str(manual))
  # Files whose checksums are not TFDS's are refused by TFDS, named.
  piece = prepare.dataset(config, fetch=False, build_offline=True)
  assert not piece.ready and "the TFDS build failed" in piece.detail
  assert "train_32x32.mat" in "\n".join(piece.lines())
  monkeypatch.setattr(svhn_builder.Builder, "url_infos", infos)
  piece = prepare.dataset(config, fetch=False, build_offline=True)
  assert piece.ready and piece.detail.startswith("6 examples in"), piece
  # Training's own check (no building) now passes, and the run trains.
  train_config = config.replace(mode="train")
  assert prepare.dataset(train_config, fetch=False, build_offline=False).ready
  trains_two_steps(
    str(place / "run"),
    f"--flagfile={SVHN}",
    f"--data_dir={place}/tfds",
    "--fid_every=0",
  )


def _stand_in_archive(path, members: dict) -> None:
  """A .tar.gz holding `members` (name -> bytes), the originals' layout."""
  import io
  import tarfile

  with tarfile.open(path, "w:gz") as tar:
    for name, data in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))


def _cifar10_members() -> dict:
  rng = np.random.default_rng(0)
  top = "cifar-10-batches-bin/"

  def batch(count):
    return b"".join(
      bytes([int(rng.integers(10))])
      + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
      for _ in range(count)
    )

  members = {f"{top}data_batch_{i}.bin": batch(2) for i in range(1, 6)}
  members[f"{top}test_batch.bin"] = batch(3)
  members[f"{top}batches.meta.txt"] = (
    "\n".join(f"class{i}" for i in range(10)).encode() + b"\n"
  )
  return members


def _lm1b_members() -> dict:
  top = "1-billion-word-language-modeling-benchmark-r13output/"
  training = f"{top}training-monolingual.tokenized.shuffled/"
  heldout = f"{top}heldout-monolingual.tokenized.shuffled/"
  return {
    f"{training}news.en-00001-of-00100": b"The first line .\nA second one .\n",
    f"{heldout}news.en.heldout-00000-of-00050": b"Held out .\n",
  }


@pytest.mark.slow
@pytest.mark.parametrize(
  "name, members, count",
  [("cifar10", _cifar10_members, 10), ("lm1b", _lm1b_members, 2)],
)
def test_paper_datasets_build_offline_from_their_originals(
  name, members, count, place, monkeypatch
):
  """CIFAR-10's and lm1b's original archive, in its real layout, in TFDS's
  manual folder: --mode=prepare builds the dataset offline, and training
  reads it."""
  import tensorflow_datasets as tfds

  builder_class = type(tfds.builder(name, data_dir=str(place / "tfds")))
  manual = place / "tfds" / "downloads" / "manual"
  manual.mkdir(parents=True)
  (info,) = builder_class.url_infos.values()
  _stand_in_archive(manual / info.filename, members())
  monkeypatch.setattr(
    builder_class, "url_infos", stand_in_url_infos(builder_class, manual)
  )
  text = name == "lm1b"
  config = Config.of(
    dataset=name,
    data_dir=str(place / "tfds"),
    **({"model": "language", "z_dim": 128} if text else {"image_size": 32}),
  )
  piece = prepare.dataset(config, fetch=False, build_offline=True)
  assert piece.ready and piece.detail.startswith(f"{count} examples"), piece
  if text:
    from tf_ttur.data import text as text_lib

    # TFDS's order, not the file's (docs/paper.md A.6.4).
    assert sorted(text_lib.read_lines("lm1b", 10, str(place / "tfds"))) == [
      "A second one .",
      "The first line .",
    ]
  else:
    from tf_ttur.data import images as images_lib

    assert (
      len(
        list(
          images_lib.load_images(
            name, 32, data_dir=str(place / "tfds"), download=False
          )
        )
      )
      == count
    )
  # The row's own flagfile trains its first steps on what prepare built.
  flagfile = os.path.join(REPO, "configs", f"{name}.flags")
  trains_two_steps(
    str(place / "run"),
    f"--flagfile={flagfile}",
    f"--data_dir={place}/tfds",
    "--fid_every=0",
    "--jsd_every=0" if text else "--kid_every=0",
  )


def test_a_deleted_shard_is_missing_before_anything_is_written(
  tmp_path, tfds_dir
):
  """A prepared TFDS dataset whose shard was deleted is MISSING in the
  listing (it used to fail at the first read, after the run wrote its
  files)."""
  import glob
  import shutil

  data_dir = tmp_path / "tfds"
  shutil.copytree(tfds_dir, data_dir)
  (shard,) = glob.glob(str(data_dir / "shapes" / "*" / "shapes-train.*"))
  os.remove(shard)
  config = Config.from_flagfile(
    os.path.join(REPO, "configs", "smoke.flags"),
    f"--data_dir={data_dir}",
    f"--workdir={tmp_path}/run",
  )
  piece = prepare.dataset(config, fetch=False, build_offline=False)
  assert not piece.ready
  assert piece.detail.startswith(
    f"1 of its shards are missing (first: {shard})"
  )
  with pytest.raises(ConfigError, match="shards are missing"):
    prepare.refuse_if_missing(prepare.check(config))
  assert not (tmp_path / "run").exists()


def test_prepare_lists_then_warns_then_says_ready(
  tmp_path, monkeypatch, capsys
):
  """A listing that ends in "ready" is not preceded by its warnings: the
  pieces, then each warning, then the verdict that counts them."""
  pieces = [
    prepare.Piece("training data", True, "12 images"),
    prepare.Piece(
      "FID statistics",
      True,
      "x.npz",
      warnings=["x.npz was made with another graph"],
    ),
  ]
  monkeypatch.setattr(prepare, "check", lambda *a, **k: pieces)
  monkeypatch.setattr(sources, "download_reachable", lambda: False)
  main_lib._check_needs(  # noqa: SLF001 The program's own step.
    Config.of(mode="prepare", workdir=str(tmp_path / "run"))
  )
  lines = capsys.readouterr().out.rstrip().splitlines()
  assert lines[-2:] == [
    "warning: x.npz was made with another graph",
    "ready: the same command without --mode=prepare trains it, with the "
    "1 warning(s) above (no internet here: nothing was fetched)",
  ]
  assert any("ok       FID statistics" in line for line in lines[:-2])
