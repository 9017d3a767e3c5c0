"""The evaluators of a run, one per tf_ttur.evals entry (BUILDERS builds
each by its name), and the run's evaluation schedule.

An evaluator (the `Evaluator` protocol) is called with the model and the
step and returns {value: number} holding its entry's values; `samples`
says how many samples it drew and `line(values)` is its log line:

- FID, measured the paper's way through the fid package: `fid_samples`
  samples from the generator, in batches, mapped to [0, 255] as the
  original did for that family (DCGAN kept floats, WGAN-GP truncated to
  uint8, BEGAN clipped), through the Inception graph, against the
  reference statistics (keep_best: the callback exports the best
  generator so far to saved_model_best/);
- KID, the unbiased kernel distance on the same Inception features,
  against training images, and CMMD, cmmd's kernel distance of CLIP
  embeddings (tf_ttur.kernel_evaluators);
- fd_shapes, the same distance in the offline shapes classifier's space;
- JSD, the paper's n-gram measure of the language model.

tf_ttur.evaluation's callback runs them.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

import fid
from fid import frechet
from tf_ttur import evals
from tf_ttur.config import Config
from tf_ttur.data import noise
from tf_ttur.generated import real_batches
from tf_ttur.generated import samples_of
from tf_ttur.kernel_evaluators import CMMDEvaluator
from tf_ttur.kernel_evaluators import KIDEvaluator

# The offline measure's name in metrics.jsonl and TensorBoard; never "fid".
METRIC = "fd_shapes"


class Evaluator(Protocol):
  """What the Evaluation callback calls; BUILDERS makes one per
  tf_ttur.evals entry (tests/test_families.py runs each on a stub model).

  name: its entry's name; samples: recorded as `<name>_samples`;
  keep_best: its `value` exports the best generator (the FID); stop: set
  by the callback, a signal check between batches; calling it returns at
  least its entry's `values`; line: the log line of those values.
  """

  name: str
  samples: int
  keep_best: bool
  stop: Callable[[], bool]

  def __call__(self, model, step: int = 0) -> dict[str, float]: ...

  def line(self, values: dict[str, float]) -> str: ...


def check_values(evaluator: Evaluator, values: dict[str, float]) -> None:
  """The values an evaluator returned hold its entry's declared ones."""
  declared = evals.EVALS[evaluator.name].values
  missing = [name for name in declared if name not in values]
  if missing:
    raise TypeError(
      f"the {evaluator.name} evaluator returned "
      f"{sorted(values)}, without its declared "
      f"{', '.join(missing)} (tf_ttur.evals)"
    )


class FrechetEvaluator:
  """A Frechet distance of generated samples against reference statistics,
  in the feature space of `extractor` (the FID with the Inception one).

  name: its tf_ttur.evals entry (the record's `<name>_samples`); value:
  the key of the distance in the record; label: the log line's word.
  """

  name = value = label = "fid"
  keep_best = False  # FIDEvaluator: the lowest exports the generator.
  stop = staticmethod(lambda: False)  # Evaluation sets its own.

  def __init__(
    self,
    extractor,
    mu: np.ndarray,
    sigma: np.ndarray,
    samples: int,
    batch_size: int,
    pixels: str,
    seed: int,
  ):
    self.extractor = extractor
    self.mu, self.sigma = mu, sigma
    self.samples = samples
    self.batch_size = batch_size
    self.pixels = pixels
    self.seed = seed

  def __call__(self, model, step: int = 0) -> dict[str, float]:
    """{value: the distance} of model's generator over `samples` fresh
    samples (z from the seed (seed, step))."""
    stats = fid.run_pass(samples_of(self, model, step), self.extractor)
    return {
      self.value: frechet.calculate_frechet_distance(
        stats.mu, stats.sigma, self.mu, self.sigma
      )
    }

  def line(self, values: dict[str, float]) -> str:
    return f"{self.label} {values[self.value]:.4f} ({self.samples} samples)"


class FIDEvaluator(FrechetEvaluator):
  """The FID: the Inception extractor and the reference statistics file."""

  label = "FID"
  keep_best = True

  def __init__(
    self,
    config: Config,
    pixels: str,
    strategy: tf.distribute.Strategy | None = None,
  ):
    settings = config.evaluation
    mu, sigma = fid.load_stats(settings.fid_stats)
    # The feature pass over several local replicas (the reference extractor
    # imports the graph once per device).
    extractor = fid.make_extractor(
      settings.fid_extractor,
      settings.fid_inception,
      flag="--fid_inception",
      **({"strategy": strategy} if strategy is not None else {}),
    )
    super().__init__(
      extractor,
      mu,
      sigma,
      settings.fid_samples,
      settings.fid_batch_size,
      pixels,
      config.run.seed,
    )


def _against_training_images(
  evaluator: FrechetEvaluator,
  config: Config,
  extractor,
  real_images: tf.data.Dataset,
  samples: int,
  pixels: str,
  batch_size: int = 500,
) -> None:
  """Initializes a FrechetEvaluator whose reference statistics are those
  of the first `samples` training images, in `extractor`'s features."""
  reference = fid.run_pass(
    real_batches(real_images, samples, batch_size), extractor
  )
  FrechetEvaluator.__init__(
    evaluator,
    extractor,
    reference.mu,
    reference.sigma,
    samples,
    batch_size,
    pixels,
    config.run.seed,
  )


