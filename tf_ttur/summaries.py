"""What a run shows in TensorBoard, beyond what metrics.jsonl records.

metrics.jsonl keeps its flat keys (d_loss, fid, ...); TensorBoard gets
grouped tags that say what each value is for the run's family (`tag`):
`loss/...` (the family's own loss names, its entry's `tags`; BEGAN's k_t
and convergence measure under `began/...`), `eval/...` (FID, KID,
fd_shapes, JSD: tf_ttur.evals), `best/...` (the lowest value so far; the
HParams metrics are the run's evaluations' values),
`speed/...` (steps/s; the first interval after a start, which includes
tracing and compilation, under its own tag), `lr/...` (both learning
rates, at the start and whenever they change). `write_run_info` logs the
run's settings once: the HParams plugin's hyperparameters (the two rates
first) and the whole config as text.

The event files are written at the top of the run directory, so that
`tensorboard --logdir runs/` names each run by its folder.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from tf_ttur import evals
from tf_ttur.config import PART_OF
from tf_ttur.config import PARTS
from tf_ttur.config import Config
from tf_ttur.families import FAMILIES
from tf_ttur.families import Family

# Record keys TensorBoard does not show: its own relative-time axis is the
# elapsed time; the rest are bookkeeping.
_NOT_SHOWN = ("step", "time", "elapsed_sec", "checkpoint")
# Evaluation values whose lowest is the run's best (tf_ttur.evals).
BEST = evals.best_values()
# The hyperparameters of the HParams table, by flag name (TensorBoard
# orders the columns by name).
HPARAMS = (
  "g_lr",
  "d_lr",
  "n_critic",
  "model",
  "dataset",
  "image_size",
  "width",
  "z_dim",
  "batch_size",
  "precision",
  "seed",
  "lr_halve_every",
  "train_steps",
)


def tag(name: str, family: Family) -> str | None:
  """The TensorBoard tag of a metrics.jsonl key for a run of `family`
  (its entry's tags name its losses; None: not shown, another tag shows
  the same value)."""
  if name in family.tags:
    return family.tags[name]
  if name == "steps_per_sec":
    return "speed/steps_per_sec"
  return f"eval/{name}"


def scalars(record: dict, family: Family) -> dict[str, float]:
  """{tag: value} of a record's numbers (bookkeeping left out)."""
  return {
    tag(k, family): float(v)
    for k, v in record.items()
    if k not in _NOT_SHOWN
    and isinstance(v, (int, float))
    and tag(k, family) is not None
  }


def _hparam(name: str, value):
  """An HParam with its domain: the choices of a choice flag, the family
  and precision names, an integer or real interval for numbers (so that
  TensorBoard shows integers as integers and filters by range)."""
  from tensorboard.plugins.hparams import api as hp

  fields = {f.name: f for f in dataclasses.fields(PARTS[PART_OF[name]])}
  spec = fields[name].metadata["flag"]
  choices = spec.choices or {"model": tuple(FAMILIES)}.get(name)
  if choices:
    return hp.HParam(name, hp.Discrete(list(choices)))
  if isinstance(value, bool):
    return hp.HParam(name, hp.Discrete([False, True]))
  if isinstance(value, int):
    return hp.HParam(name, hp.IntInterval(0, 2**31 - 1))
  if isinstance(value, float):
    return hp.HParam(name, hp.RealInterval(0.0, 1.0e9))
  return hp.HParam(name)


def write_run_info(
  writer: tf.summary.SummaryWriter, config: Config, step: int
) -> None:
  """The run's hyperparameters (HParams plugin) and its whole config as
  text, at `step` (0 for a new run, the resumed step otherwise)."""
  from tensorboard.plugins.hparams import api as hp

  values = config.flat()
  hparams = {name: values[name] for name in HPARAMS}
  with writer.as_default(step=step):
    hp.hparams_config(
      hparams=[_hparam(name, values[name]) for name in HPARAMS],
      # Only what this run evaluates: TensorBoard's parallel-coordinates
      # view draws a trial only where every metric column has a value.
      # (It takes a logdir's columns from one run: a language run beside
      # image runs can lose its JSD column, docs/usage.md.)
      metrics=[
        hp.Metric(
          f"best/{name}",
          display_name=f"best {name} (one run)",
          description=f"The {evals.best_word(name)} {name} of this one "
          "run so far. The "
          "paper's statistic, as this project reads it, is the best "
          "point of the mean curve over seeds (python -m "
          "tf_ttur.experiments.compare).",
        )
        for entry in evals.enabled(config.evaluation)
        for name in entry.values
      ],
    )
    # An empty trial ID: TensorBoard names the trial by the run, relative
    # to the --logdir it is given, whatever the workdir's absolute path
    # (the runs' common parent is what tells them apart).
    hp.hparams(hparams, trial_id="")
    tf.summary.text("config", code_block(config.to_json()))
  writer.flush()


def code_block(text: str) -> str:
  """Markdown that TensorBoard's Text dashboard shows verbatim (each line
  indented by four spaces: no character is markup there)."""
  return "\n".join("    " + line for line in text.splitlines())


def learning_rates(model) -> dict[str, float]:
  """The optimizers' current rates (after --lr_halve_every's halvings)."""
  return {
    f"lr/{name}": float(
      tf.convert_to_tensor(
        getattr(model, f"{name}_optimizer").learning_rate
      ).numpy()
    )
    for name in ("d", "g")
  }
