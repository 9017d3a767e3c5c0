"""What a run shows in TensorBoard, beyond what metrics.jsonl records.

metrics.jsonl keeps its flat keys (d_loss, fid, ...); TensorBoard gets
grouped tags that say what each value is for the run's family (`tag`):
`loss/...` (the family's own loss names; BEGAN's k_t and convergence
measure under `began/...`), `eval/...` (FID, fd_shapes,
JSD), `best/...` (the lowest value so far, the HParams metrics),
`speed/...` (steps/s; the first interval after a start, which includes
tracing and compilation, under its own tag), `lr/...` (both learning
rates, at the start and whenever they change). `write_run_info` logs the
run's settings once: the HParams plugin's hyperparameters (the two rates
first) and the whole config as text.

The event files are written at the top of the run directory, so that
`tensorboard --logdir runs/` names each run by its folder.
"""

from __future__ import annotations

import os

import tensorflow as tf

from tf_ttur.config import Config

# What d_loss, g_loss and a family's other values are, per loss family
# (tf_ttur.losses.LOSSES): their TensorBoard tags.
_TAGS = {
    "dcgan": {"d_loss": "loss/d_bce", "g_loss": "loss/g_bce"},
    "wgan_gp": {"d_loss": "loss/critic_wasserstein_plus_gp",
                "g_loss": "loss/g_wasserstein",
                "wasserstein": "loss/wasserstein_estimate",
                "gp": "loss/gradient_penalty"},
    "began": {"d_loss": "loss/d_l1_real_minus_kt_fake",
              "g_loss": "loss/g_l1_fake", "loss_real": "loss/l1_real",
              "loss_fake": "loss/l1_fake", "k_t": "began/k_t",
              "m_global": "began/convergence_m_global"},
}
# Record keys TensorBoard does not show: its own relative-time axis is the
# elapsed time; the rest are bookkeeping.
_NOT_SHOWN = ("step", "time", "elapsed_sec", "checkpoint")
# Evaluations whose lowest value is the run's best (HParams metrics).
BEST = ("fid", "fd_shapes", "jsd_4", "jsd_6")
# The hyperparameters of the HParams table, by flag name, the rates first.
HPARAMS = ("g_lr", "d_lr", "n_critic", "model", "dataset", "image_size",
           "width", "z_dim", "batch_size", "precision", "seed",
           "lr_halve_every", "train_steps")


def tag(name: str, loss: str) -> str:
  """The TensorBoard tag of a metrics.jsonl key for a run of `loss`'s
  family (`wgan_gp` for the language model too)."""
  if name in _TAGS.get(loss, {}):
    return _TAGS[loss][name]
  if name == "steps_per_sec":
    return "speed/steps_per_sec"
  return f"eval/{name}"


def scalars(record: dict, loss: str) -> dict[str, float]:
  """{tag: value} of a record's numbers (bookkeeping left out)."""
  return {tag(k, loss): float(v) for k, v in record.items()
          if k not in _NOT_SHOWN and isinstance(v, (int, float))}


def run_name(workdir: str) -> str:
  """The HParams trial of a run: its folder, relative to the current one
  when inside it (runs/demo, runs/compare_demo/demo/seed_0), so that the
  seeds of a comparison are separate trials."""
  path = os.path.abspath(workdir)
  relative = os.path.relpath(path)
  return path if relative.startswith("..") else relative


def write_run_info(writer: tf.summary.SummaryWriter, config: Config,
                   step: int) -> None:
  """The run's hyperparameters (HParams plugin) and its whole config as
  text, at `step` (0 for a new run, the resumed step otherwise)."""
  from tensorboard.plugins.hparams import api as hp
  values = config.flat()
  hparams = {name: values[name] for name in HPARAMS}
  with writer.as_default(step=step):
    hp.hparams_config(
        hparams=[hp.HParam(name) for name in HPARAMS],
        metrics=[hp.Metric(
            f"best/{name}", display_name=f"best {name} (one run)",
            description=f"The lowest {name} of this one run so far. The "
            "paper's statistic is the best point of the mean curve over "
            "seeds (python -m tf_ttur.experiments.compare).")
                 for name in BEST])
    hp.hparams(hparams, trial_id=run_name(config.run.workdir))
    tf.summary.text("config", code_block(config.to_json()))
  writer.flush()


def code_block(text: str) -> str:
  """Markdown that TensorBoard's Text dashboard shows verbatim (each line
  indented by four spaces: no character is markup there)."""
  return "\n".join("    " + line for line in text.splitlines())


def learning_rates(model) -> dict[str, float]:
  """The optimizers' current rates (after --lr_halve_every's halvings)."""
  import keras
  return {f"lr/{name}": float(keras.ops.convert_to_numpy(
      getattr(model, f"{name}_optimizer").learning_rate))
          for name in ("d", "g")}
