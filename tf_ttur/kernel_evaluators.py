"""The evaluators whose distance is a kernel's over every feature of both
sets (so they keep them, not a mean and covariance): the KID on the
Inception features, and CMMD on CLIP's embeddings (fid.clip, cmmd's
protocol). tf_ttur.evaluators.BUILDERS builds them."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import fid
from fid import metrics as fid_metrics
from tf_ttur import evals
from tf_ttur.config import Config
from tf_ttur.generated import Abandoned
from tf_ttur.generated import real_batches
from tf_ttur.generated import samples_of


class KIDEvaluator:
  """The KID (Binkowski et al. 2018; fid.metrics): the unbiased MMD^2 with
  the cubic polynomial kernel between the Inception pool_3 features of
  `kid_samples` generated images and as many training images (drawn once,
  at the start), averaged over `kid_subsets` random subsets of
  `kid_subset_size`. Unbiased, so small sample counts are affordable; it
  can be negative when the two sets are close."""

  name = "kid"
  keep_best = False
  stop = staticmethod(lambda: False)

  def __init__(self, config: Config, pixels: str, real_images: tf.data.Dataset):
    settings = config.evaluation
    self.extractor = fid.make_extractor(
      settings.fid_extractor, settings.fid_inception, flag="--fid_inception"
    )
    self.samples = settings.kid_samples
    self.subset_size = settings.kid_subset_size
    self.subsets = settings.kid_subsets
    self.batch_size = settings.fid_batch_size
    self.pixels = pixels
    self.seed = config.run.seed
    self.reference = self._features(
      real_batches(real_images, self.samples, self.batch_size)
    )
    if len(self.reference) < 2:
      raise ValueError(
        f"KID needs at least 2 training images, the dataset "
        f"has {len(self.reference)}"
      )

  def _features(self, batches) -> np.ndarray:
    return np.concatenate([self.extractor(batch)[0] for batch in batches])

  def __call__(self, model, step: int = 0) -> dict[str, float]:
    features = self._features(samples_of(self, model, step))

    def before_subset():
      if self.stop():  # Any --kid_subsets hears a signal within a subset.
        raise Abandoned

    mean, std = fid_metrics.kernel_inception_distance(
      features,
      self.reference,
      subsets=self.subsets,
      subset_size=self.subset_size,
      seed=self.seed,
      before_subset=before_subset,
    )
    # What the subsets were drawn from (a small folder has fewer training
    # images than --kid_samples).
    self.counts = (len(features), len(self.reference))
    return {"kid": mean, "kid_std": std}

  def line(self, values: dict[str, float]) -> str:
    generated, real = getattr(self, "counts", (self.samples, self.samples))
    return (
      f"KID {values['kid']:.6f} +- {values['kid_std']:.6f} "
      f"({generated} generated, {real} training images)"
    )


class CMMDEvaluator:
  """CMMD during training (fid.clip: google-research cmmd's protocol): the
  MMD of CLIP ViT-L/14@336 embeddings of `cmmd_samples` generated images
  against as many training images, drawn once. Logged as `cmmd` (lower is
  better)."""

  name = value = "cmmd"
  keep_best = False
  stop = staticmethod(lambda: False)

  def __init__(
    self,
    config: Config,
    pixels: str,
    real_images: tf.data.Dataset,
    strategy: tf.distribute.Strategy | None = None,
  ):
    from fid import clip

    settings = config.evaluation
    # Across the local replicas, as the FID's fast extractor.
    self.extractor = clip.make_extractor(evals.clip_weights(settings), strategy)
    self.samples = settings.cmmd_samples
    self.batch_size = 16  # A ViT-L/14 batch of 336x336 images.
    self.pixels = pixels
    self.seed = config.run.seed
    self.reference = self._embeddings(
      real_batches(real_images, self.samples, self.batch_size)
    )
    if len(self.reference) < 2:
      raise ValueError(
        f"CMMD needs at least 2 training images, the dataset has "
        f"{len(self.reference)}"
      )

  def _embeddings(self, batches) -> np.ndarray:
    return fid.run_pass(batches, self.extractor, keep=True).features

  def __call__(self, model, step: int = 0) -> dict[str, float]:
    from fid import clip

    generated = self._embeddings(samples_of(self, model, step))
    self.counts = (len(generated), len(self.reference))
    return {"cmmd": clip.cmmd(self.reference, generated)}

  def line(self, values: dict[str, float]) -> str:
    generated, real = getattr(self, "counts", (self.samples, self.samples))
    return (
      f"CMMD {values['cmmd']:.4f} ({generated} generated, {real} training "
      "images)"
    )
