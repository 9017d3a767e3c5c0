"""The generator's SavedModel: what TensorFlow Serving, TFLite and
TensorFlow 2 all run with the same images.

The SavedModel is written by Keras's own `keras.export.ExportArchive`, with
two endpoints and nothing else tracked:

- `serving_default`: float32 `z` [None, z_dim] -> uint8 `images`
  [None, H, W, 3] (round((x + 1) * 127.5), clipped), or for the language
  model `text` (strings of seq_len characters) and `ids`;
- `sample`: int32 `num` and int32 `seed` [2] -> `z` (drawn from the
  generator's own distribution with a stateless RNG) and the same outputs.

Why ExportArchive without `track()`: it saves the plain `tf.Variable`s that
the endpoints capture, which is what a TF1-style Session loader (TensorFlow
Serving, `saved_model_cli run`) needs; a hand-written `tf.Module` holding
the Keras model saves the Keras variables instead, whose handles a Session
cannot find ("Could not find variable ..."); `track()` would store every
variable a second time.

The serving graph is rebuilt in float32 (or `--export_dtype`) from the
trained weights, whatever precision trained them, so that the images do
not depend on where the model was trained. `assets/model.json` says what
the model is (model_info); `--tflite` adds `generator.tflite` (the
`serving_default` signature, TFLite built-in ops only), checked against
the SavedModel before the export is put in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from fid import generator as fid_generator
from fid.generator import MODEL_INFO
from tf_ttur import builder
from tf_ttur import evals
from tf_ttur import networks
from tf_ttur import pixels
from tf_ttur import records
from tf_ttur import rundata
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.data import noise
from tf_ttur.errors import StorageError
from tf_ttur.errors import first_line

FORMAT = "tf_ttur.generator/1"
# --export_dtype -> the Keras dtype policy the serving graph is built under.
EXPORT_POLICIES = {
  "float32": "float32",
  "bfloat16": "mixed_bfloat16",
  "float16": "mixed_float16",
}
# The TFLite check: this many samples, at most 1 level off on this share of
# the pixels (else the export fails instead of shipping wrong images).
TFLITE_CHECK_SAMPLES = 8
TFLITE_MIN_WITHIN_1 = 0.999


class ExportError(StorageError):
  """An export that cannot be made correctly; the message says why."""


def _serve_images(generator: keras.Model, data):
  """serving_default's function: z -> {"images": uint8 [n, H, W, 3]}."""
  del data

  def serve(z):
    return {"images": pixels.to_uint8(generator(z, training=False))}

  return serve


def _serve_text(generator: keras.Model, data):
  """serving_default's function: z -> {"text": strings, "ids": int32}.
  The unknown token (id 0) decodes to U+FFFD, so that every position is
  one character; the table is a constant of the graph."""
  table = tf.constant(["\ufffd"] + list(data.vocabulary.chars[1:]))

  def serve(z):
    ids = tf.argmax(generator(z, training=False), axis=-1, output_type=tf.int32)
    return {
      "text": tf.strings.reduce_join(tf.gather(table, ids), axis=-1),
      "ids": ids,
    }

  return serve


def _describe_images(model, config: Config, data) -> dict:
  del model, data
  return {
    "image_size": config.data.image_size,
    "channels": 3,
    "pixels": pixels.DESCRIPTION,
  }


def _describe_text(model, config: Config, data) -> dict:
  del config
  return {
    "seq_len": int(model.generator.output_shape[1]),
    "vocabulary_size": data.size,
  }


# Per modality: (generator, the run's data) -> serving_default's function,
# and (model, config, data) -> what model.json adds about its outputs.
SERVING = {"image": _serve_images, "text": _serve_text}
DESCRIBE = {"image": _describe_images, "text": _describe_text}


def serving_generator(
  generator: keras.Model,
  config: Config,
  size: int,
  export_dtype: str = "float32",
) -> keras.Model:
  """A copy of `generator` built under export_dtype's policy (the same
  builder as training, so the layers kept in float32 under mixed precision
  stay so) holding the trained weights, batch-norm statistics included;
  size is the run data's (tf_ttur.rundata)."""
  with networks.dtype_policy(EXPORT_POLICIES[export_dtype]):
    copy = builder.make_generator(config, size)
  copy.set_weights(generator.get_weights())
  for layer in copy.layers:
    if hasattr(layer, "update_statistics"):  # wgangp_resnet's batch norm:
      layer.update_statistics = False  # batch statistics, nothing assigned.
  return copy