class ShapesEvaluator(FrechetEvaluator):
  """The offline measure (tf_ttur.quality): the Frechet distance in the
  shapes classifier's feature space, against the training images'
  statistics. Logged as `fd_shapes`, never as the FID."""

  name = "quality"
  value = label = METRIC

  def __init__(self, config: Config, pixels: str, real_images: tf.data.Dataset):
    from fid.saved_model import SavedModelExtractor

    extractor = SavedModelExtractor(evals.quality_model_path(config.evaluation))
    samples = config.evaluation.quality_samples
    _against_training_images(
      self, config, extractor, real_images, samples, pixels
    )


class DinoV2Evaluator(FrechetEvaluator):
  """FD_DINOv2 during training (fid.dinov2: dgm-eval's protocol): the
  Frechet distance in DINOv2's CLS features of `fd_dinov2_samples`
  generated images against as many training images, drawn once. Logged as
  `fd_dinov2`, never as the FID."""

  name = value = "fd_dinov2"
  label = "FD_DINOv2"

  def __init__(
    self,
    config: Config,
    pixels: str,
    real_images: tf.data.Dataset,
    strategy: tf.distribute.Strategy | None = None,
  ):
    from fid import dinov2

    settings = config.evaluation
    # Across the local replicas, as the FID's fast extractor.
    weights = evals.dinov2_weights(settings)
    extractor = dinov2.make_extractor(weights, strategy)
    # A ViT-L/14 batch is 16 images of 224x224.
    samples = settings.fd_dinov2_samples
    _against_training_images(
      self, config, extractor, real_images, samples, pixels, batch_size=16
    )


class JSDEvaluator:
  """The paper's language metric (docs/paper.md A.4): `jsd_samples` lines
  (640 in the paper) generated from fresh z, decoded by argmax, against the
  corpus's n-gram models for n = 1..6, computed once per corpus and cached
  on disk (jsd.py)."""

  name = "jsd"
  keep_best = False
  stop = staticmethod(lambda: False)  # One batch of lines: nothing to stop.

  def __init__(self, padded_lines, vocab, config: Config):
    from tf_ttur import jsd

    # The reference sees lines as the model does: unknown characters mapped.
    known = [vocab.decode(vocab.encode(line)) for line in padded_lines]
    self.reference = jsd.cached_reference(known)
    self.vocab = vocab
    self.samples = config.evaluation.jsd_samples
    self.seed = config.run.seed

  def generated_lines(self, model, step: int) -> list[list[str]]:
    rng = np.random.default_rng([self.seed, step])
    z = noise.draw_z(rng, self.samples, model.z_dim, model.z_distribution)
    probs = keras.ops.convert_to_numpy(model.generator(z))
    return [self.vocab.decode(row) for row in probs.argmax(-1)]

  def __call__(self, model, step: int = 0) -> dict[str, float]:
    values = self.reference.jsd(self.generated_lines(model, step))
    return {f"jsd_{n}": v for n, v in values.items()}

  def line(self, values: dict[str, float]) -> str:
    return f"JSD 4-gram {values['jsd_4']:.4f} 6-gram {values['jsd_6']:.4f}"


# The evaluators of a run: [(every N steps, a function building the
# evaluator)], built by the chief only (tf_ttur.train).
Schedule = list[tuple[int, Callable[[], Evaluator]]]


def _training_images(config: Config) -> tf.data.Dataset:
  from tf_ttur.data import images

  return images.load_images(
    config.data.dataset, config.data.image_size, data_dir=config.data.data_dir
  )


# tf_ttur.evals' name -> (config, the run's data, the FID's strategy) ->
# the evaluator, which returns the entry's values.
BUILDERS: dict[str, Callable[..., Evaluator]] = {
  "fid": lambda config, data, strategy: FIDEvaluator(
    config, config.family.fid_pixels, strategy=strategy
  ),
  "kid": lambda config, data, strategy: KIDEvaluator(
    config, config.family.fid_pixels, _training_images(config)
  ),
  "cmmd": lambda config, data, strategy: CMMDEvaluator(
    config, config.family.fid_pixels, _training_images(config), strategy
  ),
  "quality": lambda config, data, strategy: ShapesEvaluator(
    config, config.family.fid_pixels, _training_images(config)
  ),
  "fd_dinov2": lambda config, data, strategy: DinoV2Evaluator(
    config, config.family.fid_pixels, _training_images(config), strategy
  ),
  "jsd": lambda config, data, strategy: JSDEvaluator(
    data.lines, data.vocabulary, config
  ),
}


def schedule(config: Config, data, fid_strategy=None) -> Schedule:
  """The evaluations config turns on (tf_ttur.evals), each with its
  --<name>_every; the config's validation has checked their modality."""
  return [
    (
      getattr(config.evaluation, f"{entry.name}_every"),
      functools.partial(BUILDERS[entry.name], config, data, fid_strategy),
    )
    for entry in evals.enabled(config.evaluation)
  ]
