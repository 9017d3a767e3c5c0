"""python -m fid end to end on folders of PNGs with the synthetic graph,
and every bad input: one error line, exit code 2, nothing written."""

import json
import os
import struct
import zlib

import numpy as np
from PIL import Image
import pytest

from fid import __main__ as cli
from fid import decode
from fid import stats
from tests.helpers import error_lines
from tests.helpers import run_module


def _write_folder(folder, n, seed, size=32, mode="RGB"):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  for i in range(n):
    array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(array).convert(mode).save(folder / f"{i:03d}.png")
  return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
  root = tmp_path_factory.mktemp("images")
  return (_write_folder(root / "a", 12, 0), _write_folder(root / "b", 11, 1))


def _cli(capsys, *args):
  code = cli.main([*args, "--quiet"])
  out, err = capsys.readouterr()
  return code, out, err


@pytest.mark.slow
def test_cli_fid_between_folders_matches_api(
  folders, inception_pb, capsys, extractors
):
  a, b = folders
  code, out, err = _cli(capsys, str(a), str(b), f"--inception={inception_pb}")
  assert code == 0, err
  assert out.startswith("FID: ")
  value = float(out.split()[1])
  assert "rank deficient" in err  # 12 images < 2048
  # Said once for each set, naming it.
  warned = [line for line in err.splitlines() if "rank deficient" in line]
  assert len(warned) == 2 and str(a) in warned[0] and str(b) in warned[1]
  # Same number from the reference extractor and numpy statistics.
  reference, _ = extractors
  feats = []
  for folder in (a, b):
    images = np.stack(
      [np.asarray(Image.open(p), np.float32) for p in sorted(folder.iterdir())]
    )
    feats.append(reference(images)[0])
  from fid import frechet

  expected = frechet.calculate_frechet_distance(
    feats[0].mean(0),
    np.cov(feats[0], rowvar=False),
    feats[1].mean(0),
    np.cov(feats[1], rowvar=False),
  )
  assert value == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_cli_save_stats_then_use_them(folders, inception_pb, tmp_path, capsys):
  a, b = folders
  out_path = tmp_path / "a_stats.npz"
  code, out, err = _cli(
    capsys, str(a), f"--save_stats={out_path}", f"--inception={inception_pb}"
  )
  assert code == 0, err
  assert "saved statistics of 12 images" in out
  mu, sigma = stats.load_stats(str(out_path))
  assert mu.shape == (2048,) and sigma.shape == (2048, 2048)
  code, out_direct, _ = _cli(
    capsys, str(a), str(b), f"--inception={inception_pb}"
  )
  code2, out_stats, _ = _cli(
    capsys, str(out_path), str(b), f"--inception={inception_pb}"
  )
  assert code == code2 == 0
  assert float(out_stats.split()[1]) == pytest.approx(
    float(out_direct.split()[1]), rel=1e-9
  )


@pytest.mark.slow
def test_cli_json_reports_is_kid_and_counts(folders, inception_pb, capsys):
  a, b = folders
  code, out, err = _cli(
    capsys,
    str(a),
    str(b),
    f"--inception={inception_pb}",
    "--json",
    "--batch_size=5",
  )
  assert code == 0, err
  result = json.loads(out)
  assert result["counts"] == [12, 11]
  assert result["fid"] > 0
  # Named keys, as docs/fid.md gives the layout: one IS per PATH.
  assert len(result["inception_score"]) == 2
  for score in result["inception_score"]:
    assert set(score) == {"mean", "std"} and score["mean"] >= 1.0
  assert set(result["kid"]) == {"mean", "std"}
  assert set(result) >= {"fid", "sfid", "precision", "recall", "counts"}


@pytest.mark.slow
def test_cli_drop_last_partial_batch(folders, inception_pb, capsys):
  a, b = folders
  code, out, _ = _cli(
    capsys,
    str(a),
    str(b),
    f"--inception={inception_pb}",
    "--json",
    "--batch_size=5",
    "--drop_last_partial_batch",
  )
  assert code == 0
  assert json.loads(out)["counts"] == [10, 10]