def _archive(
  serve, z_dim: int, z_distribution: str
) -> keras.export.ExportArchive:
  """The two endpoints over serve (z -> outputs, the run data's); only the
  variables they capture are saved, each once."""

  def sample(num, seed):
    z = noise.stateless_z(tf.stack([num, z_dim]), seed, z_distribution)
    return {"z": z, **serve(z)}

  archive = keras.export.ExportArchive()
  archive.add_endpoint(
    "serving_default",
    serve,
    input_signature=[tf.TensorSpec([None, z_dim], tf.float32, name="z")],
  )
  archive.add_endpoint(
    "sample",
    sample,
    input_signature=[
      tf.TensorSpec([], tf.int32, name="num"),
      tf.TensorSpec([2], tf.int32, name="seed"),
    ],
  )
  return archive


def model_info(
  model,
  config: Config,
  training_precision: str,
  data,
  export_dtype: str = "float32",
  history: list[dict] | None = None,
) -> dict:
  """What assets/model.json says about the exported generator.

  data: the run's (tf_ttur.rundata).
  history: the run's metrics records (metrics.jsonl); the last value of
  each evaluation the run makes (tf_ttur.evals) is named with its step,
  sample count and how it was measured.
  """
  info = {
    "format": FORMAT,
    "family": config.network.model,
    "kind": config.family.modality.name,
    "z_dim": model.z_dim,
    "z_distribution": model.z_distribution,
    "z_range": [-1.0, 1.0] if model.z_distribution == "uniform" else None,
    "training_precision": training_precision,
    "serving_dtype": export_dtype,
    "step": int(model.step.numpy()),
    "dataset": config.data.dataset,
    "signatures": {
      "serving_default": (
        f"float32 z [n, z_dim] -> {config.family.modality.outputs}"
      ),
      "sample": "int32 num [], int32 seed [2] -> z and the same outputs",
    },
    "tensorflow": tf.__version__,
    "keras": keras.__version__,
    "config": config.to_dict(),
    **DESCRIBE[config.family.modality.name](model, config, data),
  }
  # WGAN-GP's generator normalizes with the batch's statistics, as the
  # original sampled: each output then depends on the other z of its call.
  info["batch_statistics"] = config.family.batch_statistics
  for entry in evals.EVALS.values():
    last = [r for r in history or [] if entry.values[0] in r]
    if entry.model_info and last:
      record = last[-1]
      info[entry.model_info] = {
        **{name: record[name] for name in entry.values if name in record},
        "metric": entry.values[0],
        "value": record[entry.values[0]],
        "step": record["step"],
        "samples": record.get(f"{entry.name}_samples"),
        **entry.about(config.evaluation),
      }
  return info


def read_model_info(path: str) -> dict | None:
  """assets/model.json of an exported generator, or None when there is none
  (fid.generator reads it; ExportError when it is unusable)."""
  try:
    return fid_generator.read_model_info(path)
  except fid_generator.GeneratorError as e:
    raise ExportError(str(e)) from None


def tflite_interpreter(**kwargs):
  """LiteRT's interpreter (ai-edge-litert, what TFLite users run now), or
  TensorFlow's deprecated tf.lite.Interpreter where it is not installed."""
  try:
    from ai_edge_litert.interpreter import Interpreter
  except ImportError:
    Interpreter = tf.lite.Interpreter
  return Interpreter(**kwargs)


