"""The registry of what a run measures while it trains: EVALS = {name: Eval},
as data.

An entry declares an evaluation once: its name (its flags are
`--<name>_every`, `--<name>_samples` and its own), the modality it applies
to, the values it writes to metrics.jsonl (the lowest of each is the run's
best: TensorBoard's `best/` tags and the HParams metrics), and what the
exported generator's model.json says about its last value. The config
makes its flags from the entries (tf_ttur.config.EvaluationSettings), a
text model refuses an image evaluation by the entry's modality, the
summaries and export read it, and tf_ttur.evaluators.BUILDERS[name] builds
the evaluator a run calls.

Adding a metric (docs/design.md, "Add a metric"): an entry here and a
builder in tf_ttur.evaluators.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import os
from typing import Any

from fid.architecture import EXTRACTOR_KINDS
from tf_ttur.flags import Flag

# saved_models/shapes_classifier of this repository (tf_ttur.quality): beside
# the package in a checkout or an editable install, else under the current
# folder (an installed package run from a checkout).
_BESIDE_PACKAGE = os.path.join(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
  "saved_models",
  "shapes_classifier",
)
DEFAULT_QUALITY_MODEL = (
  _BESIDE_PACKAGE
  if os.path.isdir(_BESIDE_PACKAGE)
  else os.path.join("saved_models", "shapes_classifier")
)


@dataclasses.dataclass(frozen=True)
class Eval:
  """An evaluation during training.

  Attributes:
    name: the flags' prefix: --<name>_every and --<name>_samples.
    modality: the tf_ttur.modalities name it applies to.
    what: what it is, for the --<name>_every help.
    samples: (default, help) of --<name>_samples.
    values: the keys it writes into a metrics record; the run's best of
      each is its lowest, or its highest for those in `maximize`.
    maximize: the values for which higher is better (an Inception Score,
      a precision); every consumer of a best (best/ tags, HParams, the
      closing summary, compare's and sweep's paper statistic) asks
      `direction`.
    flags: its other flags, {name: Flag}.
    model_info: the model.json key that names its last value (and the
      value's step and sample count), or None.
    about: settings (the config's evaluation part) -> what model.json adds
      about how that value was measured.
    needs: what it reads from outside the run, each a piece that
      `--mode=prepare` checks and fetches and training checks first:
      "reference_statistics" (--fid_stats), "inception_graph" (the 2015
      graph, --fid_inception), "quality_model" (the shapes classifier),
      "dinov2_weights" and "clip_weights" (keras-hub backbones).
  """

  name: str
  modality: str
  what: str
  samples: tuple[int, str]
  values: tuple[str, ...]
  flags: dict[str, Flag] = dataclasses.field(default_factory=dict)
  maximize: tuple[str, ...] = ()
  model_info: str | None = None
  about: Callable[[Any], dict] = lambda settings: {}
  needs: tuple[str, ...] = ()

  def all_flags(self) -> dict[str, Flag]:
    """{flag name: Flag}: --<name>_every, --<name>_samples, then its own."""
    return {
      f"{self.name}_every": Flag(
        0,
        f"Steps between evaluations of {self.what}; 0: off.",
        rule="off_or_positive",
        multiple_of="log_every",
      ),
      f"{self.name}_samples": Flag(*self.samples, rule="positive"),
      **self.flags,
    }


def clip_weights(settings) -> str:
  """The CLIP weights a run's CMMD uses (--cmmd_weights or keras-hub's
  clip_vit_large_patch14_336)."""
  from fid.clip import DEFAULT_WEIGHTS

  return settings.cmmd_weights or DEFAULT_WEIGHTS


def dinov2_weights(settings) -> str:
  """The DINOv2 weights a run's FD_DINOv2 uses (--fd_dinov2_weights or
  keras-hub's dinov2_large)."""
  from fid.dinov2 import DEFAULT_WEIGHTS

  return settings.fd_dinov2_weights or DEFAULT_WEIGHTS


def quality_model_path(settings) -> str:
  """The fd_shapes classifier a run uses (--quality_model or the shipped
  one)."""
  return settings.quality_model or DEFAULT_QUALITY_MODEL


EVALS: dict[str, Eval] = {
  entry.name: entry
  for entry in (
    Eval(
      "fid",
      "image",
      "the FID (docs/paper.md A.3)",
      (50_000, "Generated samples per FID."),
      ("fid",),
      flags={
        "fid_stats": Flag(
          None,
          "Reference statistics (.npz, mu/sigma): python -m "
          "fid DATA --save_stats X.npz, or TTUR's published "
          "fid_stats_*.npz.",
        ),
        "fid_inception": Flag(
          None,
          "classify_image_graph_def.pb or the .tgz "
          "(default: the fid package's cache, downloaded on first "
          "use); also KID's.",
        ),
        "fid_extractor": Flag(
          "fast",
          "Inception path: the Keras port or the graph itself; also KID's.",
          tuple(kind.name for kind in EXTRACTOR_KINDS.values() if kind.is_fid),
        ),
        "fid_batch_size": Flag(
          100, "Inception batch size; also KID's.", rule="positive"
        ),
      },
      model_info="fid",
      about=lambda s: {"reference_stats": os.path.basename(s.fid_stats or "")},
      needs=("reference_statistics", "inception_graph"),
    ),
    Eval(
      "kid",
      "image",
      "the KID (Binkowski et al. 2018: the unbiased MMD^2 of the "
      "Inception pool_3 features, cubic polynomial kernel, averaged "
      "over --kid_subsets subsets), against as many training images, "
      "drawn once; unbiased at small sample counts, so a CPU run "
      "can afford it",
      (1000, "Generated (and real) samples per KID."),
      ("kid",),
      flags={
        "kid_subset_size": Flag(
          1000,
          "Samples per KID subset (at most --kid_samples).",
          rule="positive",
        ),
        "kid_subsets": Flag(
          100, "Random subsets averaged per KID.", rule="positive"
        ),
      },
      model_info="kid",
      about=lambda s: {
        "reference": "training images",
        "subset_size": min(s.kid_subset_size, s.kid_samples),
        "subsets": s.kid_subsets,
      },
      needs=("inception_graph",),
    ),
    Eval(
      "quality",
      "image",
      "fd_shapes, the Frechet distance in the shapes classifier's "
      "feature space (offline; NOT the FID)",
      (2000, "Generated (and real) samples per fd_shapes value."),
      ("fd_shapes",),
      flags={
        "quality_model": Flag(
          "",
          "The classifier SavedModel (default: saved_models/"
          "shapes_classifier).",
        )
      },
      model_info="quality",
      about=lambda s: {
        "feature_model": os.path.basename(quality_model_path(s).rstrip("/"))
      },
      needs=("quality_model",),
    ),
    Eval(
      "fd_dinov2",
      "image",
      "FD_DINOv2 (Stein et al. 2023: the Frechet distance in DINOv2 "
      "ViT-L/14 features by dgm-eval's protocol, fid.dinov2; NOT the "
      "FID), against as many training images, drawn once",
      (5000, "Generated (and real) samples per FD_DINOv2."),
      ("fd_dinov2",),
      flags={
        "fd_dinov2_weights": Flag(
          "",
          "DINOv2's weights: a keras-hub preset (default dinov2_large, "
          "ViT-L/14) or a local folder (keras-hub preset or Hugging "
          "Face save_pretrained).",
        )
      },
      model_info="fd_dinov2",
      about=lambda s: {
        "reference": "training images",
        "protocol": "dgm-eval",
        "weights": dinov2_weights(s),
      },
      needs=("dinov2_weights",),
    ),
    Eval(
      "cmmd",
      "image",
      "CMMD (Jayasumana et al. 2024: the MMD of CLIP ViT-L/14@336 "
      "embeddings by google-research cmmd's protocol, fid.clip; NOT the "
      "FID), against as many training images, drawn once",
      (5000, "Generated (and real) samples per CMMD."),
      ("cmmd",),
      flags={
        "cmmd_weights": Flag(
          "",
          "CLIP's weights: a keras-hub preset (default "
          "clip_vit_large_patch14_336) or a local folder (keras-hub "
          "preset or Hugging Face CLIPModel save_pretrained).",
        )
      },
      model_info="cmmd",
      about=lambda s: {
        "reference": "training images",
        "protocol": "google-research cmmd",
        "weights": clip_weights(s),
      },
      needs=("clip_weights",),
    ),
    Eval(
      "jsd",
      "text",
      "the n-gram JSD (docs/paper.md A.4)",
      (
        640,
        "Generated lines per JSD (640 in the paper; the values depend on it).",
      ),
      ("jsd_4", "jsd_6"),
      model_info="jsd",
    ),
  )
}


def best_values() -> tuple[str, ...]:
  """Every value an evaluation writes, whose best is a run's best
  (TensorBoard's best/ tags)."""
  return tuple(value for entry in EVALS.values() for value in entry.values)


def direction(value: str) -> str:
  """ "min" when the lowest `value` is the best, "max" when the highest is
  (its entry's `maximize`)."""
  for entry in EVALS.values():
    if value in entry.values:
      return "max" if value in entry.maximize else "min"
  raise KeyError(f"no evaluation writes {value!r}")


def best(value: str, *candidates: float) -> float:
  """The best of these numbers of `value`, by its direction."""
  return (max if direction(value) == "max" else min)(candidates)


def best_word(value: str) -> str:
  """ "lowest" or "highest": what the best of `value` is, for messages."""
  return "highest" if direction(value) == "max" else "lowest"


def needed(settings) -> set[str]:
  """The pieces from outside the run that its evaluations read."""
  return {piece for entry in enabled(settings) for piece in entry.needs}


def enabled(settings) -> list[Eval]:
  """The evaluations a config's evaluation part turns on."""
  return [
    entry
    for entry in EVALS.values()
    if getattr(settings, f"{entry.name}_every")
  ]
