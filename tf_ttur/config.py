"""One frozen, typed configuration per run, made from the flags.

`Config` is nested: one frozen part per concern (run, data, network,
optimization, schedule, evaluation, runtime, output). Each field of a part
is a flag of `python -m tf_ttur.main` with the same name, and its default
and help are written once, here: `define_flags` generates every DEFINE_*
from the parts. `Config.from_flags` reads absl FLAGS once (in main.py);
everything below it receives this object. `validate()` runs before
anything is written, and the config is saved as config.json in the run
directory (nested; a flat config.json of an older run reads the same).
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
import json
import os
import types
from typing import Any

from tf_ttur import flags as flag_tools
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
KT_UPDATES = ("step", "original")
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


def _flag(default: Any, help: str,  # noqa: A002 (absl's word)
          choices: tuple[str, ...] | None = None) -> Any:
  """A field of a part and its flag: the default and the help, once."""
  return dataclasses.field(default=default,
                           metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class RunSettings:
  """What to do, where, and from which seed."""
  mode: str = _flag(
      "train", "train: train (resuming from the run directory); prepare: "
      "check (and with internet fetch) the dataset, reference statistics "
      "and Inception graph the run needs, listing every missing piece with "
      "how to get it; dry_run: print the resolved config and exit; export: "
      "export the generator of the latest checkpoint.",
      ("train", "prepare", "dry_run", "export"))
  workdir: str = _flag(
      "runs/default", "Run directory; rerunning resumes from its newest "
      "readable checkpoint.")
  restart: bool = _flag(
      False, "Move the run directory aside (to WORKDIR.old-TIME, nothing is "
      "deleted) and start a new run in it.")
  seed: int = _flag(0, "Seed of weights, noise and data order.")


@dataclasses.dataclass(frozen=True)
class DataSettings:
  """The training data."""
  dataset: str = _flag(
      "shapes", "shapes (offline, generated), svhn_cropped, cifar10, "
      "celeb_a, lsun/bedroom, or folder:PATH; for --model=language: english "
      "(offline, shipped), lm1b, or textfile:PATH.")
  data_dir: str | None = _flag(None, "TFDS data directory (default: TFDS's).")
  image_size: int = _flag(32, "Image side: 32 or 64.")
  shuffle_buffer: int = _flag(10_000, "tf.data shuffle buffer.")
  cache_mb: int = _flag(
      4096, "Cache the decoded, resized images in memory when they take at "
      "most this many MB (CelebA-64: 2,500; LSUN Bedroom: 37,000); 0: never.")
  max_lines: int = _flag(
      10_000_000, "Text lines read, in order, from the corpus (the "
      "language model, docs/paper.md A.4).")


@dataclasses.dataclass(frozen=True)
class NetworkSettings:
  """The GAN family and its networks' sizes."""
  model: str = _flag("dcgan",
                     "Network family: dcgan, wgan_gp, began, language.")
  z_dim: int = _flag(100, "Latent dimension.")
  width: int = _flag(64, "Base width (gf = df = 64 in the paper).")
  critic_flatten: str = _flag(
      "per_sample", "WGAN-GP at 32x32: original (the paper's CIFAR-10 "
      "critic, whose reshape to 4*4*8w merges 4 samples into one critic "
      "value; --batch_size a multiple of 4) or per_sample (one value per "
      "sample). The same network at 64x64; no effect on other models.",
      CRITIC_FLATTENS)


@dataclasses.dataclass(frozen=True)
class OptimizationSettings:
  """TTUR: one Adam per network, and the batches they see."""
  d_lr: float = _flag(1e-4, "Discriminator learning rate (b).")
  g_lr: float = _flag(5e-4, "Generator learning rate (a).")
  beta_1: float = _flag(0.5, "Adam beta_1 of both optimizers.")
  beta_2: float = _flag(0.999, "Adam beta_2 of both optimizers.")
  adam_epsilon: float = _flag(1e-8, "Adam epsilon (TF1's default).")
  n_critic: int = _flag(1, "Discriminator updates per generator update.")
  lr_halve_every: int = _flag(
      0, "Halve both learning rates every N updates (BEGAN: 100000); 0: "
      "constant, as DCGAN and WGAN-GP.")
  batch_size: int = _flag(64, "Batch size per update.")
  extra_g_passes: int = _flag(
      0, "A quirk of the original DCGAN, for the paper flagfiles (2): "
      "training-mode generator passes after its update that move its "
      "batch-norm averages (the original's two loss evaluations for "
      "logging, docs/paper.md A.3.1). They see the same weights and z, so "
      "one pass is run and the averages are moved N times in closed form. "
      "0: off (user runs).")
  kt_update: str = _flag(
      "step", "BEGAN's k_t. step: from the step's own L(x) and L(G(z)), at "
      "no cost (user runs); original: after the update, from a second "
      "forward pass on a new real batch and z with the updated weights, as "
      "the original's second session.run (the BEGAN paper flagfiles; 1 G "
      "and 2 D forwards more a step, BUILD.md).", KT_UPDATES)