def write_tflite(saved_model: str, z_dim: int, out: str) -> dict:
  """Converts the `serving_default` signature to TFLite (built-in ops only)
  and checks the interpreter's images against the SavedModel's on
  TFLITE_CHECK_SAMPLES uniform z; returns the check's figures.

  Raises:
    ExportError: the conversion fails or the images differ.
  """
  converter = tf.lite.TFLiteConverter.from_saved_model(
    saved_model, signature_keys=["serving_default"]
  )
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  try:
    flatbuffer = converter.convert()
  except Exception as e:  # noqa: BLE001  (ConverterError)
    raise ExportError(f"TFLite conversion failed: {first_line(e)}") from None
  z = (
    np.random.default_rng(0)
    .uniform(-1, 1, (TFLITE_CHECK_SAMPLES, z_dim))
    .astype(np.float32)
  )
  expected = (
    tf.saved_model.load(saved_model)
    .signatures["serving_default"](z=tf.constant(z))["images"]
    .numpy()
  )
  interpreter = tflite_interpreter(model_content=flatbuffer)
  got = interpreter.get_signature_runner("serving_default")(z=z)["images"]
  diff = np.abs(got.astype(np.int32) - expected.astype(np.int32))
  check = {
    "file": rundir.TFLITE_FILE,
    "checked_samples": TFLITE_CHECK_SAMPLES,
    "max_level_diff": int(diff.max()),
    "within_1_level": float((diff <= 1).mean()),
  }
  if check["within_1_level"] < TFLITE_MIN_WITHIN_1:
    raise ExportError(
      f"the TFLite model's images differ from the SavedModel's (mean "
      f"{diff.mean():.2f} levels, {check['within_1_level']:.2%} within 1); "
      "not written"
    )
  with open(out, "wb") as f:
    f.write(flatbuffer)
  return check


@contextlib.contextmanager
def _staged(export_dir: str):
  """A temporary sibling folder to write the export into, renamed to
  export_dir (replacing an older export only then) when the block ends
  well, removed when it does not: a crash or a failed check never leaves
  a half-written export. ExportError names export_dir."""
  parent = os.path.dirname(os.path.abspath(export_dir))
  try:
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
  except OSError as e:
    raise ExportError(f"cannot export to {export_dir}: {e}") from None
  try:
    yield tmp
    old = None
    if os.path.exists(export_dir):
      old = tmp + ".old"
      os.rename(export_dir, old)
    os.rename(tmp, export_dir)
    if old:
      shutil.rmtree(old)
  except (OSError, tf.errors.OpError) as e:
    shutil.rmtree(tmp, ignore_errors=True)
    if isinstance(e, ExportError):
      raise
    raise ExportError(
      f"cannot export to {export_dir}: {first_line(e)}"
    ) from None
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def export_generator(
  model,
  config: Config,
  export_dir: str,
  training_precision: str,
  data=None,
  history: list[dict] | None = None,
) -> str:
  """Exports `model`'s generator as a SavedModel at export_dir, atomically.

  config supplies the family and sizes, --export_dtype and --tflite; data
  is the run's (tf_ttur.rundata; None: an image run's, from config). The
  SavedModel is written to a temporary sibling folder (model.json and the
  TFLite file included) and renamed into place, so a crash or a failed
  check never leaves a half-written export and keeps an older one intact.

  Returns:
    export_dir.
  Raises:
    ExportError (a StorageError): it cannot be written or checked.
  """
  export_dtype = config.output.export_dtype
  if data is None:
    data = rundata.ImageData(config)
  generator = serving_generator(
    model.generator, config, data.size, export_dtype
  )
  serve = SERVING[config.family.modality.name](generator, data)
  archive = _archive(serve, model.z_dim, model.z_distribution)
  info = model_info(
    model, config, training_precision, data, export_dtype, history
  )
  with _staged(export_dir) as tmp:
    archive.write_out(tmp, verbose=False)
    if config.output.tflite:
      info["tflite"] = write_tflite(
        tmp, model.z_dim, os.path.join(tmp, rundir.TFLITE_FILE)
      )
    os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
    with open(os.path.join(tmp, MODEL_INFO), "w", encoding="utf-8") as f:
      json.dump(info, f, indent=1)
      f.write("\n")
  return export_dir


def export_run(model, run, export_dir: str = rundir.EXPORT_DIR) -> str:
  """Exports the generator of `run` (tf_ttur.run.Run) to export_dir in
  the folder it writes, described by the run's config (its precision the
  one that trained the weights) and last scores (metrics.jsonl)."""
  path = export_generator(
    model,
    run.config,
    os.path.join(run.out.root, export_dir),
    run.config.runtime.precision,
    run.data,
    history=records.read(run.out),
  )
  logging.info("Exported the generator to %s", path)
  return path
