"""The Keras 3 port of the 2015 Inception graph (FastExtractor's model):
built layer by layer from fid.architecture's description with the
GraphDef's constants by node name, and `check_graph`, which holds that
description against a real GraphDef before any weight is read."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fid import architecture
from fid import graph
from fid.download import InceptionError


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

  constants = graph.graph_constants(graph_def)
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
  head.set_weights([graph.logits_weights(graph_def, constants)])
  outputs = [pool3, logits]
  if spatial:
    outputs.append(builder.outputs[graph.SPATIAL_SCOPE])
  return keras.Model(images, outputs, name="inception_2015")


def spatial_features(mixed_6_conv) -> np.ndarray:
  """mixed_6/conv [N, 17, 17, 192] -> float64 [N, 2023]: its first 7
  channels flattened in (H, W, C) order (OpenAI's sFID)."""
  x = np.asarray(mixed_6_conv)[..., : graph.SPATIAL_CHANNELS]
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
  constants = (
    constants if constants is not None else graph.graph_constants(graph_def)
  )
  checker = _ShapeChecker(graph_def, constants)
  top = architecture.inception_2015(checker, "input")
  if checker.channels[top] != architecture.FEATURE_DIM:
    checker.errors.append(f"{top} has {checker.channels[top]} channels")
  if checker.errors:
    raise InceptionError(
      "the GraphDef does not match the 2015 Inception "
      "architecture: " + "; ".join(checker.errors[:5])
    )