@dataclasses.dataclass(frozen=True)
class ScheduleSettings:
  """How long, and what happens every so many steps."""
  train_steps: int = _flag(100_000, "Generator updates in total.")
  log_every: int = _flag(100, "Steps between log lines and metrics.")
  checkpoint_every: int = _flag(1000, "Steps between checkpoints.")
  sample_every: int = _flag(1000, "Steps between sample grids.")
  keep_checkpoints: int = _flag(3, "Checkpoints kept.")
  grid_size: int = _flag(8, "Sample grids are grid_size^2 images.")


@dataclasses.dataclass(frozen=True)
class EvaluationSettings:
  """FID (docs/paper.md A.3), the offline fd_shapes (not the FID) and the
  language model's n-gram JSD (A.4), during training."""
  fid_every: int = _flag(0, "Steps between FID evaluations; 0: off.")
  fid_samples: int = _flag(50_000, "Generated samples per FID.")
  fid_stats: str | None = _flag(
      None, "Reference statistics (.npz, mu/sigma): python -m fid DATA "
      "--save_stats X.npz, or TTUR's published fid_stats_*.npz.")
  fid_inception: str | None = _flag(
      None, "classify_image_graph_def.pb or the .tgz (default: the fid "
      "package's cache, downloaded on first use).")
  fid_extractor: str = _flag(
      "fast", "Inception path: the Keras port or the graph itself.",
      ("fast", "reference"))
  fid_batch_size: int = _flag(100, "Inception batch size.")
  quality_every: int = _flag(
      0, "Steps between evaluations of fd_shapes, the Frechet distance in "
      "the shapes classifier's feature space (offline; NOT the FID); 0: off.")
  quality_samples: int = _flag(
      2000, "Generated (and real) samples per fd_shapes value.")
  quality_model: str = _flag(
      "", "The classifier SavedModel (default: saved_models/"
      "shapes_classifier).")
  jsd_every: int = _flag(0, "Steps between n-gram JSD evaluations; 0: off.")
  jsd_samples: int = _flag(
      640, "Generated lines per JSD (640 in the paper; the values depend "
      "on it).")

  @property
  def quality_model_path(self) -> str:
    return self.quality_model or DEFAULT_QUALITY_MODEL


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
  """Where and how fast: precision, XLA, devices; and what a NaN does."""
  precision: str = _flag(
      "auto", "auto: mixed_bfloat16 on GPUs of compute capability 8.0+ and "
      "on CPUs with native bfloat16 (AVX512_BF16, AMX-BF16), mixed_float16 "
      "with loss scaling on older GPUs, float32 elsewhere. A resumed run "
      "keeps the precision its config.json records unless this flag names "
      "another; checkpoints move between precisions.",
      ("auto", "float32", "mixed_float16", "mixed_bfloat16"))
  tf32: str = _flag(
      "auto", "TensorFloat-32 matmuls and convolutions in training on "
      "Ampere and later GPUs. auto: TensorFlow's default (on); false: exact "
      "float32, as the paper's 2017 GPUs (the paper flagfiles). The FID is "
      "always computed without.", ("auto", "true", "false"))
  jit_compile: str = _flag(
      "auto", "XLA for the train step. auto: on for GPUs, off on CPU (11x "
      "slower there, docs/paper.md C).", ("auto", "true", "false"))
  strategy: str = _flag(
      "default", "tf.distribute: default (one device), mirrored (all local "
      "GPUs), multi_worker (TF_CONFIG).",
      ("default", "mirrored", "multi_worker"))
  cpu_replicas: int = _flag(
      0, "Split the CPU into this many logical devices, so that "
      "--strategy=mirrored runs without GPUs (to check the distributed "
      "logic on CPU; no faster). 0: no split.")
  on_nonfinite: str = _flag(
      "stop", "A NaN or infinite loss: stop (exit 3, the last good "
      "checkpoint kept) or restore the last checkpoint and continue with a "
      "fresh noise seed (at most 3 times).", ("stop", "restore"))
  debug_nan_at_step: int = _flag(
      0, "Test hook: make the losses of this step NaN once. 0: off.")


