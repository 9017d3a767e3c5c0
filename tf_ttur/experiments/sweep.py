"""The learning-rate search of TTUR: every (d_lr, g_lr) pair over seeds,
ranked by the paper's statistic.

    python -m tf_ttur.experiments.sweep --flagfile=configs/demo.flags \
        --d_lr=1e-4,3e-4,1e-3 --g_lr=1e-4,3e-4,1e-3 --seeds=1

trains every pair and seed into OUT/d<d_lr>_g<g_lr>/seed_<k> (`python -m
tf_ttur.main`, one process per run, or one per GPU at a time where there
are several), reusing finished runs and resuming the others as `compare`
does; every pair's flags are checked before the first run trains. Then it
ranks the pairs by the paper's statistic as this project reads it (the
best point of the mean curve over seeds,
tf_ttur.experiments.curves.paper_statistic) and writes
OUT/sweep.md, OUT/sweep.json and OUT/sweep.png, a heatmap over (d_lr,
g_lr) with the one-time-scale diagonal (d_lr = g_lr) outlined. The runs
are HParams trials of one TensorBoard logdir: `tensorboard --logdir OUT`.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys

from absl import flags
import numpy as np

from fid.files import atomic_path
from fid.files import atomic_write
from tf_ttur import evals
from tf_ttur import flags as tf_ttur_flags
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError
from tf_ttur.errors import fail
from tf_ttur.experiments import compare
from tf_ttur.experiments import curves


def pair_name(d_lr: float, g_lr: float) -> str:
  return f"d{d_lr:g}_g{g_lr:g}"


def _rates(values: list[str], flag: str) -> list[float]:
  try:
    rates = [float(v) for v in values]
  except ValueError as e:
    raise ConfigError(f"--{flag}: {e}") from None
  if not rates:
    raise ConfigError(f"--{flag} needs at least one learning rate")
  if len(set(rates)) != len(rates):
    raise ConfigError(f"--{flag} names a rate twice: {','.join(values)}")
  return rates


def _gpus() -> int:
  import tensorflow as tf

  return len(tf.config.list_physical_devices("GPU"))


def plan(
  flagfile: str,
  d_lrs: list[float],
  g_lrs: list[float],
  seeds: int,
  out: str,
  overrides: list[str],
  metric: str | None = None,
) -> list[tuple]:
  """[(d_lr, g_lr, seed, workdir, args)] of every run, each checked
  (ConfigError naming the pair) before any trains; the flagfile must
  evaluate something the sweep can rank (`metric`, or any)."""
  if seeds < 1:
    raise ConfigError(f"--seeds must be at least 1, got {seeds}")
  compare.check_run_count(
    len(d_lrs) * len(g_lrs) * seeds,
    f"{len(d_lrs)} x {len(g_lrs)} pairs x --seeds={seeds}",
  )
  if not os.path.isfile(flagfile):
    raise ConfigError(f"--flagfile={flagfile}: no such file")
  compare.check_out(out)
  runs = []
  for d_lr in d_lrs:
    for g_lr in g_lrs:
      rates = [f"--d_lr={d_lr!r}", f"--g_lr={g_lr!r}", *overrides]
      folder = os.path.join(out, pair_name(d_lr, g_lr))
      try:
        # The seed and the workdir change nothing a dry run checks.
        Config.from_args(
          f"--flagfile={flagfile}",
          *rates,
          f"--workdir={folder}/seed_0",
          "--mode=dry_run",
        ).validate()
      except ConfigError as e:
        raise ConfigError(f"{pair_name(d_lr, g_lr)}: {e}") from None
      runs += [
        (d_lr, g_lr, seed, os.path.join(folder, f"seed_{seed}"), rates)
        for seed in range(seeds)
      ]
  compare.check_evaluates(flagfile, overrides, metric)
  return runs


def train_all(flagfile: str, runs: list[tuple], log=print) -> None:
  """Trains what is not finished: one run at a time, or one per GPU."""
  gpus = _gpus() if len(runs) > 1 else 0
  if gpus < 2:
    for index, (_, _, seed, workdir, rates) in enumerate(runs, 1):
      compare.ensure_run(
        flagfile,
        seed,
        workdir,
        rates,
        lambda line, i=index: log(f"[{i}/{len(runs)}] {line}"),
      )
    return
  log(f"{gpus} GPUs: one run on each at a time")
  with concurrent.futures.ThreadPoolExecutor(gpus) as pool:
    jobs = [
      pool.submit(
        compare.ensure_run,
        flagfile,
        seed,
        workdir,
        rates,
        log,
        {"CUDA_VISIBLE_DEVICES": str(i % gpus)},
      )
      for i, (_, _, seed, workdir, rates) in enumerate(runs)
    ]
    for job in jobs:
      job.result()


def rank(runs: list[tuple], metric: str | None) -> tuple[str, list[dict]]:
  """(metric, the pairs' summaries, best paper statistic first)."""
  by_pair: dict[tuple[float, float], list[str]] = {}
  for d_lr, g_lr, _, workdir, _ in runs:
    by_pair.setdefault((d_lr, g_lr), []).append(workdir)
  metric = metric or curves.pick_metric([r[3] for r in runs])
  summaries = []
  for (d_lr, g_lr), workdirs in by_pair.items():
    summary = curves.summarize(pair_name(d_lr, g_lr), workdirs, metric)
    summary.update(d_lr=d_lr, g_lr=g_lr, one_time_scale=d_lr == g_lr)
    summaries.append(summary)
  sign = -1 if evals.direction(metric) == "max" else 1
  summaries.sort(key=lambda s: sign * s["paper_statistic"]["value"])
  return metric, summaries


def write_table(summaries: list[dict], metric: str, path: str) -> str:
  lines = [
    f"| rank | d_lr | g_lr | paper's statistic: best {metric} of the "
    "mean curve | at step | seeds | each seed's own best, min-max | "
    "|",
    "|---|---|---|---|---|---|---|---|",
  ]
  for i, s in enumerate(summaries, 1):
    paper = s["paper_statistic"]
    lines.append(
      f"| {i} | {s['d_lr']:g} | {s['g_lr']:g} | {paper['value']:.2f} | "
      f"{paper['step']} | {paper['seeds']} | {s['best_min']:.2f}-"
      f"{s['best_max']:.2f} | "
      f"{'one time scale' if s['one_time_scale'] else 'TTUR'} |"
    )
  table = "\n".join(lines) + "\n"
  atomic_write(path, table)
  return table


def write_heatmap(
  summaries: list[dict],
  d_lrs: list[float],
  g_lrs: list[float],
  metric: str,
  path: str,
) -> None:
  """The paper's statistic over (g_lr, d_lr); d_lr = g_lr outlined."""
  import matplotlib

  matplotlib.use("Agg")
  from matplotlib.patches import Rectangle
  import matplotlib.pyplot as plt

  d_sorted, g_sorted = sorted(d_lrs), sorted(g_lrs)
  grid = np.full((len(d_sorted), len(g_sorted)), np.nan)
  for s in summaries:
    grid[d_sorted.index(s["d_lr"]), g_sorted.index(s["g_lr"])] = s[
      "paper_statistic"
    ]["value"]
  fig, ax = plt.subplots(
    figsize=(1.3 * len(g_sorted) + 2.6, 1.1 * len(d_sorted) + 1.8), dpi=120
  )
  image = ax.imshow(grid, cmap="viridis_r", origin="lower")
  fig.colorbar(image, ax=ax, label=f"{metric}, best of the mean curve")
  best = summaries[0]
  middle = np.nanmin(grid) + (np.nanmax(grid) - np.nanmin(grid)) / 2
  for i, d_lr in enumerate(d_sorted):
    for j, g_lr in enumerate(g_sorted):
      if not np.isnan(grid[i, j]):
        mark = "*" if (d_lr, g_lr) == (best["d_lr"], best["g_lr"]) else ""
        ax.text(
          j,
          i,
          f"{grid[i, j]:.1f}{mark}",
          ha="center",
          va="center",
          color="black" if grid[i, j] < middle else "white",
          fontsize=9,
        )
      if d_lr == g_lr:
        ax.add_patch(
          Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2)
        )
  ax.set_xticks(range(len(g_sorted)), [f"{v:g}" for v in g_sorted])
  ax.set_yticks(range(len(d_sorted)), [f"{v:g}" for v in d_sorted])
  ax.set_xlabel("g_lr (generator, a)")
  ax.set_ylabel("d_lr (discriminator, b)")
  seeds = best["paper_statistic"]["seeds"]
  ax.set_title(
    f"{metric} over {seeds} seed{'s' if seeds > 1 else ''}; "
    "red: one time scale (d_lr = g_lr); *: best",
    fontsize=9,
  )
  fig.tight_layout()
  with atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp)
  plt.close(fig)


