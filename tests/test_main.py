"""End to end through `python -m tf_ttur.main` on the offline dataset."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO
from tests.helpers import run_module
from tf_ttur import builder
from tf_ttur import checkpointing
from tf_ttur import export as export_lib
from tf_ttur import pixels
from tf_ttur.config import Config


def _train(workdir, tfds_dir, *extra):
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/smoke.flags",
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
    *extra,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def _restored_model(workdir):
  with open(os.path.join(workdir, "config.json")) as f:
    config = Config.from_json(f.read())
  model = builder.build_model(config, "float32")
  manager = checkpointing.make_manager(
    model, os.path.join(workdir, "checkpoints"), 3
  )
  step = checkpointing.restore_or_initialize(manager)
  return model, step


@pytest.mark.slow
def test_train_resume_and_export(tmp_path, tfds_dir):
  workdir = str(tmp_path / "run")
  proc = _train(workdir, tfds_dir)
  assert "step 4/4" in proc.stderr
  # A closing summary: where it stopped and where everything is.
  assert f"done: step 4 of 4 in {workdir}" in proc.stderr
  assert f"generator: {workdir}/saved_model" in proc.stderr
  assert f"curves: tensorboard --logdir {workdir}" in proc.stderr
  # A line once the first step is done; none of TFDS's or TensorFlow's
  # own INFO lines (e.g. "Load dataset info", "Assets written to").
  assert "step 1/4: the first step took" in proc.stderr
  for internal in (
    "dataset_info.py",
    "Sharding callback",
    "Assets written",
    "fingerprint",
    "Function `serve`",
  ):
    assert internal not in proc.stderr, internal
  for name in (
    "config.json",
    "metrics.jsonl",
    "checkpoints",
    "samples",
    "saved_model",
  ):
    assert os.path.exists(os.path.join(workdir, name)), name
  # TensorBoard's event files at the top: the run is named by its folder.
  assert [n for n in os.listdir(workdir) if n.startswith("events.out.")]
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == [
    "step_00000000.png",
    "step_00000002.png",
    "step_00000004.png",
  ]
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  assert [r["step"] for r in records] == [2, 4]
  assert {"d_loss", "g_loss", "steps_per_sec", "time"} <= set(records[0])

  first, step = _restored_model(workdir)
  assert step == 4
  assert int(first.d_optimizer.iterations) == 4
  assert int(first.g_optimizer.iterations) == 4

  # The same command with more steps resumes at step 4, optimizers included.
  proc = _train(workdir, tfds_dir, "--train_steps=8")
  assert "Resumed from" in proc.stderr and "step 6/8" in proc.stderr
  assert "step 2/8" not in proc.stderr
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    assert [json.loads(line)["step"] for line in f] == [2, 4, 6, 8]
  resumed, step = _restored_model(workdir)
  assert step == 8
  assert int(resumed.d_optimizer.iterations) == 8
  assert int(resumed.g_optimizer.iterations) == 8
  # Adam's moments come back from the checkpoint (a fresh Adam has zeros).
  for optimizer in (resumed.d_optimizer, resumed.g_optimizer):
    moments = [
      v.numpy()
      for v in optimizer.variables
      if "momentum" in v.path or "velocity" in v.path
    ]
    assert moments and all(np.any(m) for m in moments)

  # The export reloads without this package and matches the generator.
  z = np.random.default_rng(1).uniform(-1, 1, (5, 100)).astype(np.float32)
  expected = pixels.to_uint8(resumed.generator(z, training=False)).numpy()
  np.save(tmp_path / "z.npy", z)
  script = (
    "import numpy as np, tensorflow as tf, sys\n"
    "assert 'tf_ttur' not in sys.modules\n"
    f"m = tf.saved_model.load({os.path.join(workdir, 'saved_model')!r})\n"
    f"z = np.load({str(tmp_path / 'z.npy')!r})\n"
    "out = m.signatures['serving_default'](z=tf.constant(z))['images']\n"
    f"np.save({str(tmp_path / 'out.npy')!r}, out.numpy())\n"
  )
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  proc = subprocess.run(
    [sys.executable, "-c", script],
    cwd=str(tmp_path),
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = np.load(tmp_path / "out.npy")
  assert out.dtype == np.uint8 and out.shape == (5, 32, 32, 3)
  np.testing.assert_array_equal(out, expected)


def test_export_stores_each_variable_once(tmp_path):
  config = Config.of(image_size=32, width=8, z_dim=16)
  model = builder.build_model(config, "float32")
  path = export_lib.export_generator(
    model, config, str(tmp_path / "export"), "float32"
  )
  reader = tf.train.load_checkpoint(
    os.path.join(path, "variables", "variables")
  )
  stored = [
    k
    for k in reader.get_variable_to_shape_map()
    if not k.startswith("_CHECKPOINTABLE") and "OBJECT_GRAPH" not in k
  ]
  assert len(stored) == len(model.generator.variables)
  loaded = tf.saved_model.load(path)
  out = loaded.signatures["sample"](
    num=tf.constant(3), seed=tf.constant([0, 0])
  )
  assert out["images"].shape == (3, 32, 32, 3)
  assert float(tf.reduce_max(tf.abs(out["z"]))) <= 1.0
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".export-")]


@pytest.mark.slow
def test_sample_cli_grid_and_folder(tmp_path):
  config = Config.of(image_size=32, width=8, z_dim=16)
  model = builder.build_model(config, "float32")
  export = export_lib.export_generator(
    model, config, str(tmp_path / "export"), "float32"
  )
  # Into a folder not made yet (runs/ on a fresh clone): made.
  proc = run_module(
    "tf_ttur.sample",
    f"--saved_model={export}",
    "--num=6",
    f"--out={tmp_path / 'runs' / 'grid.png'}",
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  # What model.json says is said before sampling.
  assert "dcgan generator (image), step 0, trained on shapes" in proc.stderr
  grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "runs" / "grid.png")))
  assert grid.shape == (64, 96, 3)  # 3 columns x 2 rows of 32x32
  proc = run_module(
    "tf_ttur.sample",
    f"--saved_model={export}",
    "--num=5",
    "--batch_size=2",
    f"--out={tmp_path / 'folder'}",
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  files = sorted(os.listdir(tmp_path / "folder"))
  assert files == [f"{i:06d}.png" for i in range(5)]
  proc = run_module("tf_ttur.sample", f"--saved_model={tmp_path}", "--num=1")
  assert proc.returncode == 2
  assert f"error: --saved_model={tmp_path}: no SavedModel there" in proc.stderr
  # A grid too large to draw, and more images than the disk holds, are
  # refused before anything is sampled (bounded memory, nothing written).
  proc = run_module(
    "tf_ttur.sample",
    f"--saved_model={export}",
    "--num=1000000000",
    f"--out={tmp_path / 'huge.png'}",
  )
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "a grid holds at most 65,536 images of 32x32" in proc.stderr
  proc = run_module(
    "tf_ttur.sample",
    f"--saved_model={export}",
    "--num=1000000000000000",
    f"--out={tmp_path / 'many'}",
  )
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert re.search(r"free; lower --num \(at most [\d,]+ here\)", proc.stderr)
  assert not os.path.exists(tmp_path / "huge.png")
  assert not os.path.exists(tmp_path / "many")


def test_shipped_demo_generator_loads_and_samples():
  path = os.path.join(REPO, "saved_models", "demo_shapes_dcgan")
  info = export_lib.read_model_info(path)
  assert info["z_dim"] == 100 and info["z_distribution"] == "uniform"
  assert info["family"] == "dcgan" and info["image_size"] == 32
  assert info["step"] == 1000 and info["serving_dtype"] == "float32"
  model = tf.saved_model.load(path)
  out = model.signatures["sample"](num=tf.constant(4), seed=tf.constant([1, 2]))
  images = out["images"].numpy()
  assert images.dtype == np.uint8 and images.shape == (4, 32, 32, 3)
  again = model.signatures["serving_default"](z=out["z"])["images"].numpy()
  np.testing.assert_array_equal(images, again)
  assert images.std() > 10  # a trained generator, not a constant image


def test_sizes_in_messages_keep_their_digits():
  """ "may need up to 0.0 GiB ... has 0.0 GiB free" said nothing: sizes
  take the unit that keeps three significant digits."""
  from fid.files import format_bytes

  assert format_bytes(0) == "0 bytes"
  assert format_bytes(3584) == "3.50 KiB"
  assert format_bytes(13_002_342) == "12.4 MiB"
  assert format_bytes(3 * 2**30 // 2) == "1.50 GiB"
  assert format_bytes(1234 * 2**30) == "1,234 GiB"