@dataclasses.dataclass(frozen=True)
class OutputSettings:
  """The exported generator."""
  export: bool = _flag(True, "Export the generator when training ends.")
  export_dtype: str = _flag(
      "float32", "The serving graph's precision, whatever precision trained "
      "the weights (bfloat16, float16: Keras mixed precision, the last "
      "layer in float32).", ("float32", "bfloat16", "float16"))
  tflite: bool = _flag(
      False, "Also write generator.tflite (serving_default, TFLite built-in "
      "ops) into the exported SavedModel folder, checked against it (image "
      "generators, float32).")


# Config's parts, in the order of --helpfull and config.json.
PARTS = {"run": RunSettings, "data": DataSettings, "network": NetworkSettings,
         "optimization": OptimizationSettings, "schedule": ScheduleSettings,
         "evaluation": EvaluationSettings, "runtime": RuntimeSettings,
         "output": OutputSettings}
# Flag name -> the part that holds it (flag names are unique across parts).
PART_OF = {field.name: part for part, cls in PARTS.items()
           for field in dataclasses.fields(cls)}

_DEFINE = {"bool": "DEFINE_bool", "int": "DEFINE_integer",
           "float": "DEFINE_float", "str": "DEFINE_string",
           "str | None": "DEFINE_string"}


def define_flags(flag_values):
  """Defines every flag of python -m tf_ttur.main on flag_values (absl's
  FLAGS for the program), each from its field: name, default, help and,
  for a choice, the choices. Returns flag_values."""
  from absl import flags
  for cls in PARTS.values():
    for field in dataclasses.fields(cls):
      help_text, choices = field.metadata["help"], field.metadata["choices"]
      if choices:
        flags.DEFINE_enum(field.name, field.default, list(choices),
                          help_text, flag_values=flag_values)
      else:
        getattr(flags, _DEFINE[field.type])(
            field.name, field.default, help_text, flag_values=flag_values)
  return flag_values


