"""The exported generators in the clients people serve with: TensorFlow
Serving's loader (`saved_model_cli run`, a TF1 Session), the TFLite (LiteRT)
interpreter, and TensorFlow 2's own `tf.saved_model.load`, which must all
give the same images; the README's serving requests, run as written."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO
from tests.helpers import SMALL_IMAGE_CONFIG as IMAGE
from tests.helpers import run_module
from tests.helpers import spread_batch_norm
from tf_ttur import builder
from tf_ttur import export as export_lib
from tf_ttur import pixels
from tf_ttur import rundata
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.data import text as text_lib
from tf_ttur.errors import ConfigError

TEXT = Config.of(model="language", dataset="english", width=8, z_dim=16)
VOCABULARY = ["unk", "`"] + list("abcdefghij ")
DEMO = os.path.join(REPO, "saved_models", "demo_shapes_dcgan")
CLASSIFIER = os.path.join(REPO, "saved_models", "shapes_classifier")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """Image generators trained (here: made) under float32 and
  mixed_bfloat16 with the same weights, a text generator, each exported."""
  root = tmp_path_factory.mktemp("exports")
  models, paths = {}, {}
  for precision in ("float32", "mixed_bfloat16"):
    model = builder.build_model(IMAGE, precision)
    if precision == "float32":
      spread_batch_norm(model.generator)
    else:
      model.generator.set_weights(models["float32"].generator.get_weights())
    model.step.assign(7)
    models[precision] = model
    paths[precision] = export_lib.export_generator(
      model,
      IMAGE,
      str(root / precision),
      precision,
      history=[{"step": 7, "fid": 41.5, "fid_samples": 100}],
    )
  text = builder.build_model(TEXT, "float32", size=len(VOCABULARY))
  models["text"] = text
  paths["text"] = export_lib.export_generator(
    text,
    TEXT,
    str(root / "text"),
    "float32",
    data=rundata.TextData(text_lib.Vocabulary(VOCABULARY)),
  )
  paths["demo"] = DEMO
  return models, paths


def _cli(*args: str) -> subprocess.CompletedProcess:
  # The `saved_model_cli` command's own module (its console script may not
  # be on PATH in a virtual environment that is not activated).
  return subprocess.run(
    [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", *args],
    capture_output=True,
    text=True,
    timeout=300,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
  )


def _cli_run(path, signature, outdir, *inputs) -> dict[str, np.ndarray]:
  proc = _cli(
    "run",
    "--dir",
    path,
    "--tag_set",
    "serve",
    "--signature_def",
    signature,
    "--outdir",
    str(outdir),
    "--overwrite",
    *inputs,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  return {
    name[:-4]: np.load(os.path.join(outdir, name), allow_pickle=True)
    for name in os.listdir(outdir)
  }


def _assert_same(cli: dict, tf2: dict) -> None:
  assert set(cli) == set(tf2)
  for name, value in tf2.items():
    value = value.numpy()
    assert cli[name].dtype == value.dtype or value.dtype == object, name
    np.testing.assert_array_equal(cli[name], value, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["float32", "mixed_bfloat16", "text", "demo"])
def test_saved_model_cli_runs_both_signatures(exports, which, tmp_path):
  """TensorFlow Serving's loader, bit for bit the outputs of TF2's."""
  _, paths = exports
  path = paths[which]
  loaded = tf.saved_model.load(path)
  z_dim = export_lib.read_model_info(path)["z_dim"]
  z = np.random.default_rng(3).uniform(-1, 1, (5, z_dim)).astype(np.float32)
  np.save(tmp_path / "z.npy", z)
  cli = _cli_run(
    path,
    "serving_default",
    tmp_path / "serve",
    "--inputs",
    f"z={tmp_path / 'z.npy'}",
  )
  _assert_same(cli, loaded.signatures["serving_default"](z=tf.constant(z)))
  cli = _cli_run(
    path, "sample", tmp_path / "sample", "--input_exprs", "num=4;seed=[5, 6]"
  )
  _assert_same(
    cli,
    loaded.signatures["sample"](num=tf.constant(4), seed=tf.constant([5, 6])),
  )
  if which != "text":
    assert cli["images"].shape == (4, 32, 32, 3)
    assert cli["images"].std() > 10  # not a constant image


@pytest.mark.slow
def test_shipped_classifier_runs_in_saved_model_cli(tmp_path):
  images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3))
  np.save(tmp_path / "images.npy", images.astype(np.float32))
  loaded = tf.saved_model.load(CLASSIFIER)
  expected = loaded.signatures["features"](
    images=tf.constant(images, tf.float32)
  )
  for signature in ("features", "serving_default"):
    cli = _cli_run(
      CLASSIFIER,
      signature,
      tmp_path / signature,
      "--inputs",
      f"images={tmp_path / 'images.npy'}",
    )
    _assert_same(cli, expected)


def _graph_dtypes(path: str) -> set[str]:
  """Every dtype named by a node of the SavedModel's graph and functions."""
  from tensorflow.core.protobuf import saved_model_pb2

  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  graph = proto.meta_graphs[0].graph_def
  nodes = list(graph.node)
  for function in graph.library.function:
    nodes += list(function.node_def)
  names = set()
  for node in nodes:
    for value in node.attr.values():
      if value.type:
        names.add(tf.dtypes.as_dtype(value.type).name)
      names.update(tf.dtypes.as_dtype(t).name for t in value.list.type)
  return names