@pytest.mark.slow
def test_cli_arrays_mixed_sizes_and_modes(tmp_path, inception_pb, capsys):
  mixed = tmp_path / "mixed"
  _write_folder(mixed, 3, 2, size=32)
  _write_folder(mixed / "gray", 2, 3, size=40, mode="L")
  for i, mode in enumerate(["RGBA", "P"]):
    Image.fromarray(np.full((24, 24, 3), 80 * i, np.uint8)).convert(mode).save(
      mixed / f"x{i}.png"
    )
  sixteen = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)
  Image.fromarray(sixteen).save(mixed / "deep.png")
  array = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), np.uint8)
  np.save(tmp_path / "images.npy", array)
  code, out, err = _cli(
    capsys,
    str(mixed),
    str(tmp_path / "images.npy"),
    f"--inception={inception_pb}",
    "--recursive",
    "--json",
  )
  assert code == 0, err
  assert json.loads(out)["counts"] == [8, 5]
  assert "note: converted images to RGB" in err and "RGBA: 1" in err


@pytest.mark.slow
def test_parallel_reading_equals_sequential_bit_for_bit(
  tmp_path, inception_pb, capsys
):
  """Mixed sizes, grayscale, RGBA, palette and 16-bit, decoded by threads
  with a window smaller than the folder: the same batches, in the same
  order, and the same statistics to the last bit."""
  from fid import sources

  mixed = tmp_path / "mixed"
  _write_folder(mixed, 9, 2, size=32)
  _write_folder(mixed / "gray", 5, 3, size=40, mode="L")
  _write_folder(mixed / "rgba", 4, 4, size=24, mode="RGBA")
  _write_folder(mixed / "palette", 3, 5, size=32, mode="P")
  sixteen = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)
  Image.fromarray(sixteen).save(mixed / "deep.png")
  files = sources.list_images(str(mixed), recursive=True)
  notes = [{}, {}]
  one = list(sources.iter_batches(files, 4, notes[0], workers=1))
  # ahead = 256 > 22 files: shrink the window to exercise the refill.
  many = []
  for image, _ in sources.decoded(files, workers=3, ahead=2):
    many.append(image)
  np.testing.assert_array_equal(
    np.concatenate([b.reshape(-1) for b in one]),
    np.concatenate(
      [
        b.reshape(-1)
        for b in sources.iter_batches(files, 4, notes[1], workers=4)
      ]
    ),
  )
  assert [b.shape for b in one] == [
    b.shape for b in sources.iter_batches(files, 4, None, workers=4)
  ]
  assert notes[0] == notes[1] and notes[0]["L"] == 5
  for image, path in zip(many, files):
    np.testing.assert_array_equal(image, decode.read_image(path))
  stats = []
  for workers in ("1", "4"):
    code, out, err = _cli(
      capsys,
      str(mixed),
      "--save_stats",
      str(tmp_path / f"s{workers}.npz"),
      "--recursive",
      f"--workers={workers}",
      "--batch_size=4",
      f"--inception={inception_pb}",
    )
    assert code == 0, err
    with np.load(tmp_path / f"s{workers}.npz") as data:
      stats.append((data["mu"], data["sigma"]))
  np.testing.assert_array_equal(stats[0][0], stats[1][0])
  np.testing.assert_array_equal(stats[0][1], stats[1][1])


def test_read_image_16_bit_scales_to_255(tmp_path):

  Image.fromarray(np.array([[0, 65535]], np.uint16)).save(tmp_path / "d.png")
  image = decode.read_image(str(tmp_path / "d.png"))
  np.testing.assert_allclose(image[0, :, 0], [0.0, 255.0])
  assert image.shape == (1, 2, 3)