@dataclasses.dataclass(frozen=True)
class Config:
  """Every setting of a run, in parts (each field's help: its _flag)."""
  run: RunSettings = dataclasses.field(default_factory=RunSettings)
  data: DataSettings = dataclasses.field(default_factory=DataSettings)
  network: NetworkSettings = dataclasses.field(
      default_factory=NetworkSettings)
  optimization: OptimizationSettings = dataclasses.field(
      default_factory=OptimizationSettings)
  schedule: ScheduleSettings = dataclasses.field(
      default_factory=ScheduleSettings)
  evaluation: EvaluationSettings = dataclasses.field(
      default_factory=EvaluationSettings)
  runtime: RuntimeSettings = dataclasses.field(
      default_factory=RuntimeSettings)
  output: OutputSettings = dataclasses.field(default_factory=OutputSettings)

  @classmethod
  def of(cls, **flags: Any) -> Config:
    """The Config with these flags (by flag name) and defaults elsewhere."""
    return cls().replace(**flags)

  @classmethod
  def from_flags(cls, flag_values: Any) -> Config:
    """Builds a Config from absl FlagValues (only the flags of its
    parts)."""
    return cls.of(**{name: getattr(flag_values, name) for name in PART_OF})

  @classmethod
  def from_args(cls, *args: str) -> Config:
    """The Config of `python -m tf_ttur.main args...` (not validated),
    parsed on a FlagValues of its own (absl's FLAGS is left alone)."""
    from absl import flags
    flag_values = define_flags(flags.FlagValues())
    cycle = flag_tools.flagfile_cycle(["tf_ttur", *args])
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
    """A copy with these flags (by flag name) or whole parts changed."""
    parts = {}
    for name, value in changes.items():
      if name in PARTS:
        parts[name] = value
      elif name in PART_OF:
        part = PART_OF[name]
        parts[part] = dataclasses.replace(
            parts.get(part, getattr(self, part)), **{name: value})
      else:
        raise TypeError(f"Config has no flag {name!r}")
    return dataclasses.replace(self, **parts)

  def flags(self) -> Iterator[tuple[str, Any, dataclasses.Field]]:
    """(flag name, value, field) of every flag, part by part."""
    for part in PARTS:
      settings = getattr(self, part)
      for field in dataclasses.fields(settings):
        yield field.name, getattr(settings, field.name), field

  def flat(self) -> dict[str, Any]:
    """{flag name: value}: what a flag line or an old config.json says."""
    return {name: value for name, value, _ in self.flags()}

  def validate(self) -> Config:
    """Checks every value; raises ConfigError naming the first bad flag.

    Then the files the run will read and (except for --mode=dry_run) the
    workdir it will write (tf_ttur.preflight), writing nothing.
    """
    f = self.values()
    self._check_types()
    family = self._check_names(f)
    self._check_ranges(f)
    self._check_distribution(f)
    if family.joint_update and f.n_critic != 1:
      raise ConfigError(f"--model={f.model} updates both networks "
                        "together: --n_critic must be 1")
    if family.joint_update and f.extra_g_passes:
      raise ConfigError(f"--extra_g_passes is for models with a separate "
                        f"generator update; --model={f.model} has none")
    if f.kt_update != "step" and not family.joint_update:
      raise ConfigError(f"--kt_update is BEGAN's k_t; --model={f.model} has "
                        "no k_t")
    if f.fid_every and f.fid_samples < 2:
      raise ConfigError(f"--fid_samples must be at least 2, got "
                        f"{f.fid_samples}")
    self._check_critic_rows(f)
    if f.quality_every and f.quality_samples < 2:
      raise ConfigError(f"--quality_samples must be at least 2, got "
                        f"{f.quality_samples}")
    for name, value, field in self.flags():  # The flags' own choices.
      choices = field.metadata["choices"]
      if choices and value not in choices:
        raise ConfigError(f"--{name}={value!r}: use {', '.join(choices)}")
    if f.tflite and f.export_dtype != "float32":
      raise ConfigError("--tflite needs --export_dtype=float32: TFLite's "
                        "built-in kernels compute in float32 (shrink the "
                        "file with TFLite's own quantization instead)")
    if not f.workdir:
      raise ConfigError("--workdir must not be empty")
    self._check_files(f)
    return self

  def _check_files(self, f: types.SimpleNamespace) -> None:
    """The files the run will read, the folder it will write (not for
    --mode=dry_run) and the environment variables it will read."""
    if f.fid_every:
      preflight.check_fid_stats(f.fid_stats)
      if f.fid_inception:
        preflight.check_inception(f.fid_inception)
    if f.quality_every:
      preflight.check_quality_model(self.evaluation.quality_model_path,
                                    load=f.mode == "train")
    if f.mode not in ("dry_run", "prepare"):
      preflight.check_writable(f.workdir)
    preflight.check_environment(
        inception_download=bool(f.fid_every and not f.fid_inception),
        jsd=bool(f.jsd_every))

  @property
  def real_batches_per_step(self) -> int:
    """Real batches a train step reads: one per discriminator update, and
    BEGAN's k_t pass its own with --kt_update=original."""
    return self.optimization.n_critic + int(
        self.optimization.kt_update == "original")

  @property
  def family(self) -> Family:
    """The --model's entry of tf_ttur.families (the name is checked by
    validate())."""
    return FAMILIES[self.network.model]

  def values(self) -> types.SimpleNamespace:
    """Every flag as an attribute (config.values().d_lr): the flat view
    the checks below use, as their messages name flags."""
    return types.SimpleNamespace(**self.flat())

  def _check_names(self, f: types.SimpleNamespace):
    """--dataset and --model name known things that fit together; returns
    the family (tf_ttur.families) after its modality's own checks."""
    if not any(m.accepts(f.dataset) for m in modalities.MODALITIES):
      raise ConfigError(
          f"--dataset={f.dataset!r} is unknown; choose one of "
          f"{modalities.IMAGES.datasets}, or for --model=language "
          f"{modalities.TEXT.datasets}")
    if f.model not in FAMILIES:
      raise ConfigError(f"--model={f.model!r} is unknown; choose one of "
                        f"{', '.join(sorted(FAMILIES))}")
    family = FAMILIES[f.model]
    if not family.modality.accepts(f.dataset):
      raise ConfigError(
          f"--dataset={f.dataset} does not fit --model={f.model}, "
          f"which takes {family.modality.noun}: {family.modality.datasets}")
    if family.image_sizes and f.image_size not in family.image_sizes:
      raise ConfigError(
          f"--image_size={f.image_size} is not supported by "
          f"--model={f.model}; use one of {family.image_sizes}")
    for flag, why in family.modality.inapplicable:
      if getattr(f, flag):
        raise ConfigError(f"--{flag} {why}")
    return family

  def _check_ranges(self, f: types.SimpleNamespace) -> None:
    for name in ("d_lr", "g_lr", "adam_epsilon"):
      value = getattr(f, name)
      if not 0 < value < float("inf"):  # Also rejects NaN.
        raise ConfigError(f"--{name} must be positive and finite, got "
                          f"{value}")
    for name in ("beta_1", "beta_2"):
      value = getattr(f, name)
      if not 0 <= value < 1:
        raise ConfigError(f"--{name} must be in [0, 1), got {value}")
    for name in ("batch_size", "z_dim", "width", "n_critic", "train_steps",
                 "log_every", "checkpoint_every", "sample_every",
                 "keep_checkpoints", "grid_size", "shuffle_buffer",
                 "fid_batch_size", "max_lines", "jsd_samples",
                 "quality_samples"):
      value = getattr(f, name)
      if value < 1:
        raise ConfigError(f"--{name} must be a positive integer, got {value}")
    for name in ("lr_halve_every", "fid_every", "jsd_every", "cache_mb",
                 "cpu_replicas", "quality_every", "debug_nan_at_step",
                 "extra_g_passes"):
      if getattr(f, name) < 0:
        raise ConfigError(f"--{name} must be 0 (off) or positive, got "
                          f"{getattr(f, name)}")
    for name in ("train_steps", "checkpoint_every", "sample_every",
                 "fid_every", "jsd_every", "quality_every"):
      value = getattr(f, name)
      if value % f.log_every:
        raise ConfigError(f"--{name}={value} must be a multiple of "
                          f"--log_every={f.log_every}")

  def _check_distribution(self, f: types.SimpleNamespace) -> None:
    if f.strategy not in ("default", "mirrored", "multi_worker"):
      raise ConfigError(f"--strategy={f.strategy!r} is unknown")
    if f.cpu_replicas:
      if f.strategy != "mirrored" or f.cpu_replicas < 2:
        raise ConfigError("--cpu_replicas is for --strategy=mirrored and "
                          f"needs at least 2 devices, got {f.cpu_replicas} "
                          f"with --strategy={f.strategy}")
      if f.batch_size % f.cpu_replicas:
        raise ConfigError(f"--batch_size={f.batch_size} does not split "
                          f"over --cpu_replicas={f.cpu_replicas}")
    if f.strategy == "multi_worker":
      _check_tf_config(os.environ.get("TF_CONFIG"))

  def _check_critic_rows(self, f: types.SimpleNamespace) -> None:
    """The original's merged flatten (WGAN-GP, 32x32) needs each device's
    real and fake batches in whole rows of samples."""
    if f.model != "wgan_gp" or f.critic_flatten != "original":
      return
    per_row = samples_per_critic_row(f.image_size, f.critic_flatten)
    per_device = f.batch_size // max(f.cpu_replicas, 1)
    if per_device % per_row:
      raise ConfigError(
          f"--critic_flatten=original merges {per_row} samples into each "
          f"critic value at --image_size={f.image_size}: the batch of "
          f"each device ({per_device}) must be a multiple of {per_row}")

  def _check_types(self) -> None:
    for name, value, field in self.flags():
      expected = field.type
      if expected == "int" and (isinstance(value, bool) or
                                not isinstance(value, int)):
        raise ConfigError(f"--{name} must be a positive integer, "
                          f"got {value!r}")
      if expected == "float" and (isinstance(value, bool) or
                                  not isinstance(value, (int, float))):
        raise ConfigError(f"--{name} must be a number, got {value!r}")

  def to_dict(self) -> dict[str, dict[str, Any]]:
    """{part: {flag: value}}, as config.json holds it."""
    return {part: dataclasses.asdict(getattr(self, part)) for part in PARTS}

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2)

  @classmethod
  def from_json(cls, text: str) -> Config:
    """The Config of a config.json, nested or (an older run's) flat."""
    return cls.of(**flatten(json.loads(text)))


def flatten(recorded: dict[str, Any]) -> dict[str, Any]:
  """{flag: value} of a config as config.json records it: nested by part
  (this version) or flat (runs before it). Unknown names are kept."""
  flat = {}
  for name, value in recorded.items():
    if name in PARTS and isinstance(value, dict):
      flat.update(value)
    else:
      flat[name] = value
  return flat
