"""The 2015 Inception GraphDef itself: the names of the tensors the FID
reads (pool_3, the logits' MatMul, the sFID's mixed_6/conv), the file
loaded and checked for them, and its constants by node name."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fid.download import InceptionError

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
