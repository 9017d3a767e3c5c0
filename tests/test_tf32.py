"""TF32 is off while each FID extractor computes, and FID never changes the
training's own setting. (CI has no GPU, so this checks the switch that the
GPU kernels read; the effect, 7.8e-4 relative on an H100, is in
docs/design.md.)"""

import numpy as np
import pytest
import tensorflow as tf

from fid import inception
from fid import saved_model as fid_saved_model
from tf_ttur import callbacks as callbacks_lib
from tf_ttur import train as train_lib
from tf_ttur.config import Config
from tf_ttur.evals import DEFAULT_QUALITY_MODEL

tf32_enabled = tf.config.experimental.tensor_float_32_execution_enabled


class _Recording:
  """Wraps a callable; records the TF32 setting at each call."""

  def __init__(self, fn):
    self.fn = fn
    self.seen = []

  def __call__(self, *args, **kwargs):
    self.seen.append(tf32_enabled())
    return self.fn(*args, **kwargs)


class _Session:
  """A Session stand-in that records TF32 when run() is called."""

  def __init__(self, session):
    self.session = session
    self.run = _Recording(session.run)


@pytest.fixture
def tf32_on():
  previous = tf32_enabled()
  tf.config.experimental.enable_tensor_float_32_execution(True)
  yield
  tf.config.experimental.enable_tensor_float_32_execution(previous)


@pytest.mark.slow
def test_each_extractor_runs_with_tf32_off_and_restores_it(graph_def, tf32_on):
  images = np.zeros((2, 32, 32, 3), np.uint8)
  reference = inception.ReferenceExtractor(graph_def)
  reference._session = _Session(reference._session)  # noqa: SLF001
  fast = inception.FastExtractor(graph_def, jit_compile=False)
  assert tf32_enabled(), "building an extractor changed the process"
  fast._fn = _Recording(fast._fn)  # noqa: SLF001
  classifier = fid_saved_model.SavedModelExtractor(DEFAULT_QUALITY_MODEL)
  classifier._fn = _Recording(classifier._fn)  # noqa: SLF001
  for extractor in (reference, fast, classifier):
    extractor(images)
    assert tf32_enabled(), f"{extractor} left TF32 off"
  assert reference._session.run.seen == [False]  # noqa: SLF001
  assert fast._fn.seen == [False]  # noqa: SLF001
  assert classifier._fn.seen == [False]  # noqa: SLF001


def test_float32_exact_restores_an_off_setting_too():
  previous = tf32_enabled()
  try:
    tf.config.experimental.enable_tensor_float_32_execution(False)
    with inception.float32_exact():
      assert not tf32_enabled()
    assert not tf32_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(True)
    with pytest.raises(RuntimeError):
      with inception.float32_exact():
        raise RuntimeError("inside")
    assert tf32_enabled()
  finally:
    tf.config.experimental.enable_tensor_float_32_execution(previous)


def _tf32_during_training(tmp_path, monkeypatch, **fid) -> list[bool]:
  """TF32 as each training batch begins, for a 4-step run."""
  seen = []
  monkeypatch.setattr(
    callbacks_lib.NonFiniteGuard,
    "on_train_batch_begin",
    lambda self, batch, logs=None: seen.append(tf32_enabled()),
    raising=False,
  )
  config = Config.of(
    workdir=str(tmp_path),
    data_dir=fid.pop("data_dir"),
    image_size=32,
    z_dim=8,
    width=4,
    batch_size=4,
    train_steps=4,
    log_every=1,
    checkpoint_every=4,
    sample_every=4,
    grid_size=2,
    shuffle_buffer=64,
    precision="float32",
    jit_compile="false",
    export=False,
    **fid,
  ).validate()
  train_lib.train(config)
  return seen


@pytest.mark.slow
def test_fid_during_training_leaves_tf32_of_the_steps_alone(
  tmp_path, monkeypatch, tfds_dir, inception_pb, stats_file, tf32_on
):
  without = _tf32_during_training(
    tmp_path / "a", monkeypatch, data_dir=tfds_dir
  )
  with_fid = _tf32_during_training(
    tmp_path / "b",
    monkeypatch,
    data_dir=tfds_dir,
    fid_every=1,
    fid_samples=2,
    fid_stats=stats_file,
    fid_inception=inception_pb,
    fid_batch_size=2,
  )
  assert without == with_fid == [True] * 4
