"""What the keras-hub extractors share (FD_DINOv2's fid.dinov2, CMMD's
fid.clip): where a preset's weights lie, and the extractor that runs a
backbone's function on one device or across a strategy's replicas."""

from __future__ import annotations

from collections.abc import Callable
import os

import numpy as np


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
