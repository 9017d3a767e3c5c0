"""An offline quality measure for the `shapes` dataset: the Frechet distance
in the feature space of a small classifier trained on its labels.

It is NOT the FID: the FID is defined by the 2015 Inception graph and needs
it (no download here). This measure uses the same machinery (fid.core's
streaming float64 statistics and fid.frechet) with another feature
extractor, so that the offline demo can draw quality curves. Values are
comparable only with each other (same classifier, same sample count).

    python -m tf_ttur.quality --out=runs/shapes_classifier

trains the classifier (deterministic, about a minute on 2 CPU cores) and
exports it as a SavedModel whose `features` signature maps images in
[0, 255] to 64 features and 5 logits. An existing --out (the shipped
saved_models/shapes_classifier is the default) is replaced only with
--overwrite, and is refused before any training.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from absl import flags
from absl import logging
import numpy as np

from tf_ttur import flags as tf_ttur_flags
from tf_ttur.errors import fail
from tf_ttur.evals import DEFAULT_QUALITY_MODEL

# TensorFlow, Keras and TFDS are imported where they are used, so that
# --help and --version answer without loading them.

FEATURE_DIM = 64


def build_classifier(seed: int = 0) -> keras.Model:  # noqa: F821
  """32x32x3 images in [0, 255] -> 5 logits; the 64-d layer is `features`."""
  import keras

  from tf_ttur.data import shapes

  init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)  # noqa: E731
  inputs = keras.Input((shapes.IMAGE_SIZE, shapes.IMAGE_SIZE, 3))
  x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
  for i, filters in enumerate((32, 64)):
    x = keras.layers.Conv2D(
      filters, 3, padding="same", activation="relu", kernel_initializer=init(i)
    )(x)
    x = keras.layers.MaxPooling2D()(x)
  x = keras.layers.Flatten()(x)
  features = keras.layers.Dense(
    FEATURE_DIM, activation="relu", kernel_initializer=init(3), name="features"
  )(x)
  logits = keras.layers.Dense(
    len(shapes.CLASS_NAMES), kernel_initializer=init(4), name="logits"
  )(features)
  return keras.Model(inputs, [features, logits])


def _split(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  import tensorflow_datasets as tfds

  from tf_ttur.data import images as images_lib

  images_lib.prepare_shapes(data_dir)
  ds = tfds.load(
    "shapes", split=split, data_dir=data_dir, as_supervised=True, batch_size=-1
  )
  x, y = tfds.as_numpy(ds)
  return x.astype(np.float32), y


def _export(model: keras.Model, path: str) -> None:  # noqa: F821
  """Writes the `features` signature (also `serving_default`) with Keras's
  ExportArchive, which TensorFlow Serving's loader can run (tf_ttur.export
  says why)."""
  import keras
  import tensorflow as tf

  from tf_ttur.data import shapes

  def features(images):
    # Any size is resized to the training size (32x32) first.
    images = tf.image.resize(
      images, (shapes.IMAGE_SIZE, shapes.IMAGE_SIZE), antialias=True
    )
    features, logits = model(images, training=False)
    return {"features": features, "logits": logits}

  archive = keras.export.ExportArchive()
  archive.add_endpoint(
    "features",
    features,
    input_signature=[
      tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    ],
  )
  archive.write_out(path, verbose=False)


def train_classifier(
  out: str, data_dir: str | None = None, seed: int = 0, epochs: int = 10
) -> dict:
  """Trains, evaluates and exports the classifier; returns its metrics."""
  import keras
  import tensorflow as tf

  keras.utils.set_random_seed(seed)
  tf.config.experimental.enable_op_determinism()
  x_train, y_train = _split("train", data_dir)
  x_test, y_test = _split("test", data_dir)
  model = build_classifier(seed)
  trainer = keras.Model(model.inputs, model.outputs[1])
  trainer.compile(
    keras.optimizers.Adam(1e-3),
    keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
  )
  trainer.fit(
    x_train, y_train, batch_size=64, epochs=epochs, shuffle=True, verbose=2
  )
  _, accuracy = trainer.evaluate(x_test, y_test, verbose=0)
  metrics = {
    "test_accuracy": float(accuracy),
    "train_images": len(x_train),
    "test_images": len(x_test),
    "epochs": epochs,
    "seed": seed,
  }
  parent = os.path.dirname(os.path.abspath(out)) or "."
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".classifier-", dir=parent)
  try:
    _export(model, tmp)
    with open(os.path.join(tmp, "metrics.json"), "w") as f:
      json.dump(metrics, f, indent=1)
    if os.path.exists(out):
      shutil.rmtree(out)
    os.replace(tmp, out)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  logging.info("Classifier: test accuracy %.4f; exported to %s", accuracy, out)
  return metrics


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  if os.path.exists(FLAGS.out) and not FLAGS.overwrite:
    shipped = (
      " (the shipped classifier, which fd_shapes figures were measured with)"
      if os.path.abspath(FLAGS.out) == os.path.abspath(DEFAULT_QUALITY_MODEL)
      else ""
    )
    fail(
      f"--out={FLAGS.out} exists{shipped}; pass --overwrite to replace "
      "it, or give another --out"
    )
  if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
    fail(f"--out={FLAGS.out} is a file; the classifier is a folder")
  metrics = train_classifier(
    FLAGS.out, FLAGS.data_dir, FLAGS.seed, FLAGS.epochs
  )
  print(json.dumps(metrics))


if __name__ == "__main__":
  flags.DEFINE_string(
    "out", DEFAULT_QUALITY_MODEL, "Where to export the SavedModel."
  )
  flags.DEFINE_string("data_dir", None, "TFDS data_dir for `shapes`.")
  flags.DEFINE_integer("seed", 0, "Seed.")
  flags.DEFINE_integer("epochs", 10, "Training epochs.")
  flags.DEFINE_bool("overwrite", False, "Replace an existing --out.")
  FLAGS = flags.FLAGS
  tf_ttur_flags.run_program(main)
