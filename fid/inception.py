"""The 2015 Inception graph: the reference path and the fast port
(getting the graph is fid.download).

Both extractors take images NHWC, uint8 or float in [0, 255], any size, and
return float64 pool_3 features [N, 2048] and the 1008 logits of the head
computed without the bias (as the Inception Score code of improved-gan,
OpenAI and torch-fidelity does).

- `ReferenceExtractor` runs the original GraphDef untouched in a
  `tf.compat.v1.Session` (its legacy BatchNormWithGlobalNormalization op does
  not run under `wrap_function`), fed at `ExpandDims:0` through `input_map`
  so any batch size works without TTUR's private-attribute shape hack.
- `FastExtractor` is a Keras 3 rebuild of the same graph with weights read
  from its constants by node name: the legacy ResizeBilinear (align_corners
  and half_pixel_centers False), (x - 128) * 0.0078125, the legacy batch
  norm's arithmetic (or, optionally, batch norm folded into each
  convolution), TF's average pools (padding excluded), the max pool of
  mixed_10/tower_2, always float32.

Both run with TF32 off (`float32_exact`) for their own computation only: on
Ampere and later GPUs TensorFlow's default TF32 moved the graph's FID by
7.8e-4 relative on an H100, and a process-wide switch would change the
numerics and speed of whatever else the process runs (a training step).
"""

from __future__ import annotations

from collections.abc import Iterable
import warnings

import numpy as np
import tensorflow as tf

from fid import architecture
from fid import provenance
from fid.download import InceptionError
from fid.download import get_inception_graph
from fid.errors import FIDWarning
from fid.errors import ForeignGraphWarning
from fid.exact import float32_exact
from fid.saved_model import SavedModelExtractor

INPUT_TENSOR = "ExpandDims:0"
FEATURE_TENSOR = "pool_3:0"
# sFID (Nash et al. 2021, as OpenAI's guided-diffusion evaluator computes
# it): the first SPATIAL_CHANNELS channels of this 17x17 tensor, flattened
# in (H, W, C) order: 17 * 17 * 7 = 2,023 values per image.
SPATIAL_SCOPE = "mixed_6/conv"
SPATIAL_TENSOR = SPATIAL_SCOPE + ":0"
SPATIAL_CHANNELS = 7
LOGITS_MATMUL = "softmax/logits/MatMul"


def load_graph_def(pb_path: str) -> tf.compat.v1.GraphDef:
  graph_def = tf.compat.v1.GraphDef()
  try:
    with open(pb_path, "rb") as f:
      graph_def.ParseFromString(f.read())
  except Exception as e:  # noqa: BLE001 DecodeError and friends.
    raise InceptionError(f"{pb_path} is not a GraphDef ({e})") from None
  names = {n.name for n in graph_def.node}
  for needed in (INPUT_TENSOR[:-2], FEATURE_TENSOR[:-2], LOGITS_MATMUL):
    if needed not in names:
      raise InceptionError(
        f"{pb_path} has no node {needed!r}: not the 2015 Inception graph"
      )
  return graph_def


def graph_constants(graph_def: tf.compat.v1.GraphDef) -> dict[str, np.ndarray]:
  return {
    n.name: tf.make_ndarray(n.attr["value"].tensor)
    for n in graph_def.node
    if n.op == "Const"
  }


def logits_weights(
  graph_def: tf.compat.v1.GraphDef, constants: dict[str, np.ndarray]
) -> np.ndarray:
  """W of the head, the second input of softmax/logits/MatMul [2048, 1008]."""
  matmul = next(n for n in graph_def.node if n.name == LOGITS_MATMUL)
  return constants[matmul.input[1]]


def _as_float_batch(images) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"expected images [N, H, W, 3], got {images.shape}")
  return images.astype(np.float32, copy=False)


class ReferenceExtractor:
  """The original GraphDef, run untouched in a tf.compat.v1.Session."""

  name = "reference"

  def __init__(self, graph_def: tf.compat.v1.GraphDef, spatial: bool = False):
    constants = graph_constants(graph_def)
    self._weights = logits_weights(graph_def, constants).astype(np.float64)
    self.spatial = spatial
    self._graph = tf.Graph()
    with self._graph.as_default():
      self._images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
      self._fetches = tf.graph_util.import_graph_def(
        graph_def,
        input_map={INPUT_TENSOR: self._images},
        return_elements=[FEATURE_TENSOR]
        + ([SPATIAL_TENSOR] if spatial else []),
        name="FID_Inception_Net",
      )
    self._session = tf.compat.v1.Session(graph=self._graph)

  def __call__(self, images) -> tuple[np.ndarray, ...]:
    """(features, logits), and the sFID's spatial features if spatial."""
    with float32_exact():
      out = self._session.run(
        self._fetches, {self._images: _as_float_batch(images)}
      )
    pool3 = out[0]
    features = pool3.reshape(pool3.shape[0], -1).astype(np.float64)
    if not self.spatial:
      return features, features @ self._weights
    return features, features @ self._weights, spatial_features(out[1])

  def close(self) -> None:
    self._session.close()


