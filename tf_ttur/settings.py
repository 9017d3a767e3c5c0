"""The eight parts of a run's configuration (tf_ttur.config.Config), one
frozen dataclass each. Each field is a flag of `python -m tf_ttur.main`
of the same name; its default, help and rule (tf_ttur.flags.Flag) are
written once, on the field; `define_flags` defines them all. The
evaluation part is made from the evaluations' declarations
(tf_ttur.evals)."""

from __future__ import annotations

import dataclasses
from typing import Any

from tf_ttur import evals
from tf_ttur import flags as flag_tools
from tf_ttur.families import CRITIC_FLATTENS
from tf_ttur.families import FAMILIES
from tf_ttur.flags import count
from tf_ttur.flags import every
from tf_ttur.flags import flag
from tf_ttur.flags import off
from tf_ttur.flags import rate

KT_UPDATES = ("step", "original")


@dataclasses.dataclass(frozen=True)
class RunSettings:
  """What to do, where, and from which seed."""

  mode: str = flag(
    "train",
    "train: train (resuming from the run directory); prepare: "
    "check (and with internet fetch) the dataset, reference statistics "
    "and Inception graph the run needs, listing every missing piece with "
    "how to get it; dry_run: print the resolved config and exit; export: "
    "export the generator of the latest checkpoint.",
    ("train", "prepare", "dry_run", "export"),
  )
  workdir: str = flag(
    "runs/default",
    "Run directory; rerunning resumes from its newest readable checkpoint.",
  )
  restart: bool = flag(
    False,
    "Move the run directory aside (to WORKDIR.old-TIME, nothing is "
    "deleted) and start a new run in it.",
  )
  seed: int = flag(0, "Seed of weights, noise and data order.")


@dataclasses.dataclass(frozen=True)
class DataSettings:
  """The training data."""

  dataset: str = flag(
    "shapes",
    "shapes (offline, generated), svhn_cropped, cifar10, "
    "celeb_a, lsun/bedroom, tfds:NAME[:SPLIT], folder:PATH, lmdb:PATH "
    "(LSUN's LMDB export), or celeba:PATH (CelebA's aligned images, "
    "folder or zip); for --model=language: english (offline, shipped), "
    "lm1b, or textfile:PATH (fid.datasources).",
  )
  data_dir: str | None = flag(None, "TFDS data directory (default: TFDS's).")
  image_size: int = flag(32, "Image side: 32 or 64.")
  shuffle_buffer: int = count(10_000, "tf.data shuffle buffer.")
  cache_mb: int = off(
    4096,
    "Cache the decoded, resized images in memory when they take at "
    "most this many MB (CelebA-64: 2,500; LSUN Bedroom: 37,000); 0: never.",
  )
  max_lines: int = count(
    10_000_000,
    "Text lines read, in order, from the corpus (the "
    "language model, docs/paper.md A.4).",
  )


@dataclasses.dataclass(frozen=True)
class NetworkSettings:
  """The GAN family and its networks' sizes."""

  model: str = flag(
    "dcgan", f"Network family (tf_ttur.families): {', '.join(FAMILIES)}."
  )
  z_dim: int = count(100, "Latent dimension.")
  width: int = count(64, "Base width (gf = df = 64 in the paper).")
  critic_flatten: str = flag(
    "per_sample",
    "WGAN-GP at 32x32: original (the paper's CIFAR-10 "
    "critic, whose reshape to 4*4*8w merges 4 samples into one critic "
    "value; --batch_size a multiple of 4) or per_sample (one value per "
    "sample). The same network at 64x64; no effect on other models.",
    CRITIC_FLATTENS,
  )


@dataclasses.dataclass(frozen=True)
class OptimizationSettings:
  """TTUR: one Adam per network, and the batches they see."""

  d_lr: float = rate(1e-4, "Discriminator learning rate (b).")
  g_lr: float = rate(5e-4, "Generator learning rate (a).")
  beta_1: float = flag(0.5, "Adam beta_1 of both optimizers.", rule="unit")
  beta_2: float = flag(0.999, "Adam beta_2 of both optimizers.", rule="unit")
  adam_epsilon: float = rate(1e-8, "Adam epsilon (TF1's default).")
  n_critic: int = count(1, "Discriminator updates per generator update.")
  lr_halve_every: int = off(
    0,
    "Halve both learning rates every N updates (BEGAN: 100000); 0: "
    "constant, as DCGAN and WGAN-GP.",
  )
  batch_size: int = count(64, "Batch size per update.")
  extra_g_passes: int = off(
    0,
    "A quirk of the original DCGAN, for the paper flagfiles (2): "
    "training-mode generator passes after its update that move its "
    "batch-norm averages (the original's two loss evaluations for "
    "logging, docs/paper.md A.3.1). They see the same weights and z, so "
    "one pass is run and the averages are moved N times in closed form. "
    "0: off (user runs).",
  )
  kt_update: str = flag(
    "step",
    "BEGAN's k_t. step: from the step's own L(x) and L(G(z)), at "
    "no cost (user runs); original: after the update, from a second "
    "forward pass on a new real batch and z with the updated weights, as "
    "the original's second session.run (the BEGAN paper flagfiles; 1 G "
    "and 2 D forwards more a step, docs/measurements.md).",
    KT_UPDATES,
  )