def test_mixed_precision_run_serves_in_float32(exports):
  models, paths = exports
  assert not _graph_dtypes(paths["mixed_bfloat16"]) & {"bfloat16", "half"}
  info = export_lib.read_model_info(paths["mixed_bfloat16"])
  assert info["training_precision"] == "mixed_bfloat16"
  assert info["serving_dtype"] == "float32"
  # The images equal a float32 recomputation of the same weights.
  z = np.random.default_rng(4).uniform(-1, 1, (16, 16)).astype(np.float32)
  recomputed = (
    pixels.to_uint8(models["float32"].generator(z, training=False))
    .numpy()
    .astype(int)
  )
  served = (
    tf.saved_model.load(paths["mixed_bfloat16"])
    .signatures["serving_default"](z=tf.constant(z))["images"]
    .numpy()
    .astype(int)
  )
  assert np.abs(served - recomputed).max() <= 1
  # While the training graph (bfloat16) itself is further off.
  trained = pixels.to_uint8(
    models["mixed_bfloat16"].generator(z, training=False)
  ).numpy()
  assert np.abs(trained.astype(int) - recomputed).max() > 1


def test_export_dtype_bfloat16_on_request(exports, tmp_path):
  models, _ = exports
  config = IMAGE.replace(tflite=False, export_dtype="bfloat16")
  path = export_lib.export_generator(
    models["float32"], config, str(tmp_path / "bf16"), "float32"
  )
  assert "bfloat16" in _graph_dtypes(path)
  assert export_lib.read_model_info(path)["serving_dtype"] == "bfloat16"


@pytest.mark.parametrize("which", ["float32", "mixed_bfloat16", "demo"])
def test_tflite_equals_saved_model(exports, which):
  _, paths = exports
  path = paths[which]
  with open(os.path.join(path, rundir.TFLITE_FILE), "rb") as f:
    flatbuffer = f.read()
  assert b"Flex" not in flatbuffer  # built-in ops only
  z = (
    np.random.default_rng(5)
    .uniform(-1, 1, (64, export_lib.read_model_info(path)["z_dim"]))
    .astype(np.float32)
  )
  expected = (
    tf.saved_model.load(path)
    .signatures["serving_default"](z=tf.constant(z))["images"]
    .numpy()
    .astype(int)
  )
  from ai_edge_litert.interpreter import Interpreter

  runner = Interpreter(model_content=flatbuffer).get_signature_runner(
    "serving_default"
  )
  got = runner(z=z)["images"]
  assert got.dtype == np.uint8 and got.shape == expected.shape
  diff = np.abs(got.astype(int) - expected)
  assert (diff <= 1).mean() >= 0.999, (diff.mean(), diff.max())
  assert export_lib.read_model_info(path)["tflite"]["within_1_level"] >= 0.999


