"""DCGAN train steps/s for each precision, with and without XLA.

Usage: python -m benchmarks.train_step [--image_size=64] [--batch_size=64]
       [--steps=10] [--precisions=float32,mixed_bfloat16,mixed_float16]
       [--xla=false,true]

One step = one discriminator and one generator update (SPEC A.3.1), on
random images from memory so that only the model is timed. Each step is
timed on its own and the median is reported, which shrugs off the noise of
a shared machine. Prints a markdown table.
"""

from __future__ import annotations

import platform
import statistics
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from tf_ttur import train as train_lib
from tf_ttur.config import Config

flags.DEFINE_integer("image_size", 64, "32 or 64.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("width", 64, "Network width.")
flags.DEFINE_integer("steps", 10, "Timed steps (after 2 warm-up steps).",
                     lower_bound=1)
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Dtype policies.")
flags.DEFINE_list("xla", ["false", "true"], "jit_compile values.")
FLAGS = flags.FLAGS


class _StepTimer(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.seconds = []

  def on_train_batch_begin(self, batch, logs=None):
    self._start = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    self.seconds.append(time.perf_counter() - self._start)


def seconds_per_step(config: Config, precision: str, xla: bool, steps: int
                     ) -> float:
  """Median seconds of one train step through fit(), after 2 warm-up steps."""
  model = train_lib.build_model(config, precision, jit_compile=xla)
  images = np.random.default_rng(0).uniform(
      -1, 1, (config.batch_size, config.image_size, config.image_size, 3))
  ds = tf.data.Dataset.from_tensors(images.astype(np.float32)).repeat()
  timer = _StepTimer()
  model.fit(ds, steps_per_epoch=steps + 2, epochs=1, verbose=0,
            shuffle=False, callbacks=[timer])
  return statistics.median(timer.seconds[2:])


def main(argv):
  del argv
  config = Config(image_size=FLAGS.image_size, batch_size=FLAGS.batch_size,
                  width=FLAGS.width)
  print(f"DCGAN-{FLAGS.image_size}, width {FLAGS.width}, batch "
        f"{FLAGS.batch_size}, {FLAGS.steps} timed steps; "
        f"{platform.processor() or platform.machine()}, "
        f"{len(tf.config.list_physical_devices('GPU'))} GPU(s), "
        f"TF {tf.__version__}\n")
  print("| precision | XLA | steps/s | s/step |")
  print("|---|---|---|---|")
  for precision in FLAGS.precisions:
    for xla in FLAGS.xla:
      seconds = seconds_per_step(config, precision, xla == "true",
                                 FLAGS.steps)
      print(f"| {precision} | {xla} | {1 / seconds:.2f} | {seconds:.2f} |",
            flush=True)


if __name__ == "__main__":
  app.run(main)
