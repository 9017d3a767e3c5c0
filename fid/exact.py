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


def local_devices() -> list[str]:
  """The names of the local GPUs or, without one, of the logical CPU
  devices (one unless they were configured): what a MirroredStrategy
  spreads over (python -m fid --mirrored, training's --strategy)."""
  devices = tf.config.list_logical_devices(
    "GPU"
  ) or tf.config.list_logical_devices("CPU")
  return [d.name for d in devices]


def replica_outputs(strategy: tf.distribute.Strategy, fn, batch) -> list:
  """fn over `batch` (an array [n, ...]) split across the strategy's
  replicas, without TF32: [the outputs of each replica], each a tuple of
  tensors (fn returns a tensor or a tuple of them). Each replica's
  features can feed its own float64 RunningStats; merging them gives the
  one-device statistics (fid.core.run_pass does this)."""
  data = tf.data.Dataset.from_tensors(batch)
  (shard,) = list(strategy.experimental_distribute_dataset(data))
  with float32_exact():
    outs = strategy.run(fn, args=(shard,))
  if not isinstance(outs, (tuple, list)):
    outs = (outs,)
  local = [strategy.experimental_local_results(t) for t in outs]
  return list(zip(*local))