class _KerasBuilder:
  """Builds the Keras port layer by layer from the GraphDef's constants."""

  def __init__(
    self, constants: dict[str, np.ndarray], attrs: dict, fold_bn: bool
  ):
    import keras

    self.keras = keras
    self.fold_bn = fold_bn
    self.constants = constants
    self.attrs = attrs
    self.outputs = {}  # scope -> its (ReLU) output tensor

  def conv(self, scope, x, kernel, filters, stride=1, padding="SAME"):
    y = self._conv(scope, x, kernel, filters, stride, padding)
    self.outputs[scope] = y
    return y

  def _conv(self, scope, x, kernel, filters, stride, padding):
    bn = f"{scope}/batchnorm"
    epsilon, scale_after = self.attrs.get(bn, (architecture.BN_EPSILON, True))
    c = self.constants
    weights = c[f"{scope}/conv2d_params"]
    name = scope.replace("/", "__")
    if self.fold_bn:
      # BN(conv(x, W)) = conv(x, W * s) + (beta - mean * s), made in float64;
      # one Conv2D + BiasAdd + Relu, which grappler fuses into one kernel.
      scale = 1.0 / np.sqrt(
        c[f"{bn}/moving_variance"].astype(np.float64) + epsilon
      )
      if scale_after:
        scale = scale * c[f"{bn}/gamma"]
      layer = self.keras.layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=padding.lower(),
        activation="relu",
        dtype="float32",
        name=name,
      )
      y = layer(x)
      layer.set_weights(
        [
          (weights * scale).astype(np.float32),
          (c[f"{bn}/beta"] - c[f"{bn}/moving_mean"] * scale).astype(np.float32),
        ]
      )
      return y
    layer = self.keras.layers.Conv2D(
      filters,
      kernel,
      strides=stride,
      padding=padding.lower(),
      use_bias=False,
      dtype="float32",
      name=name,
    )
    y = layer(x)
    layer.set_weights([weights])
    # The legacy kernel's own order and rounding:
    # (t - mean) * (rsqrt(var + eps) * gamma) + beta, all float32.
    scale = tf.math.rsqrt(
      tf.constant(c[f"{bn}/moving_variance"]) + np.float32(epsilon)
    )
    if scale_after:
      scale = scale * c[f"{bn}/gamma"]
    mean, beta, scale = c[f"{bn}/moving_mean"], c[f"{bn}/beta"], scale.numpy()
    return self.keras.layers.Lambda(
      lambda t: tf.nn.relu((t - mean) * scale + beta),
      dtype="float32",
      name=f"{name}__batchnorm_relu",
    )(y)

  def pool(self, name, x, kind, size, stride, padding):
    cls = (
      self.keras.layers.MaxPooling2D
      if kind == "max"
      else self.keras.layers.AveragePooling2D
    )
    # Keras on TensorFlow averages over the valid cells only, like the graph.
    return cls(
      size,
      stride,
      padding=padding.lower(),
      dtype="float32",
      name=name.replace("/", "__"),
    )(x)

  def concat(self, name, xs):
    return self.keras.layers.Concatenate(
      axis=-1, dtype="float32", name=name.replace("/", "__")
    )(xs)


def _bn_attrs(graph_def) -> dict:
  return {
    n.name: (
      n.attr["variance_epsilon"].f,
      n.attr["scale_after_normalization"].b,
    )
    for n in graph_def.node
    if n.op == "BatchNormWithGlobalNormalization"
  }