@dataclasses.dataclass(frozen=True)
class ScheduleSettings:
  """How long, and what happens every so many steps."""

  train_steps: int = count(
    100_000,
    "Generator updates in total (any "
    "number: a last short interval is logged too).",
  )
  log_every: int = count(100, "Steps between log lines and metrics.")
  checkpoint_every: int = every(1000, "Steps between checkpoints.")
  sample_every: int = every(1000, "Steps between sample grids.")
  keep_checkpoints: int = count(3, "Checkpoints kept.")
  grid_size: int = count(8, "Sample grids are grid_size^2 images.")


def _evaluation_fields() -> list[tuple[str, str, Any]]:
  return [
    (
      name,
      type(spec.default).__name__ if spec.default is not None else "str | None",
      flag_tools.field(spec),
    )
    for entry in evals.EVALS.values()
    for name, spec in entry.all_flags().items()
  ]


# FID (docs/paper.md A.3), KID, the offline fd_shapes (not the FID) and the
# language model's n-gram JSD (A.4), during training: one flag set per
# tf_ttur.evals entry.
EvaluationSettings = dataclasses.make_dataclass(
  "EvaluationSettings", _evaluation_fields(), frozen=True
)


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
  """Where and how fast: precision, XLA, devices; and what a NaN does."""

  precision: str = flag(
    "auto",
    "auto: mixed_bfloat16 on GPUs of compute capability 8.0+ and "
    "on CPUs with native bfloat16 (AVX512_BF16, AMX-BF16), mixed_float16 "
    "with loss scaling on older GPUs, float32 elsewhere. A resumed run "
    "keeps the precision its config.json records unless this flag names "
    "another; checkpoints move between precisions.",
    ("auto", "float32", "mixed_float16", "mixed_bfloat16"),
  )
  tf32: str = flag(
    "auto",
    "TensorFloat-32 matmuls and convolutions in training on "
    "Ampere and later GPUs. auto: TensorFlow's default (on); false: exact "
    "float32, as the paper's 2017 GPUs (the paper flagfiles). The FID is "
    "always computed without.",
    ("auto", "true", "false"),
  )
  jit_compile: str = flag(
    "auto",
    "XLA for the train step. auto: on for GPUs, off on CPU (11x "
    "slower there, docs/paper.md C).",
    ("auto", "true", "false"),
  )
  strategy: str = flag(
    "default",
    "tf.distribute: default (one device), mirrored (all local "
    "GPUs), multi_worker (TF_CONFIG).",
    ("default", "mirrored", "multi_worker"),
  )
  cpu_replicas: int = off(
    0,
    "Split the CPU into this many logical devices, so that "
    "--strategy=mirrored runs without GPUs (to check the distributed "
    "logic on CPU; no faster). 0: no split.",
  )
  on_nonfinite: str = flag(
    "stop",
    "A NaN or infinite loss: stop (exit 3, the last good "
    "checkpoint kept) or restore the last checkpoint and continue with a "
    "fresh noise seed (at most 3 times).",
    ("stop", "restore"),
  )
  debug_nan_at_step: int = off(
    0, "Test hook: make the losses of this step NaN once. 0: off."
  )


@dataclasses.dataclass(frozen=True)
class OutputSettings:
  """The exported generator."""

  export: bool = flag(True, "Export the generator when training ends.")
  export_dtype: str = flag(
    "float32",
    "The serving graph's precision, whatever precision trained "
    "the weights (bfloat16, float16: Keras mixed precision, the last "
    "layer in float32).",
    ("float32", "bfloat16", "float16"),
  )
  tflite: bool = flag(
    False,
    "Also write generator.tflite (serving_default, TFLite built-in "
    "ops) into the exported SavedModel folder, checked against it (image "
    "generators, float32).",
  )


# Config's parts, in the order of --helpfull and config.json.
PARTS = {
  "run": RunSettings,
  "data": DataSettings,
  "network": NetworkSettings,
  "optimization": OptimizationSettings,
  "schedule": ScheduleSettings,
  "evaluation": EvaluationSettings,
  "runtime": RuntimeSettings,
  "output": OutputSettings,
}
# Flag name -> the part that holds it (flag names are unique across parts).
PART_OF = {
  field.name: part
  for part, cls in PARTS.items()
  for field in dataclasses.fields(cls)
}


def define_flags(flag_values):
  """Defines every flag of python -m tf_ttur.main on flag_values (absl's
  FLAGS for the program), each from its field; returns flag_values."""
  for cls in PARTS.values():
    flag_tools.define_fields(cls, flag_values)
  return flag_values