def sweep(
  flagfile: str,
  d_lr: list[str],
  g_lr: list[str],
  seeds: int,
  out: str,
  overrides: list[str],
  metric: str | None = None,
  log=print,
) -> list[dict]:
  """Trains what is missing, then ranks, tabulates and draws the pairs."""
  d_lrs, g_lrs = _rates(d_lr, "d_lr"), _rates(g_lr, "g_lr")
  runs = plan(flagfile, d_lrs, g_lrs, seeds, out, overrides, metric)
  train_all(flagfile, runs, log)
  metric, summaries = rank(runs, metric)
  table = write_table(summaries, metric, os.path.join(out, "sweep.md"))
  write_heatmap(summaries, d_lrs, g_lrs, metric, os.path.join(out, "sweep.png"))
  atomic_write(
    os.path.join(out, "sweep.json"),
    json.dumps(
      {
        "flagfile": flagfile,
        "overrides": overrides,
        "seeds": seeds,
        "metric": metric,
        "d_lr": d_lrs,
        "g_lr": g_lrs,
        "ranked": summaries,
      },
      indent=1,
    ),
  )
  log(table)
  log(
    f"wrote {os.path.join(out, 'sweep.md')}, sweep.json and sweep.png; "
    f"tensorboard --logdir {out} shows the runs as HParams trials"
  )
  return summaries


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  if not FLAGS.config_flagfile:
    fail(
      "--flagfile=F is required: the configuration whose learning rates "
      "are searched"
    )
  try:
    sweep(
      FLAGS.config_flagfile,
      FLAGS.d_lr,
      FLAGS.g_lr,
      FLAGS.seeds,
      FLAGS.out,
      FLAGS.override,
      FLAGS.metric,
    )
  except (ConfigError, ValueError, RuntimeError) as e:
    fail(str(e))


if __name__ == "__main__":
  # absl reads --flagfile itself; the sweep's is the runs' flagfile.
  sys.argv = [
    arg.replace("--flagfile=", "--config_flagfile=", 1) for arg in sys.argv
  ]
  flags.DEFINE_string(
    "config_flagfile",
    None,
    "Given as --flagfile=F: the "
    "configuration to search (its own --d_lr and --g_lr "
    "are replaced).",
  )
  flags.DEFINE_list("d_lr", None, "Discriminator learning rates.")
  flags.DEFINE_list("g_lr", None, "Generator learning rates.")
  compare.define_run_flags(1, "runs/sweep")
  for name in ("d_lr", "g_lr"):
    flags.mark_flag_as_required(name)
  FLAGS = flags.FLAGS
  # --seeds, --out, --override and --metric are compare's (absl files
  # them under the module that defines them).
  tf_ttur_flags.run_program(main, flag_modules=(compare.__name__,))