def _serving_ops(path: str) -> set[str]:
  """The op types of the functions behind both signatures (not those of
  the SavedModel's own save and restore)."""
  from tensorflow.core.protobuf import saved_model_pb2

  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  functions = [
    f
    for f in proto.meta_graphs[0].graph_def.library.function
    if "_traced_" not in f.signature.name
  ]
  assert any("serve" in f.signature.name for f in functions)
  return {node.op for function in functions for node in function.node_def}


@pytest.mark.slow
@pytest.mark.parametrize(
  "family,size", [("wgan_gp", 32), ("began", 64), ("sngan", 32)]
)
def test_every_image_family_serves_statelessly_and_converts(
  family, size, tmp_path
):
  """WGAN-GP's batch-statistics norm and both families' upsampling once
  kept TFLite from converting (no built-in Conv2D for an unknown height);
  SNGAN's generator normalizes its Linear's flat outputs."""
  config = Config.of(
    model=family, image_size=size, width=8, z_dim=16, tflite=True
  )
  model = builder.build_model(config, "float32")
  path = export_lib.export_generator(
    model, config, str(tmp_path / family), "float32"
  )
  # Serving assigns nothing (the training graph updates batch norm's
  # moving statistics, which the serving copy neither reads nor writes).
  assert not _serving_ops(path) & {"AssignVariableOp", "AssignAddVariableOp"}
  info = export_lib.read_model_info(path)
  assert info["batch_statistics"] == (family == "wgan_gp")
  assert info["tflite"]["within_1_level"] >= 0.999
  z = np.random.default_rng(6).uniform(-1, 1, (8, 16)).astype(np.float32)
  outputs = tf.saved_model.load(path).signatures["serving_default"](
    z=tf.constant(z)
  )
  # TensorFlow Serving's loader gives the same images, bit for bit.
  np.save(tmp_path / "z.npy", z)
  _assert_same(
    _cli_run(
      path,
      "serving_default",
      tmp_path / "serve",
      "--inputs",
      f"z={tmp_path / 'z.npy'}",
    ),
    outputs,
  )
  served = outputs["images"].numpy().astype(int)
  trained = pixels.to_uint8(model.generator(z, training=False)).numpy()
  assert np.abs(served - trained.astype(int)).max() <= 1
  got = (
    export_lib.tflite_interpreter(
      model_path=os.path.join(path, rundir.TFLITE_FILE)
    )
    .get_signature_runner("serving_default")(z=z)["images"]
    .astype(int)
  )
  assert (np.abs(got - served) <= 1).mean() >= 0.999


@pytest.mark.slow
def test_wrong_tflite_images_fail_the_export_and_keep_the_old_one(
  exports, tmp_path, monkeypatch
):
  models, paths = exports
  target = str(tmp_path / "export")
  export_lib.export_generator(
    models["float32"], IMAGE.replace(tflite=False), target, "float32"
  )
  before = sorted(os.listdir(target))

  real = export_lib.tflite_interpreter

  class Shifted:  # An interpreter whose images are 8 levels off.
    def __init__(self, **kwargs):
      self._runner = real(**kwargs).get_signature_runner("serving_default")

    def get_signature_runner(self, name):
      return lambda z: {"images": self._runner(z=z)["images"] + 8}

  monkeypatch.setattr(export_lib, "tflite_interpreter", Shifted)
  with pytest.raises(
    export_lib.ExportError, match="differ from the SavedModel's"
  ):
    export_lib.export_generator(models["float32"], IMAGE, target, "float32")
  assert sorted(os.listdir(target)) == before  # the older export, intact
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".export-")]


def test_model_json_says_what_the_model_is(exports):
  _, paths = exports
  info = export_lib.read_model_info(paths["float32"])
  assert info["family"] == "dcgan" and info["kind"] == "image"
  assert info["image_size"] == 32 and info["z_dim"] == 16
  assert info["z_distribution"] == "uniform" and info["step"] == 7
  assert info["dataset"] == "shapes" and info["config"]["network"]["width"] == 8
  assert info["fid"]["value"] == 41.5 and info["fid"]["samples"] == 100
  text = export_lib.read_model_info(paths["text"])
  assert text["kind"] == "text" and text["z_distribution"] == "normal"
  assert text["seq_len"] == 32 and text["vocabulary_size"] == len(VOCABULARY)
  assert "fid" not in text


