"""The generator export in every client: sizes, times and agreement.

    python -m benchmarks.export \
        [--families=dcgan:32,dcgan:64,wgan_gp:32,began:64]

For each family (paper widths, random weights with spread batch-norm
statistics, trained "under" mixed_bfloat16 so that the float32 serving
graph is a rebuild): the SavedModel's size, the export time (SavedModel,
TFLite conversion and its check), and how far each client's images are
from TensorFlow 2's `tf.saved_model.load` on 64 uniform z: the Session
loader TensorFlow Serving uses (`saved_model_cli`'s loader, in-process
here) and the LiteRT interpreter. Prints one table.
"""

from __future__ import annotations

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from benchmarks import common
from tf_ttur import builder
from tf_ttur import export as export_lib
from tf_ttur import rundir
from tf_ttur.config import Config

flags.DEFINE_list(
  "families",
  ["dcgan:32", "dcgan:64", "wgan_gp:32", "began:64"],
  "family:image_size pairs.",
)
FLAGS = flags.FLAGS
SAMPLES = 64


def _spread(generator, seed: int = 0) -> None:
  import keras

  rng = np.random.default_rng(seed)
  for layer in generator.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      n = layer.gamma.shape[0]
      layer.moving_mean.assign(rng.normal(0.0, 0.05, n))
      layer.moving_variance.assign(rng.uniform(1e-4, 1e-3, n))


def _session_images(path: str, z: np.ndarray) -> np.ndarray:
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    signature = meta.signature_def["serving_default"]
    return session.run(
      signature.outputs["images"].name, {signature.inputs["z"].name: z}
    )


def _size_mb(path: str) -> float:
  total = 0
  for root, _, files in os.walk(path):
    total += sum(
      os.path.getsize(os.path.join(root, f))
      for f in files
      if f != rundir.TFLITE_FILE
    )
  return total / 2**20


def main(argv):
  del argv
  print(common.machine())
  header = (
    "| family | params | SavedModel MB | TFLite MB | export s "
    "(with TFLite) | Session max diff | LiteRT max diff | LiteRT "
    "within 1 level |"
  )
  print(header)
  print("|" + "---|" * 8)
  for item in FLAGS.families:
    family, size = item.split(":")
    widths = {"dcgan": 64, "wgan_gp": 128, "began": 128}
    z_dims = {"dcgan": 100, "wgan_gp": 128, "began": 64}
    config = Config.of(
      model=family,
      image_size=int(size),
      width=widths[family],
      z_dim=z_dims[family],
      tflite=True,
    )
    model = builder.build_model(config, "mixed_bfloat16")
    _spread(model.generator)
    with tempfile.TemporaryDirectory() as tmp:
      start = time.perf_counter()
      path = export_lib.export_generator(
        model, config, os.path.join(tmp, "g"), "mixed_bfloat16"
      )
      seconds = time.perf_counter() - start
      z = (
        np.random.default_rng(0)
        .uniform(-1, 1, (SAMPLES, config.network.z_dim))
        .astype(np.float32)
      )
      loaded = tf.saved_model.load(path)
      expected = (
        loaded.signatures["serving_default"](z=tf.constant(z))["images"]
        .numpy()
        .astype(int)
      )
      session = _session_images(path, z).astype(int)
      tflite_path = os.path.join(path, rundir.TFLITE_FILE)
      runner = export_lib.tflite_interpreter(
        model_path=tflite_path
      ).get_signature_runner("serving_default")
      lite = runner(z=z)["images"].astype(int)
      lite_diff = np.abs(lite - expected)
      print(
        f"| {family}-{size} | {model.generator.count_params():,} | "
        f"{_size_mb(path):.1f} | "
        f"{os.path.getsize(tflite_path) / 2**20:.1f} | {seconds:.1f} | "
        f"{np.abs(session - expected).max()} | {lite_diff.max()} | "
        f"{(lite_diff <= 1).mean():.4%} |"
      )


if __name__ == "__main__":
  app.run(main)
