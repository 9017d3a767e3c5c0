"""A feature extractor from any SavedModel, for Frechet distances in another
feature space than Inception's (which is what the FID is, and stays the
default everywhere).

The SavedModel needs a signature taking float32 `images` [n, H, W, 3] in
[0, 255] and returning `features` [n, d] (and optionally `logits`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fid.errors import first_line
from fid.exact import float32_exact
from fid.files import saved_model_problem


class SavedModelExtractor:
  """images -> (features float64 [n, d], logits [n, k] or [n, 0]); with
  a tf.distribute strategy, loaded under it and run across its replicas
  (per_replica)."""

  def __init__(
    self,
    path: str,
    signature: str = "features",
    strategy: tf.distribute.Strategy | None = None,
  ):
    problem = saved_model_problem(path)
    if problem:
      raise FileNotFoundError(f"{path}: {problem}")
    self.strategy = strategy or tf.distribute.get_strategy()
    try:
      with self.strategy.scope():
        self._module = tf.saved_model.load(path)
    except (ValueError, tf.errors.OpError) as e:
      raise ValueError(
        f"{path}: cannot load the SavedModel ({first_line(e)})"
      ) from None
    self._fn = getattr(self._module, signature, None)
    if self._fn is None:
      raise ValueError(f"{path} has no `{signature}` function")
    probe = self._fn(tf.zeros([1, 8, 8, 3], tf.float32))
    if "features" not in probe:
      raise ValueError(f"{path}: `{signature}` returns no `features`")
    self.feature_dim = int(probe["features"].shape[-1])
    self._has_logits = "logits" in probe

  def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
    with float32_exact():
      out = self._fn(tf.convert_to_tensor(np.asarray(images, np.float32)))
    return self._result(out)

  def per_replica(self, images) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batch split across the strategy's replicas: one result each
    (fid.exact.replica_outputs)."""
    from fid.exact import replica_outputs

    keys = ("features", "logits") if self._has_logits else ("features",)
    outs = replica_outputs(
      self.strategy,
      lambda x: tuple(self._fn(x)[k] for k in keys),
      np.asarray(images, np.float32),
    )
    return [self._result(dict(zip(keys, out))) for out in outs]

  def _result(self, out) -> tuple[np.ndarray, np.ndarray]:
    features = out["features"].numpy().astype(np.float64)
    logits = (
      out["logits"].numpy()
      if "logits" in out
      else np.zeros((len(features), 0), np.float32)
    )
    return features, logits
