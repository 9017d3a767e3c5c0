"""What the keras-hub extractors share (FD_DINOv2's fid.dinov2, CMMD's
fid.clip): where a preset's weights lie, and the extractor that runs a
backbone's function on one device or across a strategy's replicas."""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import dataclasses
import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class Model:
  """A keras-hub model family as its weights are found: its name, the
  error its loader raises, kagglehub's family name, the Hugging Face
  checkpoint to save where keras-hub's preset cannot be fetched, and what
  that folder is called."""

  name: str
  error: type
  family: str
  hf_name: str
  hf_folder: str


def is_local(weights: str) -> bool:
  """Whether `weights` names a folder (a path) rather than a keras-hub
  preset name."""
  return os.sep in weights or os.path.exists(weights)


def kaggle_cache(family: str, preset: str) -> str:
  """Where keras-hub's download of a preset of a model family lies
  (kagglehub's cache: $KAGGLEHUB_CACHE or ~/.cache/kagglehub)."""
  root = os.environ.get("KAGGLEHUB_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "kagglehub"
  )
  return os.path.join(root, "models", "keras", family, "keras", preset)


def fetch_hint(family: str, preset: str, hf_name: str) -> str:
  """How to bring a preset's weights to a machine without internet."""
  return (
    "Where there is no internet: fetch keras-hub's preset where there "
    f'is (python -c "import keras_hub; keras_hub.models.Backbone.'
    f"from_preset('{preset}')\" fills {kaggle_cache(family, preset)}), or "
    f"save Hugging Face's {hf_name} with save_pretrained, copy the folder "
    "here and pass --inception=FOLDER"
  )


def uint8_images(images) -> np.ndarray:
  """images [N, H, W, 3] as the uint8 a file holds them (floats in
  [0, 255] rounded and clipped), for Pillow's resize; ValueError for
  another shape."""
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"expected images [N, H, W, 3], got {images.shape}")
  if images.dtype != np.uint8:
    images = np.clip(np.round(images.astype(np.float64)), 0, 255)
    images = images.astype(np.uint8)
  return images


@contextlib.contextmanager
def loading(model: Model, source: str):
  """Around a loader of `source` (a preset name or a folder): model.error
  with one line saying where to put the weights, for a missing folder
  before the load, and for whatever the load raises (kagglehub, HTTP,
  file formats)."""
  local = is_local(source)
  if local and not os.path.isdir(source):
    raise model.error(
      f"--inception={source}: no such folder ({model.name}'s weights are "
      "a folder: a keras-hub preset, or a Hugging Face save_pretrained "
      f"folder of {model.hf_name})"
    )
  try:
    yield
  except model.error:
    raise
  except Exception as e:  # noqa: BLE001 kagglehub, HTTP, file formats.
    from fid.errors import first_line

    raise model.error(
      f"cannot load {model.name}'s weights {source} ({first_line(e)}). "
      + (
        fetch_hint(model.family, source, model.hf_name)
        if not local
        else f"The folder must hold a keras-hub preset or a Hugging Face "
        f"{model.hf_folder} (config.json, model.safetensors)"
      )
    ) from None


def build(weights: str, load: Callable, make: Callable, strategy=None):
  """make(loaded, source, strategy) of load(source), `weights` named by
  its absolute path where it is a folder (so the provenance says which),
  built under `strategy` where one is given."""
  source = os.path.abspath(weights) if os.path.isdir(weights) else weights
  scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
  with scope:
    loaded = load(source)
  return make(loaded, source, strategy)


class HubExtractor:
  """images [n, H, W, 3] in [0, 255] -> (features float64 [n, D], no
  logits [n, 0]): `preprocess` (numpy, Pillow) then `fn` (a tf.function
  of the backbone, float32 without TF32); across the replicas of
  `strategy` (the one the backbone was built under) by per_replica."""

  kind = ""
  graph_md5 = None

  def __init__(
    self,
    fn: Callable,
    preprocess: Callable[[np.ndarray], np.ndarray],
    feature_dim: int,
    protocol: dict,
    strategy=None,
  ):
    import tensorflow as tf

    # fid.core.run_pass calls per_replica where there are several.
    self.strategy = strategy or tf.distribute.get_strategy()
    self.feature_dim = int(feature_dim)
    self.protocol = protocol
    self._fn = tf.function(fn, reduce_retracing=True)
    self._preprocess = preprocess

  def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    from fid.exact import float32_exact

    x = self._preprocess(images)
    with float32_exact():
      features = self._fn(tf.constant(x)).numpy()
    return features.astype(np.float64), np.zeros((len(x), 0), np.float32)

  def per_replica(self, images) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batch split across the strategy's replicas: one result each."""
    from fid.exact import replica_outputs

    x = self._preprocess(images)
    return [
      (out[0].numpy().astype(np.float64), np.zeros((len(out[0]), 0)))
      for out in replica_outputs(self.strategy, self._fn, x)
    ]

  def close(self) -> None:
    pass