def test_recursive_walk_does_not_follow_folder_links(tmp_path):
  # A folder symlink loop (sub/back -> ..) is listed once, not forever;
  # linked files are read like files.
  from fid import sources

  root = _write_folder(tmp_path / "root", 2, 0)
  _write_folder(root / "sub", 3, 1)
  os.symlink(root, root / "sub" / "back")
  os.symlink(root / "000.png", root / "sub" / "linked.png")
  files = sources.list_images(str(root), recursive=True)
  assert [os.path.relpath(f, root) for f in files] == [
    "000.png",
    "001.png",
    "sub/000.png",
    "sub/001.png",
    "sub/002.png",
    "sub/linked.png",
  ]


def _png_with_size(png: bytes, width: int, height: int) -> bytes:
  """The PNG with its IHDR claiming width x height (CRC recomputed)."""
  assert png[12:16] == b"IHDR"
  ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
  return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def _bad_inputs(tmp_path):
  """(name, args, expected message) for each bad input."""
  good = _write_folder(tmp_path / "good", 3, 0)
  corrupt = _write_folder(tmp_path / "corrupt", 2, 1)
  (corrupt / "000.png").write_bytes((corrupt / "000.png").read_bytes()[:60])
  empty_file = _write_folder(tmp_path / "zero", 2, 1)
  (empty_file / "001.png").write_bytes(b"")
  one = _write_folder(tmp_path / "one", 1, 2)
  (tmp_path / "empty").mkdir()
  np.savez(tmp_path / "no_mu.npz", sigma=np.eye(2048))
  np.savez(tmp_path / "small.npz", mu=np.zeros(64), sigma=np.eye(64))
  np.savez(tmp_path / "ok.npz", mu=np.zeros(2048), sigma=np.eye(2048))
  (tmp_path / "notes.txt").write_text("hello")
  jpeg = tmp_path / "jpeg"
  jpeg.mkdir()
  Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(jpeg / "a.jpg")
  data = (jpeg / "a.jpg").read_bytes()
  (jpeg / "a.jpg").write_bytes(data[: len(data) // 2])
  huge = _write_folder(tmp_path / "huge", 2, 3)
  (huge / "000.png").write_bytes(
    _png_with_size((huge / "000.png").read_bytes(), 40_000, 40_000)
  )
  loop = _write_folder(tmp_path / "loop", 2, 4)
  os.symlink(loop / "y.png", loop / "x.png")
  os.symlink(loop / "x.png", loop / "y.png")
  np.savez(tmp_path / "mu_2d.npz", mu=np.zeros((1, 2048)), sigma=np.eye(2048))
  np.savez(tmp_path / "sigma_1d.npz", mu=np.zeros(2048), sigma=np.ones(2048))
  np.savez(
    tmp_path / "strings.npz",
    mu=np.array(["a"] * 4),
    sigma=np.array([["a"] * 4] * 4),
  )
  np.savez(
    tmp_path / "ints.npz",
    mu=np.zeros(4, np.int64),
    sigma=np.eye(4, dtype=np.int64),
  )
  sigma_nan = np.eye(2048)
  sigma_nan[3, 5] = np.nan
  np.savez(tmp_path / "nan.npz", mu=np.zeros(2048), sigma=sigma_nan)
  (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
  return [
    ("truncated jpeg", [jpeg, good], "cannot read the image"),
    ("huge dimensions", [huge, good], "decompression bomb"),
    ("symlink loop", [loop, good], "symlink loop"),
    ("mu not a vector", [tmp_path / "mu_2d.npz", good], "mu must be [D]"),
    ("sigma not a matrix", [tmp_path / "sigma_1d.npz", good], "sigma [D, D]"),
    (
      "string statistics",
      [tmp_path / "strings.npz", good],
      "must be floating point",
    ),
    (
      "integer statistics",
      [tmp_path / "ints.npz", good],
      "must be floating point",
    ),
    ("nan in sigma", [tmp_path / "nan.npz", good], "NaN"),
    ("garbage npz", [tmp_path / "garbage.npz", good], "not a readable"),
    ("corrupt image", [corrupt, good], "cannot read the image"),
    ("zero-byte image", [empty_file, good], "cannot read the image"),
    ("one image", [one, good], "at least 2 images"),
    (
      "empty folder",
      [tmp_path / "empty", good],
      "no .png, .jpg, .jpeg, .bmp or .gif",
    ),
    ("npz without mu", [tmp_path / "no_mu.npz", good], "no mu"),
    (
      "dimension mismatch",
      [tmp_path / "small.npz", tmp_path / "ok.npz"],
      "different",
    ),
    ("missing path", [tmp_path / "nope", good], "no such file"),
    ("text file", [tmp_path / "notes.txt", good], "not a folder, .npz"),
    ("bad tfds spec", ["tfds::train", good], "tfds:NAME[:SPLIT]"),
  ]


@pytest.mark.slow
def test_bad_inputs_give_one_error_and_exit_2(tmp_path, inception_pb, capsys):
  for name, paths, message in _bad_inputs(tmp_path):
    out_path = tmp_path / f"{name.replace(' ', '_')}.npz"
    code, out, err = _cli(
      capsys, *map(str, paths), f"--inception={inception_pb}"
    )
    assert code == 2, name
    assert "error: " in err and message in err, (name, err)
    assert "Traceback" not in err
    # And --save_stats never leaves a file behind on failure.
    code, _, _ = _cli(
      capsys,
      str(paths[0]),
      f"--save_stats={out_path}",
      f"--inception={inception_pb}",
    )
    assert code == 2 and not out_path.exists(), name
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".stats-")]


@pytest.mark.slow
def test_missing_graph_offline_names_url_and_place(tmp_path, folders):
  a, b = folders
  proc = run_module(
    "fid",
    str(a),
    str(b),
    "--quiet",
    f"--cache_dir={tmp_path / 'cache'}",
    env_extra={
      "http_proxy": "http://127.0.0.1:9",
      "HTTP_PROXY": "http://127.0.0.1:9",
    },
  )
  assert proc.returncode == 2
  assert "inception-2015-12-05.tgz" in proc.stderr
  assert str(tmp_path / "cache") in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_verify_command_on_the_replica(inception_pb, capsys):
  from fid import verify

  code = verify.main([f"--inception={inception_pb}", "--num=4"])
  out = capsys.readouterr().out
  assert code == 0, out
  assert "OK: features" in out and "synthetic 299x299" in out


@pytest.mark.slow
def test_oversized_image_is_refused_before_decoding(
  tmp_path, monkeypatch, inception_pb
):
  """A 292 KB PNG of 10000x10000 pixels (under Pillow's hard limit) would
  decode to gigabytes; it is refused from its header."""
  import time

  from fid import sources

  folder = _write_folder(tmp_path / "big", 2, 5)
  Image.new("RGB", (10_000, 10_000)).save(folder / "002.png")
  start = time.monotonic()
  with pytest.raises(
    sources.SourceError,
    match="10000x10000 pixels is over the limit of 16,777,216",
  ):
    decode.read_image(str(folder / "002.png"))
  assert time.monotonic() - start < 2
  # The limit is configurable; a small one refuses even the 32x32 images.
  monkeypatch.setenv("FID_MAX_PIXELS", "100")
  with pytest.raises(sources.SourceError, match="over the limit of 100"):
    decode.read_image(str(folder / "000.png"))
  monkeypatch.delenv("FID_MAX_PIXELS")
  proc = run_module(
    "fid", str(folder), str(folder), f"--inception={inception_pb}"
  )
  assert proc.returncode == 2
  errors = error_lines(proc.stderr)
  assert len(errors) == 1 and "002.png" in errors[0]
  assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_statistics_that_are_not_a_covariance_are_refused(tmp_path):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(64, 16))
  good = tmp_path / "good.npz"
  np.savez(good, mu=x.mean(0), sigma=np.cov(x, rowvar=False))
  for name, sigma, words in (
    ("negative", -np.eye(16), "not positive semi-definite"),
    ("asymmetric", np.triu(np.ones((16, 16))), "not symmetric"),
  ):
    path = tmp_path / f"{name}.npz"
    np.savez(path, mu=np.zeros(16), sigma=sigma)
    with pytest.raises(stats.StatsError, match=words):
      stats.load_stats(str(path))
    with pytest.raises(ValueError, match=words):
      import fid

      fid.calculate_frechet_distance(
        np.zeros(16), sigma, x.mean(0), np.cov(x, rowvar=False)
      )
    proc = run_module("fid", str(path), str(good))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert words in proc.stderr and "FID" not in proc.stdout
  # A rank-deficient covariance (fewer samples than dimensions) is one.
  few = rng.normal(size=(5, 16))
  stats.check_covariance(np.cov(few, rowvar=False))