def build_keras_model(
  graph_def: tf.compat.v1.GraphDef, fold_bn: bool = False, spatial: bool = False
):
  """The Keras 3 port: images [N, H, W, 3] in [0, 255] -> (pool_3, logits),
  and with spatial the graph's mixed_6/conv [N, 17, 17, 192] as well."""
  import keras

  constants = graph_constants(graph_def)
  check_graph(graph_def, constants)
  images = keras.Input((None, None, 3), dtype="float32", name="images")

  def preprocess(x):
    size = architecture.IMAGE_SIZE
    # The graph's own legacy op: align_corners=False, half_pixel_centers=False.
    x = tf.raw_ops.ResizeBilinear(
      images=x, size=[size, size], align_corners=False, half_pixel_centers=False
    )
    return (x - 128.0) * 0.0078125

  x = keras.layers.Lambda(preprocess, dtype="float32", name="preprocess")(
    images
  )
  builder = _KerasBuilder(constants, _bn_attrs(graph_def), fold_bn)
  x = architecture.inception_2015(builder, x)
  pool3 = keras.layers.GlobalAveragePooling2D(dtype="float32", name="pool_3")(x)
  head = keras.layers.Dense(
    architecture.NUM_CLASSES,
    use_bias=False,
    dtype="float32",
    name="logits_unbiased",
  )
  logits = head(pool3)
  head.set_weights([logits_weights(graph_def, constants)])
  outputs = [pool3, logits]
  if spatial:
    outputs.append(builder.outputs[SPATIAL_SCOPE])
  return keras.Model(images, outputs, name="inception_2015")


def spatial_features(mixed_6_conv) -> np.ndarray:
  """mixed_6/conv [N, 17, 17, 192] -> float64 [N, 2023]: its first 7
  channels flattened in (H, W, C) order (OpenAI's sFID)."""
  x = np.asarray(mixed_6_conv)[..., :SPATIAL_CHANNELS]
  return x.reshape(x.shape[0], -1).astype(np.float64)


class _ShapeChecker:
  """A builder that only compares the description with a real GraphDef."""

  def __init__(self, graph_def, constants):
    self.constants = constants
    self.by_input = {}
    self.by_name = {n.name: n for n in graph_def.node}
    for n in graph_def.node:
      for i in n.input:
        self.by_input.setdefault(i, []).append(n)
    self.channels = {"input": 3}
    self.errors = []

  def conv(self, scope, x, kernel, filters, stride=1, padding="SAME"):
    name = f"{scope}/conv2d_params"
    expected = (*kernel, self.channels[x], filters)
    if name not in self.constants:
      self.errors.append(f"missing constant {name}")
    elif tuple(self.constants[name].shape) != expected:
      self.errors.append(
        f"{name}: shape {self.constants[name].shape}, expected {expected}"
      )
    for op in self.by_input.get(name, []):
      if op.op == "Conv2D":
        strides = list(op.attr["strides"].list.i)
        pad = op.attr["padding"].s.decode()
        if strides != [1, stride, stride, 1] or (
          pad != padding and max(kernel) > 1
        ):
          self.errors.append(
            f"{op.name}: strides {strides} padding {pad}, "
            f"expected {stride} {padding}"
          )
    for part in ("beta", "gamma", "moving_mean", "moving_variance"):
      key = f"{scope}/batchnorm/{part}"
      if key not in self.constants or self.constants[key].shape != (filters,):
        self.errors.append(f"missing or misshapen constant {key}")
    self.channels[scope] = filters
    return scope

  def pool(self, name, x, kind, size, stride, padding):
    node = self.by_name.get(name)
    op = "MaxPool" if kind == "max" else "AvgPool"
    if node is not None and (
      node.op != op or list(node.attr["ksize"].list.i) != [1, size, size, 1]
    ):
      self.errors.append(
        f"{name}: {node.op} {list(node.attr['ksize'].list.i)}"
        f", expected {op} {size}x{size}"
      )
    self.channels[name] = self.channels[x]
    return name

  def concat(self, name, xs):
    self.channels[name] = sum(self.channels[x] for x in xs)
    return name


def check_graph(graph_def, constants=None) -> None:
  """Raises InceptionError if the GraphDef differs from architecture.py."""
  constants = constants if constants is not None else graph_constants(graph_def)
  checker = _ShapeChecker(graph_def, constants)
  top = architecture.inception_2015(checker, "input")
  if checker.channels[top] != architecture.FEATURE_DIM:
    checker.errors.append(f"{top} has {checker.channels[top]} channels")
  if checker.errors:
    raise InceptionError(
      "the GraphDef does not match the 2015 Inception "
      "architecture: " + "; ".join(checker.errors[:5])
    )


