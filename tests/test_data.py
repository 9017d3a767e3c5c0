"""Image pipelines: the offline TFDS builder, TFDS datasets, folders."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from fid import preprocess
from fid import sources
from tf_ttur.data import images
from tf_ttur.data import shapes


def test_shapes_examples_are_deterministic_and_labelled():
  a, label_a = shapes.make_example(7)
  b, label_b = shapes.make_example(7)
  np.testing.assert_array_equal(a, b)
  assert label_a == label_b and a.shape == (32, 32, 3) and a.dtype == np.uint8
  # Two colours per image: the background and the shape.
  assert len(np.unique(a.reshape(-1, 3), axis=0)) == 2
  labels = {shapes.make_example(i)[1] for i in range(200)}
  assert labels == set(range(len(shapes.CLASS_NAMES)))


def test_shapes_through_tfds(tfds_dir):
  ds = tfds.load("shapes", split="train", data_dir=tfds_dir, download=False)
  info = tfds.builder("shapes", data_dir=tfds_dir).info
  assert info.splits["train"].num_examples == shapes.NUM_TRAIN
  assert info.features["label"].names == list(shapes.CLASS_NAMES)
  example = next(iter(ds))
  assert example["image"].shape == (32, 32, 3)


@pytest.mark.slow
def test_shapes_are_generated_with_one_line(tmp_path, capfd, monkeypatch):
  """First use: one line says the offline dataset is being generated;
  TFDS's "Downloading and preparing dataset Unknown size" and its
  progress bars (nothing is downloaded) are not shown; a second call says
  nothing."""
  from absl import logging

  said = []
  monkeypatch.setattr(logging, "info", lambda msg, *a: said.append(msg % a))
  images.prepare_shapes(str(tmp_path))
  out, err = capfd.readouterr()
  ours = [
    f"Generating the offline dataset shapes (12,000 + 2,000 images, "
    f"once) into {tmp_path}/shapes/1.0.0"
  ]
  assert said[:1] == ours  # (TFDS's own INFO lines follow, filtered.)
  assert "Downloading and preparing" not in out + err
  assert "examples/s" not in out + err
  said.clear()
  images.prepare_shapes(str(tmp_path))
  assert not [m for m in said if m.startswith("Generating")]
  assert capfd.readouterr() == ("", "")


def test_pipeline_batches_in_unit_range(tfds_dir):
  ds = images.make_pipeline(
    images.load_images("shapes", 32, data_dir=tfds_dir),
    batch_size=16,
    seed=0,
    shuffle_buffer=64,
  )
  assert ds.element_spec.shape == (16, 1, 32, 32, 3)  # drop_remainder
  batch = next(iter(ds)).numpy()
  assert batch.dtype == np.float32
  assert batch.min() >= -1.0 and batch.max() <= 1.0
  assert batch.min() < -0.5 and batch.max() > 0.5


def test_pipeline_groups_critic_batches_per_example(tfds_dir):
  ds = images.make_pipeline(
    images.load_images("shapes", 32, data_dir=tfds_dir),
    batch_size=4,
    seed=0,
    shuffle_buffer=64,
    n_critic=3,
  )
  assert ds.element_spec.shape == (4, 3, 32, 32, 3)


def test_noise_is_keyed_by_step_and_comes_with_the_data():
  from tf_ttur.data import noise

  real = tf.data.Dataset.from_tensors(tf.zeros((4, 2, 8, 8, 3))).repeat()
  first = list(noise.attach_noise(real, 5, "uniform", seed=1).take(3))
  resumed = list(
    noise.attach_noise(real, 5, "uniform", seed=1, start_step=2).take(1)
  )
  assert first[0]["z"].shape == (4, 2, 5) and first[0]["alpha"].shape == (4, 2)
  np.testing.assert_array_equal(first[2]["z"], resumed[0]["z"])
  assert not np.array_equal(first[0]["z"], first[1]["z"])
  assert float(tf.reduce_max(tf.abs(first[0]["z"]))) <= 1.0
  normal = next(iter(noise.attach_noise(real, 5, "normal", seed=1)))
  assert not np.array_equal(normal["z"], first[0]["z"])


def test_pipeline_resizes_shapes_to_64(tfds_dir):
  ds = images.load_images("shapes", 64, data_dir=tfds_dir)
  assert next(iter(ds)).shape == (64, 64, 3)


def test_to_unit_range_matches_original_scaling():
  x = tf.constant([0, 127, 255], tf.uint8)
  np.testing.assert_allclose(
    images.to_unit_range(x).numpy(),
    np.array([0, 127, 255]) / 127.5 - 1,
    rtol=1e-6,
  )


@pytest.mark.parametrize(
  "name, size",
  [
    ("svhn_cropped", 32),
    ("cifar10", 32),
    ("celeb_a", 64),
    ("lsun/bedroom", 64),
  ],
)
def test_tfds_datasets_with_mock_data(name, size, monkeypatch):
  # mock_data stands in for the download; the reachability probe of the
  # download mirror stands in for the network.
  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: True)
  with tfds.testing.mock_data(num_examples=4):
    ds = images.load_images(name, size)
    out = [x.numpy() for x in ds.take(4)]
  assert len(out) == 4
  for image in out:
    assert image.shape == (size, size, 3) and image.dtype == np.uint8


def test_unprepared_dataset_offline_fails_in_seconds(tmp_path, monkeypatch):
  import time

  from tf_ttur.errors import DatasetError

  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: False)
  start = time.monotonic()
  with pytest.raises(DatasetError, match="not prepared in .*--data_dir"):
    images.load_images("cifar10", 32, data_dir=str(tmp_path))
  assert time.monotonic() - start < 30
  assert not list(tmp_path.rglob("*.tfrecord*"))


def test_download_probe_answers_quickly_either_way():
  import time

  start = time.monotonic()
  assert sources.download_reachable(timeout=1.0) in (True, False)
  assert time.monotonic() - start < 5


def test_unknown_tfds_name_gives_the_closest_names():
  with pytest.raises(sources.SourceError) as e:
    sources.tfds_builder("cifar1O")
  message = str(e.value)
  assert "no TFDS dataset named 'cifar1O'" in message and "cifar10" in message
  assert len(message.splitlines()) == 1 and message.count(",") < 6


def test_celeba_center_crop_is_108_then_resize():
  # A 218x178 image whose central 108x108 is white and the rest black:
  # after the crop and resize, every pixel is white.
  image = np.zeros((218, 178, 3), np.uint8)
  top, left = (218 - 108) // 2, (178 - 108) // 2
  image[top : top + 108, left : left + 108] = 255
  out = preprocess.crop_and_resize(tf.constant(image), "center108", 64).numpy()
  assert out.shape == (64, 64, 3) and out.min() == 255


def test_folder_dataset(tmp_path):
  rng = np.random.default_rng(0)
  for i, shape in enumerate([(40, 50, 3), (32, 32, 3), (20, 20, 4)]):
    data = tf.io.encode_png(rng.integers(0, 255, shape, dtype=np.uint8))
    (tmp_path / f"{i}.png").write_bytes(data.numpy())
  (tmp_path / "notes.txt").write_text("not an image")
  ds = images.load_images(f"folder:{tmp_path}", 32)
  out = [x.numpy() for x in ds]
  assert len(out) == 3 and all(x.shape == (32, 32, 3) for x in out)


def test_folder_errors(tmp_path):
  with pytest.raises(images.DatasetError, match="missing: not a folder"):
    images.load_images(f"folder:{tmp_path / 'missing'}", 32)
  with pytest.raises(
    images.DatasetError, match="no .png, .jpg, .jpeg, .bmp or .gif images"
  ):
    images.load_images(f"folder:{tmp_path}", 32)
  with pytest.raises(images.DatasetError, match="unknown dataset 'mnist'"):
    images.load_images("mnist", 32)


def test_unavailable_tfds_dataset_is_one_clear_error(monkeypatch, tmp_path):
  def offline(*args, **kwargs):
    raise ConnectionError("no route to host")

  monkeypatch.setattr(images.tfds, "load", offline)
  # The mirror answers (so the fast offline check passes), the load fails.
  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: True)
  with pytest.raises(images.DatasetError, match="--data_dir") as error:
    images.load_images("svhn_cropped", 32, data_dir=str(tmp_path))
  assert "svhn_cropped" in str(error.value) and "ConnectionError" in str(
    error.value
  )


def test_oversized_image_in_a_training_folder_is_refused(tmp_path):
  from PIL import Image

  from tf_ttur.errors import DatasetError

  for i in range(2):
    Image.new("RGB", (40, 40), (i * 100, 0, 0)).save(tmp_path / f"{i}.png")
  Image.new("RGB", (10_000, 10_000)).save(tmp_path / "2.png")
  with pytest.raises(
    DatasetError,
    match=r"2\.png: 10000x10000 pixels is "
    "over the limit",
  ):
    images.load_images(f"folder:{tmp_path}", 32)
  os.remove(tmp_path / "2.png")
  assert len(list(images.load_images(f"folder:{tmp_path}", 32))) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
  "name, raw_shapes", [("celeb_a", {(218, 178, 3)}), ("lsun/bedroom", None)]
)
def test_reference_statistics_see_the_training_images(
  name, raw_shapes, monkeypatch, tmp_path, inception_pb
):
  """python -m fid tfds:NAME:SPLIT streams the images the model trains on
  (CelebA's 108 center crop, LSUN's center square, both to 64x64), not the
  raw ones, without stacking the split."""
  from fid import __main__ as cli

  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: True)
  with tfds.testing.mock_data(num_examples=7):
    raw = [ex["image"].shape for ex in tfds.load(name, split="train")]
    source = sources.TfdsSource(f"tfds:{name}:train")
    streamed = list(source.batches(3))
    trained = np.stack([x.numpy() for x in images.load_images(name, 64)])
    code = cli.main(
      [
        f"tfds:{name}:train",
        "--save_stats",
        str(tmp_path / "s.npz"),
        f"--inception={inception_pb}",
        "--batch_size=3",
        "--quiet",
      ]
    )
  assert code == 0
  if raw_shapes is not None:
    assert set(raw) == raw_shapes
  else:
    assert len(set(raw)) > 1  # LSUN: images of different sizes
  assert [len(b) for b in streamed] == [3, 3, 1]
  streamed = np.concatenate(streamed)
  assert streamed.shape == (7, 64, 64, 3) and streamed.dtype == np.uint8
  # The same images as training (which shuffles its files): same multiset.
  key = lambda a: a.tobytes()
  assert sorted(map(key, streamed)) == sorted(map(key, trained))
  from fid import inception

  features, _ = inception.make_extractor("fast", inception_pb)(
    streamed.astype(np.float32)
  )
  with np.load(tmp_path / "s.npz") as saved:
    np.testing.assert_allclose(
      saved["mu"], features.mean(0, dtype=np.float64), rtol=1e-5, atol=1e-7
    )  # batch 3 vs 7
