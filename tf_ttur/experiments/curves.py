"""What compare and sweep make of runs' records: one metric's curve per
run, the mean with its min-max band over seeds at the steps every seed
logged, the paper's statistic (the best point of the mean curve, by the
metric's direction), and the figure and the table that show them."""

from __future__ import annotations

import numpy as np

from fid.files import atomic_path
from fid.files import atomic_write
from tf_ttur import evals
from tf_ttur import records

# What compare and sweep can draw: every evaluation value (tf_ttur.evals),
# each with its direction (evals.direction).
METRICS = evals.best_values()


def curve(workdir: str, metric: str) -> tuple[np.ndarray, ...]:
  """(steps, minutes, values) of one run's metric; minutes count training
  time only (the loss records' intervals), not evaluation or restarts."""
  logged = records.read(workdir)
  steps, values, minutes = [], [], []
  elapsed, last_step, at_step = 0.0, 0, {0: 0.0}
  for r in logged:
    if "steps_per_sec" in r and r["steps_per_sec"] > 0:
      elapsed += (r["step"] - last_step) / r["steps_per_sec"] / 60
      last_step = r["step"]
      at_step[r["step"]] = elapsed
  for r in logged:
    if metric in r:
      steps.append(r["step"])
      values.append(r[metric])
      minutes.append(at_step.get(r["step"], np.nan))
  return np.array(steps), np.array(minutes), np.array(values, np.float64)


def pick_metric(workdirs: list[str]) -> str:
  for metric in METRICS:
    if all(any(metric in r for r in records.read(w)) for w in workdirs):
      return metric
  raise ValueError(
    "the runs logged none of "
    + ", ".join(METRICS)
    + " (turn on --fid_every, --quality_every or --jsd_every)"
  )


def summarize(name: str, workdirs: list[str], metric: str) -> dict:
  """Mean / min / max over seeds at the steps every seed logged."""
  curves = [curve(w, metric) for w in workdirs]
  common = sorted(set.intersection(*(set(s.tolist()) for s, _, _ in curves)))
  if not common:
    raise ValueError(f"{name}: the seeds logged {metric} at no common step")
  values = np.array(
    [[v[list(s).index(step)] for step in common] for s, _, v in curves]
  )
  minutes = np.array(
    [[m[list(s).index(step)] for step in common] for s, m, _ in curves]
  )
  higher = evals.direction(metric) == "max"
  best_per_seed = values.max(axis=1) if higher else values.min(axis=1)
  mean = values.mean(axis=0)
  paper = paper_statistic(mean, common, len(workdirs), higher)
  return {
    "name": name,
    "seeds": len(workdirs),
    "metric": metric,
    "steps": common,
    "minutes": np.nanmean(minutes, axis=0).tolist(),
    "mean": mean.tolist(),
    "min": values.min(axis=0).tolist(),
    "max": values.max(axis=0).tolist(),
    "best_mean": float(best_per_seed.mean()),
    "best_min": float(best_per_seed.min()),
    "best_max": float(best_per_seed.max()),
    "final_mean": float(mean[-1]),
    "best_step_of_mean": paper["step"],
    "paper_statistic": paper,
    "best_per_seed": best_per_seed.tolist(),
  }


def paper_statistic(mean, steps, seeds: int, higher: bool = False) -> dict:
  """The paper's number for one configuration: the lowest point of the
  curve of means over seeds (the highest for a metric whose higher is
  better), its step, and how many seeds made it."""
  best = int(np.argmax(mean) if higher else np.argmin(mean))
  return {"value": float(mean[best]), "step": int(steps[best]), "seeds": seeds}


def write_figure(summaries: list[dict], path: str, x: str) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
  for s in summaries:
    xs = s["steps"] if x == "step" else s["minutes"]
    label = f"{s['name']} ({s['lr']})" if s.get("lr") else s["name"]
    (line,) = ax.plot(xs, s["mean"], label=label, lw=1.8)
    ax.fill_between(
      xs, s["min"], s["max"], color=line.get_color(), alpha=0.2, lw=0
    )
  metric = summaries[0]["metric"]
  ax.set_xlabel(
    "generator updates"
    if x == "step"
    else "training minutes (evaluations excluded)"
  )
  ax.set_ylabel(
    metric
    + (
      ""
      if metric == "fid"
      else " (not the FID)"
      if metric == "fd_shapes"
      else ""
    )
  )
  seeds = sorted({s["seeds"] for s in summaries})
  ax.set_title(
    f"{metric}: mean and min-max over {'/'.join(map(str, seeds))} seeds"
  )
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  with atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp)
  plt.close(fig)


def write_table(summaries: list[dict], path: str) -> str:
  metric = summaries[0]["metric"]
  lines = [
    f"| configuration | learning rates (d, g) | seeds | paper's "
    f"statistic: best {metric} of the mean curve | at step | each "
    "seed's own best, min-max | final (mean) |",
    "|---|---|---|---|---|---|---|",
  ]
  for s in summaries:
    paper = s["paper_statistic"]
    lines.append(
      f"| {s['name']} | {s.get('lr', '')} | {s['seeds']} | "
      f"{paper['value']:.2f} | {paper['step']} | "
      f"{s['best_min']:.2f}-{s['best_max']:.2f} | "
      f"{s['final_mean']:.2f} |"
    )
  lines.append(
    f"\nThe paper's statistic, as this project reads the "
    f"paper's tables: the {evals.best_word(metric)} point of "
    f"the mean {metric} curve over seeds (the paper's curves are "
    "means over 8 runs, 10 for the language GAN; it does not say "
    "how its best values were taken from them). A seed's own "
    "best is a single run's: better and noisier."
  )
  table = "\n".join(lines) + "\n"
  atomic_write(path, table)
  return table