class FastExtractor:
  """The Keras port, compiled once per input shape (XLA where it pays).

  fold_bn=False (the default) keeps the legacy batch norm's own order of
  operations, which matches the graph to ~2e-7 relative; fold_bn=True folds
  it into fused conv + bias + relu kernels, ~15% faster on CPU and ~6e-7.
  """

  name = "fast"

  def __init__(
    self,
    graph_def: tf.compat.v1.GraphDef,
    jit_compile: bool | None = None,
    fold_bn: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    spatial: bool = False,
  ):
    self.strategy = strategy or tf.distribute.get_strategy()
    self.spatial = spatial
    with self.strategy.scope():
      self.model = build_keras_model(
        graph_def, fold_bn=fold_bn, spatial=spatial
      )
    if jit_compile is None:
      jit_compile = bool(tf.config.list_physical_devices("GPU"))
    self.jit_compile = jit_compile
    self._fn = tf.function(
      lambda x: self.model(x, training=False),
      jit_compile=jit_compile,
      reduce_retracing=True,
    )

  def __call__(self, images) -> tuple[np.ndarray, ...]:
    """(features, logits), and the sFID's spatial features if spatial."""
    with float32_exact():
      out = self._fn(tf.constant(_as_float_batch(images)))
    return self._result(out)

  def _result(self, outputs) -> tuple[np.ndarray, ...]:
    """The model's outputs (one replica's) as float64 numpy arrays."""
    result = (
      outputs[0].numpy().astype(np.float64),
      outputs[1].numpy().astype(np.float64),
    )
    if self.spatial:
      result += (spatial_features(outputs[2].numpy()),)
    return result

  def per_replica(self, images) -> list[tuple[np.ndarray, ...]]:
    """The batch split across the strategy's replicas: one result each.

    Each replica's features can feed its own float64 RunningStats; merging
    them gives the one-device statistics (fid.core.run_pass does this).
    """
    batch = tf.data.Dataset.from_tensors(_as_float_batch(images))
    (shard,) = list(self.strategy.experimental_distribute_dataset(batch))
    with float32_exact():
      outs = self.strategy.run(self._fn, args=(shard,))
    local = [self.strategy.experimental_local_results(t) for t in outs]
    return [self._result(replica) for replica in zip(*local)]

  def close(self) -> None:
    pass


def _saved_model(path: str | None, cache_dir: str | None, **kwargs):
  """Any SavedModel with a `features` function (fid.saved_model): a
  Frechet distance in its feature space, which is not the FID."""
  del cache_dir, kwargs  # No graph to cache; no sFID features.
  if not path:
    raise ValueError(
      "--extractor=savedmodel needs --inception=DIR: a "
      "SavedModel with a `features` function"
    )
  extractor = SavedModelExtractor(path)  # Its errors before the warning.
  warnings.warn(
    f"fid: {path} is not the 2015 Inception graph: its "
    "distances are not FIDs and cannot be compared with "
    "published ones",
    FIDWarning,
    stacklevel=3,
  )
  extractor.kind, extractor.graph_md5 = "savedmodel", None
  return extractor


# name -> the extractor over the 2015 graph's GraphDef; or, for the names
# of FROM_PATH, a function (path, cache_dir, **kwargs) -> extractor.
EXTRACTORS = {"fast": FastExtractor, "reference": ReferenceExtractor}
FROM_PATH = {"savedmodel": _saved_model}
NAMES = (*EXTRACTORS, *FROM_PATH)
assert NAMES == architecture.EXTRACTORS, "fid.architecture.EXTRACTORS"


def make_extractor(
  kind: str = "fast",
  inception: str | None = None,
  cache_dir: str | None = None,
  flag: str = "--inception",
  **kwargs,
):
  """An extractor by name (NAMES): over the (downloaded if needed) 2015
  graph, or for `savedmodel` the SavedModel at `inception`. Statistics
  made with it record its kind and graph MD5 (fid.provenance)."""
  if kind in FROM_PATH:
    return FROM_PATH[kind](inception, cache_dir, **kwargs)
  if kind not in EXTRACTORS:
    raise ValueError(
      f"unknown extractor {kind!r}; use one of {', '.join(NAMES)}"
    )
  pb_path = get_inception_graph(inception, cache_dir, flag=flag)
  md5 = provenance.graph_md5(pb_path)
  if not provenance.is_paper_graph(md5):
    warnings.warn(
      provenance.foreign_graph_warning(pb_path, md5),
      ForeignGraphWarning,
      stacklevel=2,
    )
  extractor = EXTRACTORS[kind](load_graph_def(pb_path), **kwargs)
  # What statistics made with it record (fid.provenance).
  extractor.kind, extractor.graph_md5 = kind, md5
  return extractor


def batches(images, batch_size: int) -> Iterable[np.ndarray]:
  for start in range(0, len(images), batch_size):
    yield images[start : start + batch_size]
