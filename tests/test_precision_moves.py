"""Runs move between machines: a checkpoint made under any precision
resumes under any other (weights, Adam's moments, the step) and exports
from the generator's weights alone."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_module
from tf_ttur import builder
from tf_ttur import checkpointing
from tf_ttur import export as export_lib
from tf_ttur import run as run_lib
from tf_ttur import rundata
from tf_ttur import rundir
from tf_ttur.config import Config

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CONFIG = Config.of(
  model="dcgan",
  image_size=32,
  z_dim=8,
  width=4,
  batch_size=4,
  precision="float32",
  jit_compile="false",
)


def _trained(precision: str, directory: str):
  """A model trained 2 steps under `precision`, checkpointed in directory."""
  model = builder.build_model(CONFIG, precision)
  images = (
    np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
  )
  model.fit(
    tf.data.Dataset.from_tensors(images).repeat(),
    epochs=1,
    steps_per_epoch=2,
    verbose=0,
    shuffle=False,
  )
  manager = checkpointing.make_manager(model, directory, 1)
  checkpointing.save_step(manager, int(model.step.numpy()))
  return model, manager.latest_checkpoint


def _adam_state(model) -> list[np.ndarray]:
  """Every variable of both Adams (iterations, learning rate, moments)."""
  return [
    v.numpy()
    for opt in (model.g_optimizer, model.d_optimizer)
    for v in getattr(opt, "inner_optimizer", opt).variables
  ]


def _weights(network) -> list[np.ndarray]:
  return [v.numpy() for v in network.variables]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
  """{precision: (trained model, checkpoint path)}."""
  root = tmp_path_factory.mktemp("precisions")
  return {p: _trained(p, str(root / p)) for p in PRECISIONS}


@pytest.mark.slow
@pytest.mark.parametrize("saved", PRECISIONS)
@pytest.mark.parametrize("resumed", PRECISIONS)
def test_resume_under_any_precision(checkpoints, saved, resumed):
  source, path = checkpoints[saved]
  model = builder.build_model(CONFIG, resumed)
  assert checkpointing.restore(model, path) == 2
  for a, b in zip(
    _weights(source.generator) + _weights(source.discriminator),
    _weights(model.generator) + _weights(model.discriminator),
  ):
    np.testing.assert_array_equal(a, b)
  state = _adam_state(model)
  assert len(state) == len(_adam_state(source))
  for a, b in zip(_adam_state(source), state):
    np.testing.assert_array_equal(a, b)
  # (Under float16 the first steps may be skipped for overflow, so the
  # Adams' own counters can be below the run's step.)
  assert int(model.g_optimizer.iterations) == int(source.g_optimizer.iterations)
  if saved == resumed == "mixed_float16":
    # The loss scale's state travels too where both sides have one (the
    # first float16 steps overflowed and lowered it from its start).
    fresh = builder.build_model(CONFIG, "mixed_float16").g_optimizer
    for optimizer in ("g_optimizer", "d_optimizer"):
      restored = getattr(model, optimizer)
      assert float(restored.dynamic_scale) == float(
        getattr(source, optimizer).dynamic_scale
      )
      assert int(restored.step_counter) == int(
        getattr(source, optimizer).step_counter
      )
    assert float(source.g_optimizer.dynamic_scale) != float(fresh.dynamic_scale)
  # And training goes on from there.
  images = np.zeros((4, 32, 32, 3), np.float32)
  model.fit(
    tf.data.Dataset.from_tensors(images).repeat(),
    epochs=1,
    steps_per_epoch=1,
    verbose=0,
    shuffle=False,
  )
  assert int(model.step.numpy()) == 3


@pytest.mark.slow
@pytest.mark.parametrize("saved", PRECISIONS)
def test_export_needs_only_the_generator(checkpoints, saved, tmp_path):
  source, path = checkpoints[saved]
  for exported in PRECISIONS:
    model = builder.build_model(CONFIG, exported)
    assert checkpointing.restore(model, path, generator_only=True) == 2
    for a, b in zip(_weights(source.generator), _weights(model.generator)):
      np.testing.assert_array_equal(a, b)
  config = CONFIG.replace(precision=saved, workdir=str(tmp_path))
  home = rundir.RunDir(str(tmp_path))
  run = run_lib.Run(config, home, home, None, rundata.ImageData(config))
  directory = export_lib.export_run(model, run)
  z = np.random.default_rng(1).uniform(-1, 1, (3, 8)).astype(np.float32)
  images = tf.saved_model.load(directory).signatures["serving_default"](
    z=tf.constant(z)
  )["images"]
  assert images.shape == (3, 32, 32, 3) and images.dtype == tf.uint8
  info = export_lib.read_model_info(directory)
  assert info["training_precision"] == saved
  assert info["serving_dtype"] == "float32" and info["step"] == 2


def test_checkpoint_of_an_earlier_version_with_loss_scaling(
  checkpoints, tmp_path
):
  """Earlier versions tracked a float16 run's LossScaleOptimizer itself."""
  source, _ = checkpoints["mixed_float16"]
  legacy = tf.train.Checkpoint(
    generator=source.generator,
    discriminator=source.discriminator,
    g_optimizer=source.g_optimizer,
    d_optimizer=source.d_optimizer,
    step=source.step,
  )
  path = legacy.save(str(tmp_path / "ckpt"))
  for precision in ("float32", "mixed_float16"):
    model = builder.build_model(CONFIG, precision)
    assert checkpointing.restore(model, path) == 2
    for a, b in zip(_adam_state(source), _adam_state(model)):
      np.testing.assert_array_equal(a, b)
  assert float(model.d_optimizer.dynamic_scale) == float(
    source.d_optimizer.dynamic_scale
  )
  assert float(model.d_optimizer.dynamic_scale) != float(
    builder.build_model(CONFIG, precision).d_optimizer.dynamic_scale
  )


@pytest.mark.slow
def test_main_moves_a_mixed_float16_run_to_float32(tmp_path, tfds_dir):
  """The reported case: train under mixed_float16, go on under float32 and
  export; config.json records what the run was trained in."""
  workdir = str(tmp_path / "run")
  common = (
    "--flagfile=configs/smoke.flags",
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
  )
  proc = run_module("tf_ttur.main", *common, "--precision=mixed_float16")
  assert proc.returncode == 0, proc.stderr[-2000:]
  with open(os.path.join(workdir, "config.json")) as f:
    assert '"precision": "mixed_float16"' in f.read()
  proc = run_module(
    "tf_ttur.main", *common, "--precision=float32", "--train_steps=6"
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "changed from the run's recorded mixed_float16" in proc.stderr
  assert "Resumed from" in proc.stderr and "step 6/6" in proc.stderr
  assert "could not be found" not in proc.stderr
  proc = run_module(
    "tf_ttur.main", *common, "--precision=auto", "--mode=export"
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  # auto on a resumed run: the precision its config.json records (float32
  # since the second run).
  assert "as recorded in the run's config.json" in proc.stderr
  assert "ckpt-6 (step 6)" in proc.stderr
