"""Float32 without TF32 for the feature extractors, so that FIDs do not
depend on the GPU generation (a leaf: fid.inception and fid.saved_model
both use it)."""

from __future__ import annotations

import contextlib

import tensorflow as tf


@contextlib.contextmanager
def float32_exact():
  """TF32 off inside, then back to the caller's setting.

  The setting is read when a kernel runs (and when XLA compiles), so it
  covers the Session path, the Keras port and a compiled function traced
  inside.
  """
  previous = tf.config.experimental.tensor_float_32_execution_enabled()
  tf.config.experimental.enable_tensor_float_32_execution(False)
  try:
    yield
  finally:
    tf.config.experimental.enable_tensor_float_32_execution(previous)
