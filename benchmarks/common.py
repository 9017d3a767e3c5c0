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
from tf_ttur import builder
from tf_ttur import gan as gan_lib
from tf_ttur import hardware
from tf_ttur.config import Config


def machine() -> str:
  """What the numbers were measured on: CPU model and the flags that matter
  (AVX2, AVX-512, AVX512_BF16, AMX), GPU name and compute capability."""
  return (
    f"{hardware.detect().describe()}; TensorFlow {tf.__version__}, "
    f"Keras {keras.__version__}, {platform.python_implementation()} "
    f"{platform.python_version()}"
  )


def median_seconds(fn, repeats: int) -> float:
  """Median wall time of fn() over `repeats` calls after one warm-up call."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def peak_mib() -> float:
  """This process's peak resident memory (VmHWM: per address space, so a
  child started from a large parent does not inherit the parent's, as
  getrusage's ru_maxrss does across fork and exec)."""
  with open("/proc/self/status") as f:
    line = next(line for line in f if line.startswith("VmHWM"))
  return int(line.split()[1]) / 1024


def run_script(python: str, script: str, args: list) -> dict | None:
  """The last stdout line, as JSON, of `script` (source text) run by
  another Python (a reference implementation's environment) with args,
  this repository's folder first; None, with the error's last line said,
  where it fails."""
  import json
  import os
  import subprocess
  import tempfile

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
    f.write(script)
  try:
    proc = subprocess.run(
      [python, f.name, repo, *(str(a) for a in args)],
      capture_output=True,
      text=True,
      check=False,
    )
  finally:
    os.remove(f.name)
  if proc.returncode:
    print(f"reference row failed: {proc.stderr.strip().splitlines()[-1]}")
    return None
  return json.loads(proc.stdout.strip().splitlines()[-1])


class _StepTimer(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.ends = []

  def on_train_batch_end(self, batch, logs=None):
    self.ends.append(time.perf_counter())


def time_steps(
  config: Config, precision: str, xla: bool, steps: int, warmup: int = 2
) -> tuple[float, float]:
  """(seconds from building the model to the end of its first train step,
  compilation included; median seconds of one step after `warmup` steps),
  through fit().

  One step is what the model's train_step does: n_critic discriminator
  updates and one generator update (both together for BEGAN). Images are
  random and in memory, so only the model is timed; a step's time is the
  interval between the ends of consecutive steps, so the timer itself never
  waits for the step.
  """
  n = config.optimization.batch_size * gan_lib.real_batches_per_step(
    config.optimization.n_critic, config.optimization.kt_update == "original"
  )
  images = (
    np.random.default_rng(0)
    .uniform(-1, 1, (n, config.data.image_size, config.data.image_size, 3))
    .astype(np.float32)
  )
  ds = tf.data.Dataset.from_tensors(images).repeat()
  start = time.perf_counter()
  model = builder.build_model(config, precision, jit_compile=xla)
  timer = _StepTimer()
  model.fit(
    ds,
    steps_per_epoch=steps + warmup + 1,
    epochs=1,
    verbose=0,
    shuffle=False,
    callbacks=[timer],
  )
  intervals = np.diff(timer.ends)[warmup:]
  return timer.ends[0] - start, statistics.median(intervals)


def images_per_second(
  dataset: tf.data.Dataset, batches: int, warmup: int
) -> float:
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
    "reference (GraphDef in a Session)": inception.ReferenceExtractor(
      graph_def
    ),
    "fast (Keras port)": inception.FastExtractor(graph_def, jit_compile=False),
  }
  if fold_bn:
    extractors["fast, fold_bn"] = inception.FastExtractor(
      graph_def, jit_compile=False, fold_bn=True
    )
  if xla:
    extractors["fast, XLA"] = inception.FastExtractor(
      graph_def, jit_compile=True
    )
  return extractors
