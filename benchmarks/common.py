"""Timing helpers shared by the benchmark scripts (no flags here)."""

from __future__ import annotations

import platform
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from fid import inception
from fid import testing
from tf_ttur import train as train_lib
from tf_ttur.config import Config


def machine() -> str:
  """One line naming what the numbers were measured on."""
  gpus = tf.config.list_physical_devices("GPU")
  try:
    import os  # pylint: disable=g-import-not-at-top
    cores = len(os.sched_getaffinity(0))
  except AttributeError:
    cores = None
  return (f"{platform.machine()}, {cores} cores, {len(gpus)} GPU(s), "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")


def median_seconds(fn, repeats: int) -> float:
  """Median wall time of fn() over `repeats` calls after one warm-up call."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


class _StepTimer(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.seconds = []

  def on_train_batch_begin(self, batch, logs=None):
    self._start = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    self.seconds.append(time.perf_counter() - self._start)


def seconds_per_step(config: Config, precision: str, xla: bool, steps: int,
                     warmup: int = 2) -> float:
  """Median seconds of one train step through fit(), after warm-up steps.

  One step is what the model's train_step does: n_critic discriminator
  updates and one generator update (both together for BEGAN). Images are
  random and in memory, so only the model is timed.
  """
  model = train_lib.build_model(config, precision, jit_compile=xla)
  n = config.batch_size * config.n_critic
  images = np.random.default_rng(0).uniform(
      -1, 1, (n, config.image_size, config.image_size, 3)).astype(np.float32)
  ds = tf.data.Dataset.from_tensors(images).repeat()
  timer = _StepTimer()
  model.fit(ds, steps_per_epoch=steps + warmup, epochs=1, verbose=0,
            shuffle=False, callbacks=[timer])
  return statistics.median(timer.seconds[warmup:])


def images_per_second(dataset: tf.data.Dataset, batches: int,
                      warmup: int) -> float:
  """Images/s read from a batched dataset after `warmup` batches."""
  iterator = iter(dataset)
  for _ in range(warmup):
    next(iterator)
  start = time.perf_counter()
  count = 0
  for _ in range(batches):
    count += int(tf.shape(tf.nest.flatten(next(iterator))[0])[0])
  return count / (time.perf_counter() - start)


def fid_extractors(fold_bn: bool = False, xla: bool = False) -> dict:
  """{row name: extractor} on the synthetic replica of the 2015 graph (same
  ops and shapes as the real one, so no download): the reference path,
  the fast Keras port and, if asked, its fold_bn and XLA variants."""
  graph_def = testing.make_graph_def(seed=0)
  extractors = {
      "reference (GraphDef in a Session)":
          inception.ReferenceExtractor(graph_def),
      "fast (Keras port)": inception.FastExtractor(graph_def,
                                                   jit_compile=False),
  }
  if fold_bn:
    extractors["fast, fold_bn"] = inception.FastExtractor(
        graph_def, jit_compile=False, fold_bn=True)
  if xla:
    extractors["fast, XLA"] = inception.FastExtractor(graph_def,
                                                       jit_compile=True)
  return extractors
