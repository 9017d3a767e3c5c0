"""One frozen, typed configuration per run, made from the flags.

`Config.from_flags` reads absl FLAGS once (in main.py); everything below it
receives this object. `validate()` runs before anything is written, and the
config is saved as config.json in the run directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from tf_ttur import modalities
from tf_ttur import preflight
from tf_ttur.errors import ConfigError
from tf_ttur.families import FAMILIES
from tf_ttur.families import Family

# saved_models/shapes_classifier of this repository (tf_ttur.quality): beside
# the package in a checkout or an editable install, else under the current
# folder (an installed package run from a checkout).
_BESIDE_PACKAGE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "saved_models", "shapes_classifier")
DEFAULT_QUALITY_MODEL = (
    _BESIDE_PACKAGE if os.path.isdir(_BESIDE_PACKAGE) else
    os.path.join("saved_models", "shapes_classifier"))


CRITIC_FLATTENS = ("original", "per_sample")
# The original WGAN-GP critic's reshape of its last map: 4 * 4 * 8w values
# a row (docs/paper.md A.3.2).
ORIGINAL_FLATTEN_CELLS = 4 * 4


def samples_per_critic_row(image_size: int, critic_flatten: str) -> int:
  """How many samples share one WGAN-GP critic value: 4 for the original's
  flatten at 32x32 (a 2x2 last map), else 1."""
  if critic_flatten not in CRITIC_FLATTENS:
    raise ValueError(f"critic_flatten must be one of {CRITIC_FLATTENS}, "
                     f"got {critic_flatten!r}")
  cells = (image_size // 16) ** 2
  if critic_flatten == "per_sample" or cells >= ORIGINAL_FLATTEN_CELLS:
    return 1
  return ORIGINAL_FLATTEN_CELLS // cells


def _check_tf_config(value: str | None) -> None:
  """ConfigError naming TF_CONFIG unless it describes a cluster and this
  process's task (tf.distribute's format)."""
  if value is None:
    raise ConfigError("--strategy=multi_worker needs the TF_CONFIG "
                      "environment variable (cluster and task)")
  try:
    parsed = json.loads(value)
  except json.JSONDecodeError as e:
    raise ConfigError(f"TF_CONFIG is not JSON ({e.msg} at character "
                      f"{e.pos}): {value[:80]!r}") from None
  if not isinstance(parsed, dict) or not isinstance(
      parsed.get("cluster"), dict) or not isinstance(parsed.get("task"),
                                                     dict):
    raise ConfigError("TF_CONFIG must be a JSON object with \"cluster\" "
                      "(job name -> addresses) and \"task\" (type and "
                      f"index), got {value[:80]!r}")


@dataclasses.dataclass(frozen=True)
class Config:
  """Every setting of a run (see flags.py for the meaning of each)."""
  mode: str = "train"
  workdir: str = "runs/default"
  restart: bool = False
  seed: int = 0
  dataset: str = "shapes"
  data_dir: str | None = None
  image_size: int = 32
  cache_mb: int = 4096
  shuffle_buffer: int = 10_000
  model: str = "dcgan"
  z_dim: int = 100
  width: int = 64
  critic_flatten: str = "per_sample"
  d_lr: float = 1e-4
  g_lr: float = 5e-4
  beta_1: float = 0.5
  beta_2: float = 0.999
  adam_epsilon: float = 1e-8
  n_critic: int = 1
  lr_halve_every: int = 0
  batch_size: int = 64
  train_steps: int = 100_000
  strategy: str = "default"
  cpu_replicas: int = 0
  precision: str = "auto"
  tf32: str = "auto"
  jit_compile: str = "auto"
  log_every: int = 100
  checkpoint_every: int = 1000
  sample_every: int = 1000
  keep_checkpoints: int = 3
  grid_size: int = 8
  export: bool = True
  export_dtype: str = "float32"
  tflite: bool = False
  fid_every: int = 0
  fid_samples: int = 50_000
  fid_stats: str | None = None
  fid_inception: str | None = None
  fid_extractor: str = "fast"
  fid_batch_size: int = 100
  max_lines: int = 10_000_000
  jsd_every: int = 0
  quality_every: int = 0
  quality_samples: int = 2000
  quality_model: str = ""
  on_nonfinite: str = "stop"
  debug_nan_at_step: int = 0
  jsd_samples: int = 640

  @classmethod
  def from_flags(cls, flag_values: Any) -> Config:
    """Builds a Config from absl FlagValues (only fields of this class)."""
    values = {f.name: getattr(flag_values, f.name)
              for f in dataclasses.fields(cls)}
    return cls(**values)

  @classmethod
  def from_args(cls, *args: str) -> Config:
    """The Config of `python -m tf_ttur.main args...` (not validated),
    parsed on a FlagValues of its own (absl's FLAGS is left alone)."""
    from absl import flags

    from tf_ttur import flags as tf_ttur_flags
    flag_values = tf_ttur_flags.define(flags.FlagValues())
    cycle = tf_ttur_flags.flagfile_cycle(["tf_ttur", *args])
    if cycle:
      raise ConfigError(cycle)
    try:
      flag_values(["tf_ttur", *args])
    except flags.Error as e:
      raise ConfigError(str(e)) from None
    return cls.from_flags(flag_values)

  @classmethod
  def from_flagfile(cls, path: str, *overrides: str) -> Config:
    return cls.from_args(f"--flagfile={path}", *overrides)

  def replace(self, **changes: Any) -> Config:
    return dataclasses.replace(self, **changes)

  def validate(self) -> Config:
    """Checks every value; raises ConfigError naming the first bad flag.

    Then the files the run will read and (except for --mode=dry_run) the
    workdir it will write (tf_ttur.preflight), writing nothing.
    """
    self._check_types()
    family = self._check_names()
    self._check_ranges()
    self._check_distribution()
    if family.joint_update and self.n_critic != 1:
      raise ConfigError(f"--model={self.model} updates both networks "
                        "together: --n_critic must be 1")
    if self.fid_every and self.fid_samples < 2:
      raise ConfigError(f"--fid_samples must be at least 2, got "
                        f"{self.fid_samples}")
    self._check_critic_rows()
    if self.quality_every and self.quality_samples < 2:
      raise ConfigError(f"--quality_samples must be at least 2, got "
                        f"{self.quality_samples}")
    for name, choices in (("export_dtype", ("float32", "bfloat16",
                                            "float16")),
                          ("critic_flatten", CRITIC_FLATTENS),
                          ("tf32", ("auto", "true", "false")),
                          ("on_nonfinite", ("stop", "restore"))):
      if getattr(self, name) not in choices:
        raise ConfigError(f"--{name}={getattr(self, name)!r}: use "
                          f"{', '.join(choices)}")
    if self.tflite and self.export_dtype != "float32":
      raise ConfigError("--tflite needs --export_dtype=float32: TFLite's "
                        "built-in kernels compute in float32 (shrink the "
                        "file with TFLite's own quantization instead)")
    if not self.workdir:
      raise ConfigError("--workdir must not be empty")
    self._check_files()
    return self

  def _check_files(self) -> None:
    """The files the run will read, the folder it will write (not for
    --mode=dry_run) and the environment variables it will read."""
    if self.fid_every:
      preflight.check_fid_stats(self.fid_stats)
      if self.fid_inception:
        preflight.check_inception(self.fid_inception)
    if self.quality_every:
      preflight.check_quality_model(self.quality_model_path,
                                    load=self.mode == "train")
    if self.mode != "dry_run":
      preflight.check_writable(self.workdir)
    preflight.check_environment(
        inception_download=bool(self.fid_every and not self.fid_inception),
        jsd=bool(self.jsd_every))

  @property
  def family(self) -> Family:
    """The --model's entry of tf_ttur.families (the name is checked by
    validate())."""
    return FAMILIES[self.model]

  def _check_names(self):
    """--dataset and --model name known things that fit together; returns
    the family (tf_ttur.families) after its modality's own checks."""
    if not any(m.accepts(self.dataset) for m in modalities.MODALITIES):
      raise ConfigError(
          f"--dataset={self.dataset!r} is unknown; choose one of "
          f"{modalities.IMAGES.datasets}, or for --model=language "
          f"{modalities.TEXT.datasets}")
    if self.model not in FAMILIES:
      raise ConfigError(f"--model={self.model!r} is unknown; choose one of "
                        f"{', '.join(sorted(FAMILIES))}")
    family = FAMILIES[self.model]
    if not family.modality.accepts(self.dataset):
      raise ConfigError(
          f"--dataset={self.dataset} does not fit --model={self.model}, "
          f"which takes {family.modality.noun}: {family.modality.datasets}")
    if family.image_sizes and self.image_size not in family.image_sizes:
      raise ConfigError(
          f"--image_size={self.image_size} is not supported by "
          f"--model={self.model}; use one of {family.image_sizes}")
    for flag, why in family.modality.inapplicable:
      if getattr(self, flag):
        raise ConfigError(f"--{flag} {why}")
    return family

  def _check_ranges(self) -> None:
    for name in ("d_lr", "g_lr", "adam_epsilon"):
      value = getattr(self, name)
      if not 0 < value < float("inf"):  # Also rejects NaN.
        raise ConfigError(f"--{name} must be positive and finite, got "
                          f"{value}")
    for name in ("beta_1", "beta_2"):
      value = getattr(self, name)
      if not 0 <= value < 1:
        raise ConfigError(f"--{name} must be in [0, 1), got {value}")
    for name in ("batch_size", "z_dim", "width", "n_critic", "train_steps",
                 "log_every", "checkpoint_every", "sample_every",
                 "keep_checkpoints", "grid_size", "shuffle_buffer",
                 "fid_batch_size", "max_lines", "jsd_samples",
                 "quality_samples"):
      value = getattr(self, name)
      if value < 1:
        raise ConfigError(f"--{name} must be a positive integer, got {value}")
    for name in ("lr_halve_every", "fid_every", "jsd_every", "cache_mb",
                 "cpu_replicas", "quality_every", "debug_nan_at_step"):
      if getattr(self, name) < 0:
        raise ConfigError(f"--{name} must be 0 (off) or positive, got "
                          f"{getattr(self, name)}")
    for name in ("train_steps", "checkpoint_every", "sample_every",
                 "fid_every", "jsd_every", "quality_every"):
      value = getattr(self, name)
      if value % self.log_every:
        raise ConfigError(f"--{name}={value} must be a multiple of "
                          f"--log_every={self.log_every}")

  def _check_distribution(self) -> None:
    if self.strategy not in ("default", "mirrored", "multi_worker"):
      raise ConfigError(f"--strategy={self.strategy!r} is unknown")
    if self.cpu_replicas:
      if self.strategy != "mirrored" or self.cpu_replicas < 2:
        raise ConfigError("--cpu_replicas is for --strategy=mirrored and "
                          f"needs at least 2 devices, got {self.cpu_replicas} "
                          f"with --strategy={self.strategy}")
      if self.batch_size % self.cpu_replicas:
        raise ConfigError(f"--batch_size={self.batch_size} does not split "
                          f"over --cpu_replicas={self.cpu_replicas}")
    if self.strategy == "multi_worker":
      _check_tf_config(os.environ.get("TF_CONFIG"))

  def _check_critic_rows(self) -> None:
    """The original's merged flatten (WGAN-GP, 32x32) needs each device's
    real and fake batches in whole rows of samples."""
    if self.model != "wgan_gp" or self.critic_flatten != "original":
      return
    per_row = samples_per_critic_row(self.image_size, self.critic_flatten)
    per_device = self.batch_size // max(self.cpu_replicas, 1)
    if per_device % per_row:
      raise ConfigError(
          f"--critic_flatten=original merges {per_row} samples into each "
          f"critic value at --image_size={self.image_size}: the batch of "
          f"each device ({per_device}) must be a multiple of {per_row}")

  @property
  def quality_model_path(self) -> str:
    return self.quality_model or DEFAULT_QUALITY_MODEL

  def _check_types(self) -> None:
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      expected = field.type
      if expected == "int" and (isinstance(value, bool) or
                                not isinstance(value, int)):
        raise ConfigError(f"--{field.name} must be a positive integer, "
                          f"got {value!r}")
      if expected == "float" and (isinstance(value, bool) or
                                  not isinstance(value, (int, float))):
        raise ConfigError(f"--{field.name} must be a number, got {value!r}")

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> Config:
    return cls(**json.loads(text))
