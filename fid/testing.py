"""A synthetic replica of `classify_image_graph_def.pb` for tests and
benchmarks.

The real graph cannot be downloaded here, so the tests build its twin: the
same node names, op types (the legacy BatchNormWithGlobalNormalization,
Concat with a leading concat_dim, CheckNumerics + Identity guards, the
DecodeJpeg -> Cast -> ExpandDims -> ResizeBilinear -> Sub -> Mul input chain,
pool_3 and the 1008-class softmax head), attributes and tensor shapes, with
random weights. The GraphDef is written node by node as protobufs, with an
old producer version, because TF 2.21 no longer builds the legacy batch-norm
op itself.
"""

from __future__ import annotations

import io
import tarfile

import numpy as np
import tensorflow as tf

from fid import architecture

# The legacy batch-norm op was removed at GraphDef version 9 (docs/paper.md C).
PRODUCER_VERSION = 8
_FLOAT = tf.float32.as_datatype_enum
_INT32 = tf.int32.as_datatype_enum
_UINT8 = tf.uint8.as_datatype_enum


def _attr(value) -> tf.compat.v1.AttrValue:
  if isinstance(value, tf.compat.v1.AttrValue):
    return value
  if isinstance(value, bool):
    return tf.compat.v1.AttrValue(b=value)
  if isinstance(value, int):
    return tf.compat.v1.AttrValue(i=value)
  if isinstance(value, float):
    return tf.compat.v1.AttrValue(f=value)
  if isinstance(value, (str, bytes)):
    return tf.compat.v1.AttrValue(
      s=value.encode() if isinstance(value, str) else value
    )
  if isinstance(value, list):
    return tf.compat.v1.AttrValue(
      list=tf.compat.v1.AttrValue.ListValue(i=value)
    )
  raise TypeError(f"unsupported attribute {value!r}")


def _type(dtype_enum: int) -> tf.compat.v1.AttrValue:
  return tf.compat.v1.AttrValue(type=dtype_enum)


