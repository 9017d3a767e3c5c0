"""python -m tf_ttur.experiments.toy [--out=runs/toy] [--iterations=5000] \
    [--seed=0]

The paper's saddle-point toy (TTUR's Toy_Data_Example, docs/paper.md A.5):
f(x, y) = (1 + x^2)(100 - y^2), saddle at (0, 0) with f = 100; x descends,
y ascends, each gradient carries N(0, sigma^2) noise (sigma = 1), start
(0.5, -0.4). Four learning-rate pairs (lr_x, lr_y): equal and large, equal
and small, TTUR with x slowed, TTUR with y slowed. Writes toy.png (objective,
distance to the saddle, phase path) and toy.json (the figures).
"""

from __future__ import annotations

import json
import os

from absl import flags
import numpy as np

from fid.files import atomic_path
from fid.files import atomic_write
from tf_ttur import flags as tf_ttur_flags

RUNS = {
  "equal 1e-2": (1e-2, 1e-2),
  "equal 1e-3": (1e-3, 1e-3),
  "TTUR x slowed (1e-4, 1e-2)": (1e-4, 1e-2),
  "TTUR y slowed (1e-2, 1e-4)": (1e-2, 1e-4),
}
START = (0.5, -0.4)


def objective(x, y):
  return (1 + x**2) * (100 - y**2)


def simulate(
  lr_x: float,
  lr_y: float,
  iterations: int = 5000,
  sigma: float = 1.0,
  seed: int = 0,
  start: tuple[float, float] = START,
) -> np.ndarray:
  """The path [iterations + 1, 2] of noisy simultaneous descent/ascent."""
  rng = np.random.default_rng(seed)
  path = np.empty((iterations + 1, 2))
  x, y = start
  path[0] = x, y
  for t in range(1, iterations + 1):
    noise_x, noise_y = rng.normal(0.0, sigma, 2)
    grad_x = 2 * x * (100 - y**2) + noise_x
    grad_y = -2 * y * (1 + x**2) + noise_y
    x, y = x - lr_x * grad_x, y + lr_y * grad_y
    if not (np.isfinite(x) and np.isfinite(y)) or abs(x) > 1e6 or abs(y) > 1e6:
      path[t:] = np.nan  # Diverged: the rest of the path is undefined.
      break
    path[t] = x, y
  return path


def summarize(path: np.ndarray, tail: int = 500) -> dict:
  distance = np.linalg.norm(path, axis=1)
  finite = np.isfinite(distance)
  last = distance[-tail:]
  return {
    "diverged": bool(not finite.all()),
    "final_distance": float(distance[-1]),
    "mean_distance_last": float(np.mean(last)),
    "final_objective": float(objective(*path[-1])),
    "first_within_0.1": (
      int(np.argmax(distance < 0.1)) if np.any(distance < 0.1) else None
    ),
  }


def run(out: str, iterations: int = 5000, seed: int = 0) -> dict:
  """Simulates all four runs, writes toy.json and toy.png; returns figures."""
  os.makedirs(out, exist_ok=True)
  paths = {
    name: simulate(*lrs, iterations=iterations, seed=seed)
    for name, lrs in RUNS.items()
  }
  figures = {
    name: {"lr_x": RUNS[name][0], "lr_y": RUNS[name][1], **summarize(path)}
    for name, path in paths.items()
  }
  atomic_write(os.path.join(out, "toy.json"), json.dumps(figures, indent=2))
  _plot(paths, os.path.join(out, "toy.png"))
  return figures


def _plot(paths: dict, path: str) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
  for name, p in paths.items():
    axes[0].plot(objective(p[:, 0], p[:, 1]), label=name, lw=0.8)
    axes[1].plot(np.linalg.norm(p, axis=1), label=name, lw=0.8)
    axes[2].plot(p[:, 0], p[:, 1], label=name, lw=0.6)
  axes[0].set(
    title="objective f(x, y) (saddle: 100)", xlabel="iteration", ylim=(90, 110)
  )
  axes[1].set(
    title="distance to the saddle ||(x, y)||", xlabel="iteration", yscale="log"
  )
  axes[2].set(title="phase path", xlabel="x", ylabel="y")
  axes[2].plot(*START, "ko")
  axes[1].legend(fontsize=8)
  fig.tight_layout()
  with atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp, dpi=100)
  plt.close(fig)


def _define_flags() -> None:
  # Defined only when run as a program, so that importing this module
  # next to other absl programs cannot clash.
  flags.DEFINE_string("out", "runs/toy", "Output folder.")
  flags.DEFINE_integer("iterations", 5000, "Iterations per run.", lower_bound=1)
  flags.DEFINE_integer("toy_seed", 0, "Seed of the gradient noise.")


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  figures = run(flags.FLAGS.out, flags.FLAGS.iterations, flags.FLAGS.toy_seed)
  print("| run | lr_x | lr_y | mean distance, last 500 it. | final f |")
  print("|---|---|---|---|---|")
  for name, f in figures.items():
    print(
      f"| {name} | {f['lr_x']:g} | {f['lr_y']:g} | "
      f"{f['mean_distance_last']:.4g} | {f['final_objective']:.4g} |"
    )
  print(f"\nwrote {flags.FLAGS.out}/toy.png and toy.json")


if __name__ == "__main__":
  _define_flags()
  tf_ttur_flags.run_program(main)