@pytest.mark.slow
def test_export_flags_are_checked():
  with pytest.raises(ConfigError, match="--tflite is for image generators"):
    TEXT.replace(workdir="/tmp/x", tflite=True).validate()
  with pytest.raises(ConfigError, match="--tflite needs --export_dtype"):
    IMAGE.replace(workdir="/tmp/x", export_dtype="float16").validate()
  proc = run_module("tf_ttur.main", "--export_dtype=int8", "--mode=dry_run")
  assert proc.returncode == 2 and "--export_dtype" in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sampler_on_a_damaged_model_json(exports, tmp_path):
  _, paths = exports
  import shutil

  damaged = str(tmp_path / "damaged")
  shutil.copytree(paths["float32"], damaged)
  with open(os.path.join(damaged, export_lib.MODEL_INFO), "w") as f:
    f.write("{not json")
  proc = run_module(
    "tf_ttur.sample",
    f"--saved_model={damaged}",
    "--num=1",
    f"--out={tmp_path / 'g.png'}",
  )
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert "model.json cannot be read" in proc.stderr.strip().splitlines()[-1]
  assert not os.path.exists(tmp_path / "g.png")


# --- The README's "Serve a generator" section, run as written. ---


def _predict(path: str, body: dict) -> dict:
  """TensorFlow Serving's REST predict in its columnar ("inputs") form,
  on a SavedModel loaded into a TF1 Session as the model server loads it:
  inputs cast to the signature's dtypes, one output answered bare."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    signature = meta.signature_def[
      body.get("signature_name", "serving_default")
    ]
    feed = {}
    for name, value in body["inputs"].items():
      info = signature.inputs[name]
      feed[info.name] = np.asarray(
        value, tf.dtypes.as_dtype(info.dtype).as_numpy_dtype
      )
    out = session.run({k: v.name for k, v in signature.outputs.items()}, feed)
  out = {k: v.tolist() for k, v in out.items()}
  return {"outputs": next(iter(out.values())) if len(out) == 1 else out}


def _readme_section() -> str:
  with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    text = f.read()
  return text[text.index("## Serve a generator") :].split("\n## ")[0]


@pytest.mark.slow
def test_readme_serving_requests(tmp_path):
  section = _readme_section()
  blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
  requests = next(code for lang, code in blocks if "curl" in code)
  decode, tflite = [code for lang, code in blocks if lang == "python"]
  model_dir = re.search(r"cp -r (\S+) ", section).group(1)
  path = os.path.join(REPO, model_dir)
  # The request body of serving_default, made by the README's command.
  maker = next(
    line for line in requests.splitlines() if line.startswith("python -c")
  )
  proc = subprocess.run(
    maker, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  with open(tmp_path / "request.json") as f:
    serve_body = json.load(f)
  sample_body = json.loads(re.search(r"-d '(\{.*?\})'", requests).group(1))
  for body, name in (
    (serve_body, "response.json"),
    (sample_body, "response_sample.json"),
  ):
    with open(tmp_path / name, "w") as f:
      json.dump(_predict(path, body), f)
  proc = subprocess.run(
    [sys.executable, "-c", decode],
    cwd=tmp_path,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  # The PNGs hold what TensorFlow 2 gives for the same inputs.
  loaded = tf.saved_model.load(path)
  z = tf.constant(serve_body["inputs"]["z"], tf.float32)
  expected = {
    "response": loaded.signatures["serving_default"](z=z)["images"],
    "response_sample": loaded.signatures["sample"](
      num=tf.constant(sample_body["inputs"]["num"]),
      seed=tf.constant(sample_body["inputs"]["seed"]),
    )["images"],
  }
  for prefix, images in expected.items():
    assert len(images) == 4
    for i, image in enumerate(images.numpy()):
      png = tf.io.decode_png(
        tf.io.read_file(str(tmp_path / f"{prefix}_{i}.png"))
      )
      np.testing.assert_array_equal(png.numpy(), image)
  # The TFLite snippet, from the repository root.
  proc = subprocess.run(
    [sys.executable, "-c", tflite],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "(16, 32, 32, 3) uint8" in proc.stdout
