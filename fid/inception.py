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
from fid import graph
from fid import port
from fid import provenance
from fid.download import get_inception_graph
from fid.errors import FIDWarning
from fid.errors import ForeignGraphWarning
from fid.exact import float32_exact
from fid.exact import replica_outputs
from fid.saved_model import SavedModelExtractor


def _as_float_batch(images) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"expected images [N, H, W, 3], got {images.shape}")
  return images.astype(np.float32, copy=False)


class ReferenceExtractor:
  """The original GraphDef, run untouched in a tf.compat.v1.Session; with
  a tf.distribute strategy, one copy of the graph on each of its devices,
  fed its share of every batch in one Session.run (per_replica)."""

  name = "reference"

  def __init__(
    self,
    graph_def: tf.compat.v1.GraphDef,
    spatial: bool = False,
    strategy: tf.distribute.Strategy | None = None,
  ):
    constants = graph.graph_constants(graph_def)
    self._weights = graph.logits_weights(graph_def, constants).astype(
      np.float64
    )
    self.spatial = spatial
    self.strategy = strategy or tf.distribute.get_strategy()
    # The default strategy places nothing (and names no devices).
    devices = strategy.extended.worker_devices if strategy else [None]
    self._graph = tf.Graph()
    self._copies = []  # (placeholder, fetches) per device.
    with self._graph.as_default():
      for i, device in enumerate(devices):
        with tf.device(device):
          images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
          fetches = tf.graph_util.import_graph_def(
            graph_def,
            input_map={graph.INPUT_TENSOR: images},
            return_elements=[graph.FEATURE_TENSOR]
            + ([graph.SPATIAL_TENSOR] if spatial else []),
            name="FID_Inception_Net" + (f"_{i}" if i else ""),
          )
        self._copies.append((images, fetches))
    self._session = tf.compat.v1.Session(graph=self._graph)

  def __call__(self, images) -> tuple[np.ndarray, ...]:
    """(features, logits), and the sFID's spatial features if spatial."""
    images_in, fetches = self._copies[0]
    with float32_exact():
      out = self._session.run(fetches, {images_in: _as_float_batch(images)})
    return self._result(out)

  def per_replica(self, images) -> list[tuple[np.ndarray, ...]]:
    """The batch split across the devices as a strategy splits it (in
    order, the first ones one image larger), one result per non-empty
    share."""
    shares = np.array_split(_as_float_batch(images), len(self._copies))
    used = [(c, x) for c, x in zip(self._copies, shares) if len(x)]
    with float32_exact():
      outs = self._session.run(
        [fetches for (_, fetches), _ in used],
        {placeholder: x for (placeholder, _), x in used},
      )
    return [self._result(out) for out in outs]

  def _result(self, out) -> tuple[np.ndarray, ...]:
    pool3 = out[0]
    features = pool3.reshape(pool3.shape[0], -1).astype(np.float64)
    if not self.spatial:
      return features, features @ self._weights
    return features, features @ self._weights, port.spatial_features(out[1])

  def close(self) -> None:
    self._session.close()


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
      self.model = port.build_keras_model(
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
      result += (port.spatial_features(outputs[2].numpy()),)
    return result

  def per_replica(self, images) -> list[tuple[np.ndarray, ...]]:
    """The batch split across the strategy's replicas: one result each
    (fid.exact.replica_outputs)."""
    outputs = replica_outputs(self.strategy, self._fn, _as_float_batch(images))
    return [self._result(replica) for replica in outputs]

  def close(self) -> None:
    pass


def _saved_model(path: str | None, cache_dir: str | None, **kwargs):
  """Any SavedModel with a `features` function (fid.saved_model): a
  Frechet distance in its feature space, which is not the FID."""
  del cache_dir  # No graph to cache; no sFID features.
  if not path:
    raise ValueError(
      "--extractor=savedmodel needs --inception=DIR: a "
      "SavedModel with a `features` function"
    )
  # Its errors before the warning.
  extractor = SavedModelExtractor(path, strategy=kwargs.get("strategy"))
  warnings.warn(
    f"fid: {path} is not the 2015 Inception graph: its "
    "distances are not FIDs and cannot be compared with "
    "published ones",
    FIDWarning,
    stacklevel=3,
  )
  extractor.kind, extractor.graph_md5 = "savedmodel", None
  return extractor


def _dinov2(path: str | None, cache_dir: str | None, **kwargs):
  """FD_DINOv2's extractor (fid.dinov2): path names the weights, a
  keras-hub preset or a local folder (default dinov2_large)."""
  del cache_dir  # keras-hub keeps its own cache.
  from fid import dinov2

  return dinov2.make_extractor(path, kwargs.get("strategy"))


def _clip(path: str | None, cache_dir: str | None, **kwargs):
  """CMMD's extractor (fid.clip): path names the weights, a keras-hub
  preset or a local folder (default clip_vit_large_patch14_336)."""
  del cache_dir  # keras-hub keeps its own cache.
  from fid import clip

  return clip.make_extractor(path, kwargs.get("strategy"))


# name -> the extractor over the 2015 graph's GraphDef; or, for the names
# of FROM_PATH, a function (path, cache_dir, **kwargs) -> extractor.
EXTRACTORS = {"fast": FastExtractor, "reference": ReferenceExtractor}
FROM_PATH = {"savedmodel": _saved_model, "dinov2": _dinov2, "clip": _clip}
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
  extractor = EXTRACTORS[kind](graph.load_graph_def(pb_path), **kwargs)
  # What statistics made with it record (fid.provenance).
  extractor.kind, extractor.graph_md5 = kind, md5
  return extractor


def batches(images, batch_size: int) -> Iterable[np.ndarray]:
  for start in range(0, len(images), batch_size):
    yield images[start : start + batch_size]