def test_bad_paths_name_what_is_wrong(tmp_path, capsys):
  """A folder as --inception, a file as --cache_dir and a pickled .npz
  each give one line naming the input, not Python's text."""
  images = tmp_path / "images"
  images.mkdir()
  for i in range(3):
    Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(
      images / f"{i}.png"
    )
  pickled = tmp_path / "pickled.npz"
  np.savez(pickled, images=np.array([object()]))
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  cases = [
    (
      [str(images), str(images), f"--inception={tmp_path}"],
      f"--inception={tmp_path}: a folder; give the file itself",
    ),
    (
      [str(images), str(images), f"--cache_dir={a_file}"],
      f"--cache_dir={a_file}: a file, not a folder",
    ),
    (
      [str(pickled), str(images)],
      f"{pickled}: not a readable .npz (Object arrays cannot be loaded",
    ),
  ]
  for argv, message in cases:
    assert cli.main(argv) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and message in lines[0], lines


def test_info_prints_what_a_statistics_file_holds(tmp_path, capsys):
  """--info: the features, the spatial statistics and the provenance
  record, as lines or (--json) as the record itself; TTUR's files by
  their published name; anything else is one error line."""
  from fid import provenance

  record = provenance.record(
    "tfds:svhn_cropped:train",
    73257,
    "fast",
    "a" * 32,
    dataset="svhn_cropped",
    split="train",
    image_size=32,
    crop="none",
  )
  ours = str(tmp_path / "svhn.npz")
  stats.save_stats(
    ours,
    np.zeros(6),
    np.eye(6),
    provenance=record,
    spatial=(np.zeros(3), np.eye(3)),
  )
  code, out, err = _cli(capsys, "--info", ours)
  assert code == 0, err
  lines = out.splitlines()
  assert lines[0] == (
    f"{ours}: mu and sigma of 6 features, with the sFID's "
    "spatial_mu and spatial_sigma"
  )
  assert (
    "  images: tfds:svhn_cropped:train, 73257 images, none crop to "
    "32x32" in lines
  )
  assert "  graph_md5: " + "a" * 32 in lines
  code, out, _ = _cli(capsys, "--info", "--json", ours)
  info = json.loads(out)
  assert info["provenance"] == record and info["features"] == 6
  assert info["spatial"] is True and info["ttur_published"] is None

  published = str(tmp_path / "fid_stats_cifar10_train.npz")
  np.savez(published, mu=np.zeros(6), sigma=np.eye(6))
  code, out, _ = _cli(capsys, "--info", published)
  assert code == 0
  assert "TTUR's published name: cifar10: the 50,000 training images" in out
  assert "no provenance record" in out

  text = tmp_path / "notes.npz"
  text.write_text("mu sigma")
  for args in (
    ("--info", str(text)),
    ("--info", ours, ours),
    ("--info", str(tmp_path)),
  ):
    code, out, err = _cli(capsys, *args)
    assert code == 2 and out == ""
    assert len(error_lines(err)) == 1 and len(err.splitlines()) == 1, err