class GraphDefBuilder:
  """Writes the Inception layers as NodeDefs with the real graph's names."""

  def __init__(
    self, rng: np.random.Generator, scale_after_normalization: bool = True
  ):
    self.graph_def = tf.compat.v1.GraphDef()
    self.graph_def.versions.producer = PRODUCER_VERSION
    self.rng = rng
    self.scale_after_normalization = scale_after_normalization
    self.channels: dict[str, int] = {}

  def node(self, name: str, op: str, inputs=(), **attrs) -> str:
    node = self.graph_def.node.add(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
      node.attr[key].CopyFrom(_attr(value))
    return name

  def const(self, name: str, value: np.ndarray | bytes) -> str:
    tensor = tf.make_tensor_proto(value)
    return self.node(
      name,
      "Const",
      dtype=_type(tensor.dtype),
      value=tf.compat.v1.AttrValue(tensor=tensor),
    )

  def conv(self, scope, x, kernel, filters, stride=1, padding="SAME"):
    c_in = self.channels[x]
    kh, kw = kernel
    weights = self.rng.normal(
      0, np.sqrt(2.0 / (kh * kw * c_in)), (kh, kw, c_in, filters)
    ).astype(np.float32)
    params = self.const(f"{scope}/conv2d_params", weights)
    conv = self.node(
      f"{scope}/Conv2D",
      "Conv2D",
      [x, params],
      T=_type(_FLOAT),
      strides=[1, stride, stride, 1],
      padding=padding,
      use_cudnn_on_gpu=True,
      data_format="NHWC",
    )
    bn = f"{scope}/batchnorm"
    stats = {
      "beta": self.rng.normal(0.0, 0.1, filters),
      "gamma": self.rng.uniform(0.5, 1.5, filters),
      "moving_mean": self.rng.normal(0.0, 0.2, filters),
      "moving_variance": self.rng.uniform(0.5, 2.0, filters),
    }
    names = {
      k: self.const(f"{bn}/{k}", v.astype(np.float32)) for k, v in stats.items()
    }
    self.node(
      bn,
      "BatchNormWithGlobalNormalization",
      [
        conv,
        names["moving_mean"],
        names["moving_variance"],
        names["beta"],
        names["gamma"],
      ],
      T=_type(_FLOAT),
      variance_epsilon=architecture.BN_EPSILON,
      scale_after_normalization=self.scale_after_normalization,
    )
    check = self.node(
      f"{scope}/CheckNumerics",
      "CheckNumerics",
      [bn],
      T=_type(_FLOAT),
      message="activation input is not finite.",
    )
    guarded = self.node(
      f"{scope}/control_dependency",
      "Identity",
      [bn, f"^{check}"],
      T=_type(_FLOAT),
    )
    self.node(scope, "Relu", [guarded], T=_type(_FLOAT))
    self.channels[scope] = filters
    return scope

  def pool(self, name, x, kind, size, stride, padding):
    self.node(
      name,
      "MaxPool" if kind == "max" else "AvgPool",
      [x],
      T=_type(_FLOAT),
      ksize=[1, size, size, 1],
      strides=[1, stride, stride, 1],
      padding=padding,
      data_format="NHWC",
    )
    self.channels[name] = self.channels[x]
    return name

  def concat(self, name, xs):
    dim = self.const(f"{name}/concat_dim", np.array(3, np.int32))
    self.node(name, "Concat", [dim, *xs], N=len(xs), T=_type(_FLOAT))
    self.channels[name] = sum(self.channels[x] for x in xs)
    return name


def make_graph_def(
  seed: int = 0, scale_after_normalization: bool = True
) -> tf.compat.v1.GraphDef:
  """The replica GraphDef with random weights drawn from `seed`."""
  b = GraphDefBuilder(np.random.default_rng(seed), scale_after_normalization)
  _input_nodes(b)
  top = architecture.inception_2015(b, "Mul")
  _head_nodes(b, top)
  return b.graph_def


def _input_nodes(b: GraphDefBuilder) -> None:
  """The graph's input: a JPEG decoded, cast, given a batch axis
  (ExpandDims, where the FID feeds images), resized to 299 with the
  legacy ResizeBilinear and scaled to [-1, 1) as (x - 128) / 128."""
  b.const("DecodeJpeg/contents", b"")
  b.node(
    "DecodeJpeg",
    "DecodeJpeg",
    ["DecodeJpeg/contents"],
    channels=3,
    ratio=1,
    fancy_upscaling=True,
    try_recover_truncated=False,
    acceptable_fraction=1.0,
    dct_method="",
  )
  b.node("Cast", "Cast", ["DecodeJpeg"], SrcT=_type(_UINT8), DstT=_type(_FLOAT))
  b.const("ExpandDims/dim", np.array(0, np.int32))
  b.node(
    "ExpandDims",
    "ExpandDims",
    ["Cast", "ExpandDims/dim"],
    T=_type(_FLOAT),
    Tdim=_type(_INT32),
  )
  size = architecture.IMAGE_SIZE
  b.const("ResizeBilinear/size", np.array([size, size], np.int32))
  b.node(
    "ResizeBilinear",
    "ResizeBilinear",
    ["ExpandDims", "ResizeBilinear/size"],
    T=_type(_FLOAT),
    align_corners=False,
  )
  b.const("Sub/y", np.array(128.0, np.float32))
  b.node("Sub", "Sub", ["ResizeBilinear", "Sub/y"], T=_type(_FLOAT))
  b.const("Mul/y", np.array(0.0078125, np.float32))
  b.node("Mul", "Mul", ["Sub", "Mul/y"], T=_type(_FLOAT))
  b.channels["Mul"] = 3


def _head_nodes(b: GraphDefBuilder, top: str) -> None:
  """pool_3 (an 8x8 average pool of the last block, reshaped to
  [1, 2048]) and the softmax head with its random weights and biases."""
  b.node(
    "pool_3",
    "AvgPool",
    [top],
    T=_type(_FLOAT),
    ksize=[1, 8, 8, 1],
    strides=[1, 1, 1, 1],
    padding="VALID",
    data_format="NHWC",
  )
  b.const(
    "pool_3/_reshape/shape", np.array([1, architecture.FEATURE_DIM], np.int32)
  )
  b.node(
    "pool_3/_reshape",
    "Reshape",
    ["pool_3", "pool_3/_reshape/shape"],
    T=_type(_FLOAT),
    Tshape=_type(_INT32),
  )
  weights = b.rng.normal(
    0, 0.05, (architecture.FEATURE_DIM, architecture.NUM_CLASSES)
  )
  b.const("softmax/weights", weights.astype(np.float32))
  b.const(
    "softmax/biases",
    b.rng.normal(0, 0.1, architecture.NUM_CLASSES).astype(np.float32),
  )
  b.node(
    "softmax/logits/MatMul",
    "MatMul",
    ["pool_3/_reshape", "softmax/weights"],
    T=_type(_FLOAT),
    transpose_a=False,
    transpose_b=False,
  )
  b.node(
    "softmax/logits",
    "BiasAdd",
    ["softmax/logits/MatMul", "softmax/biases"],
    T=_type(_FLOAT),
    data_format="NHWC",
  )
  b.node("softmax", "Softmax", ["softmax/logits"], T=_type(_FLOAT))


def write_graph_def(path: str, seed: int = 0) -> str:
  """Writes the replica as a binary .pb at path; returns path."""
  with open(path, "wb") as f:
    f.write(make_graph_def(seed).SerializeToString())
  return path


def write_archive(path: str, pb_path: str) -> str:
  """A .tgz laid out like inception-2015-12-05.tgz around pb_path."""
  with tarfile.open(path, "w:gz") as tar:
    tar.add(pb_path, arcname="classify_image_graph_def.pb")
    info = tarfile.TarInfo("LICENSE")
    text = b"synthetic replica for tests\n"
    info.size = len(text)
    tar.addfile(info, io.BytesIO(text))
  return path
