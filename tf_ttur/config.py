"""One frozen, typed configuration per run, made from the flags.

`Config` has one frozen part per concern (tf_ttur.settings). Each field
of a part is a flag of `python -m tf_ttur.main` of the same name; its
default, help and rule (tf_ttur.flags.Flag) are written once, on the
field, and `define_flags` and `validate` read them. The family rules
come from the family's entry (tf_ttur.families), the files and
environment checks from tf_ttur.preflight. config.json holds `to_json()`
(nested by part; an older run's flat one reads the same).
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
import json
import types
from typing import Any

from tf_ttur import evals
from tf_ttur import flags as flag_tools
from tf_ttur import modalities
from tf_ttur import preflight
from tf_ttur.errors import ConfigError
from tf_ttur.families import FAMILIES
from tf_ttur.families import Family
from tf_ttur.settings import PART_OF
from tf_ttur.settings import PARTS
from tf_ttur.settings import DataSettings
from tf_ttur.settings import EvaluationSettings
from tf_ttur.settings import NetworkSettings
from tf_ttur.settings import OptimizationSettings
from tf_ttur.settings import OutputSettings
from tf_ttur.settings import RunSettings
from tf_ttur.settings import RuntimeSettings
from tf_ttur.settings import ScheduleSettings
from tf_ttur.settings import define_flags


@dataclasses.dataclass(frozen=True)
class Config:
  """Every setting of a run, in parts (each field's help: its flag)."""

  run: RunSettings = dataclasses.field(default_factory=RunSettings)
  data: DataSettings = dataclasses.field(default_factory=DataSettings)
  network: NetworkSettings = dataclasses.field(default_factory=NetworkSettings)
  optimization: OptimizationSettings = dataclasses.field(
    default_factory=OptimizationSettings
  )
  schedule: ScheduleSettings = dataclasses.field(
    default_factory=ScheduleSettings
  )
  evaluation: EvaluationSettings = dataclasses.field(
    default_factory=EvaluationSettings
  )
  runtime: RuntimeSettings = dataclasses.field(default_factory=RuntimeSettings)
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
          parts.get(part, getattr(self, part)), **{name: value}
        )
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

    Each field's rule first (tf_ttur.evals.Flag), then the rules between
    flags, then the files the run will read and (except for --mode=dry_run
    and prepare) the workdir it will write (tf_ttur.preflight), writing
    nothing.
    """
    flat = self.flat()
    for name, value, field in self.flags():
      flag_tools.check_field(
        name, value, field.type, field.metadata["flag"], flat
      )
    f = self.values()
    family = self._check_names(f)
    self._check_family(f, family)
    for entry in evals.enabled(self.evaluation):
      samples = getattr(f, f"{entry.name}_samples")
      if samples < 2:
        raise ConfigError(
          f"--{entry.name}_samples must be at least 2, got {samples}"
        )
    if f.cpu_replicas and (f.strategy != "mirrored" or f.cpu_replicas < 2):
      raise ConfigError(
        "--cpu_replicas is for --strategy=mirrored and "
        f"needs at least 2 devices, got {f.cpu_replicas} "
        f"with --strategy={f.strategy}"
      )
    if f.cpu_replicas and f.batch_size % f.cpu_replicas:
      raise ConfigError(
        f"--batch_size={f.batch_size} does not split "
        f"over --cpu_replicas={f.cpu_replicas}"
      )
    if f.tflite and f.export_dtype != "float32":
      raise ConfigError(
        "--tflite needs --export_dtype=float32: TFLite's "
        "built-in kernels compute in float32 (shrink the "
        "file with TFLite's own quantization instead)"
      )
    if not f.workdir:
      raise ConfigError("--workdir must not be empty")
    preflight.check_run(
      f,
      evals.needed(self.evaluation),
      evals.quality_model_path(self.evaluation),
    )
    return self

  def _check_family(self, f: types.SimpleNamespace, family: Family) -> None:
    """The rules that depend on what the family is (tf_ttur.families)."""
    if family.joint_update and f.n_critic != 1:
      raise ConfigError(
        f"--model={f.model} updates both networks "
        "together: --n_critic must be 1"
      )
    if family.joint_update and f.extra_g_passes:
      raise ConfigError(
        f"--extra_g_passes is for models with a separate "
        f"generator update; --model={f.model} has none"
      )
    if not family.generator_batch_norm and f.extra_g_passes:
      raise ConfigError(
        f"--extra_g_passes moves the generator's "
        f"batch-norm averages; --model={f.model}'s "
        "generator has no batch normalization, so it would "
        "do nothing"
      )
    if f.kt_update != "step" and not family.joint_update:
      raise ConfigError(
        f"--kt_update is BEGAN's k_t; --model={f.model} has no k_t"
      )
    if family.check is not None:
      family.check(f)

  @property
  def family(self) -> Family:
    """The --model's entry of tf_ttur.families (the name is checked by
    validate())."""
    return FAMILIES[self.network.model]

  def values(self) -> types.SimpleNamespace:
    """Every flag as an attribute (config.values().d_lr): the flat view
    the checks use, as their messages name flags."""
    return types.SimpleNamespace(**self.flat())

  def _check_names(self, f: types.SimpleNamespace) -> Family:
    """--dataset and --model name known things that fit together, and the
    evaluations fit the family's modality; returns the family."""
    if not any(m.accepts(f.dataset) for m in modalities.MODALITIES):
      raise ConfigError(
        f"--dataset={f.dataset!r} is unknown; choose one of "
        f"{modalities.IMAGES.datasets}, or for --model=language "
        f"{modalities.TEXT.datasets}"
      )
    if f.model not in FAMILIES:
      raise ConfigError(
        f"--model={f.model!r} is unknown; choose one of "
        f"{', '.join(sorted(FAMILIES))}"
      )
    family = FAMILIES[f.model]
    if not family.modality.accepts(f.dataset):
      raise ConfigError(
        f"--dataset={f.dataset} does not fit --model={f.model}, "
        f"which takes {family.modality.noun}: {family.modality.datasets}"
      )
    if family.image_sizes and f.image_size not in family.image_sizes:
      raise ConfigError(
        f"--image_size={f.image_size} is not supported by "
        f"--model={f.model}; use one of {family.image_sizes}"
      )
    for entry in evals.enabled(self.evaluation):
      if entry.modality != family.modality.name:
        raise ConfigError(
          f"--{entry.name}_every is for {entry.modality} models; "
          f"--model={f.model} makes {family.modality.noun}"
          f"{family.modality.scored_by}"
        )
    for name, why in family.modality.inapplicable:
      if getattr(f, name):
        raise ConfigError(f"--{name} {why}")
    return family

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
    nested = name in PARTS and isinstance(value, dict)
    flat.update(value if nested else {name: value})
  return flat
