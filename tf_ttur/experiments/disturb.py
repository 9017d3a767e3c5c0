"""python -m tf_ttur.experiments.disturb --images=PATH --stats=REF.npz \
    [--out=DIR]

FID against disturbances (docs/paper.md A.5, TTUR's FIDvsINC): real images, and
their own reference statistics, disturbed at four levels each of Gaussian
noise, Gaussian blur, black rectangles, swirl and salt-and-pepper. The FID
should rise with every disturbance. Disturbances act on images in [-1, 1]
and are rescaled by (x + 1) * 127.5, as the original did. Writes
disturbances.csv, disturbances.md and disturbances.png into --out.

PATH is anything `python -m fid` reads as images: a folder, a .npy/.npz
array, or tfds:NAME:SPLIT.
"""

from __future__ import annotations

import csv
import os

from absl import flags
import numpy as np
import scipy.ndimage

from tf_ttur import flags as tf_ttur_flags
from tf_ttur.errors import fail

LEVELS = {
  "gaussian_noise": (0.0, 0.25, 0.5, 0.75),
  "blur": (0.0, 1.0, 2.0, 4.0),
  "rectangles": (0.0, 0.25, 0.5, 0.75),
  "swirl": (0.0, 1.0, 2.0, 4.0),
  "salt_and_pepper": (0.0, 0.1, 0.2, 0.3),
}


def gaussian_noise(x, alpha, rng):
  """(1 - alpha) x + alpha N, N standard normal rescaled to [-1, 1]."""
  noise = rng.standard_normal(x.shape)
  lo = noise.min(axis=(1, 2, 3), keepdims=True)
  hi = noise.max(axis=(1, 2, 3), keepdims=True)
  noise = 2 * (noise - lo) / (hi - lo) - 1
  return (1 - alpha) * x + alpha * noise


def blur(x, sigma, rng):
  del rng
  if sigma == 0:
    return x
  return scipy.ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0))


def rectangles(x, alpha, rng, count=5):
  """count black squares of side alpha * image size at random places."""
  out = x.copy()
  size = x.shape[1]
  side = int(round(alpha * size))
  if side == 0:
    return out
  for image in out:
    for _ in range(count):
      top, left = rng.integers(0, size - side + 1, 2)
      image[top : top + side, left : left + side] = -1.0
  return out


def swirl(x, strength, rng, radius=None, border=3):
  """A central swirl in a random direction (skimage's formula)."""
  if strength == 0:
    return x
  n, h, w, _ = x.shape
  radius = radius or (70 if h >= 64 else 25)
  scaled = np.log(2) * radius / 5
  yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
  cy, cx = (h - 1) / 2, (w - 1) / 2
  out = x.copy()
  for i in range(n):
    s = strength * rng.choice([-1.0, 1.0])
    dy, dx = yy - cy, xx - cx
    rho = np.hypot(dy, dx)
    theta = s * np.exp(-rho / scaled) + np.arctan2(dy, dx)
    src_y, src_x = cy + rho * np.sin(theta), cx + rho * np.cos(theta)
    for c in range(x.shape[-1]):
      out[i, ..., c] = scipy.ndimage.map_coordinates(
        x[i, ..., c], [src_y, src_x], order=1, mode="reflect"
      )
  keep = np.zeros((h, w), bool)
  keep[:border], keep[-border:], keep[:, :border], keep[:, -border:] = (
    True,
    True,
    True,
    True,
  )
  out[:, keep] = x[:, keep]
  return out


def salt_and_pepper(x, p, rng):
  """A fraction p of pixels set to white or black, half each."""
  out = x.copy()
  mask = rng.uniform(size=x.shape[:3]) < p
  values = rng.choice([-1.0, 1.0], size=x.shape[:3])
  out[mask] = values[mask][:, None]
  return out


DISTURBANCES = {
  "gaussian_noise": gaussian_noise,
  "blur": blur,
  "rectangles": rectangles,
  "swirl": swirl,
  "salt_and_pepper": salt_and_pepper,
}


def run(
  images: np.ndarray,
  mu: np.ndarray,
  sigma: np.ndarray,
  extractor,
  seed: int = 0,
  batch_size: int = 50,
) -> list[dict]:
  """FID of every (disturbance, level) against (mu, sigma)."""
  from fid import core
  from fid import frechet

  unit = np.asarray(images, np.float64) / 127.5 - 1.0
  distance = frechet.distances_to(mu, sigma)  # Its factor computed once.
  rows = []
  for name, fn in DISTURBANCES.items():
    for level in LEVELS[name]:
      rng = np.random.default_rng([seed, len(rows)])
      pixels = (np.clip(fn(unit, level, rng), -1, 1) + 1) * 127.5
      stats = core.run_pass(
        (pixels[i : i + batch_size] for i in range(0, len(pixels), batch_size)),
        extractor,
      )
      rows.append(
        {
          "disturbance": name,
          "level": level,
          "fid": distance(stats.mu, stats.sigma),
        }
      )
  return rows


def write(rows: list[dict], out: str) -> None:
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "disturbances.csv"), "w", newline="") as f:
    writer = csv.DictWriter(f, ["disturbance", "level", "fid"])
    writer.writeheader()
    writer.writerows(rows)
  names = list(DISTURBANCES)
  lines = [
    "| disturbance | none | weak | medium | strong |",
    "|---|---|---|---|---|",
  ]
  for name in names:
    values = [r["fid"] for r in rows if r["disturbance"] == name]
    lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
  with open(os.path.join(out, "disturbances.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3))
  for ax, name in zip(axes, names):
    sub = [r for r in rows if r["disturbance"] == name]
    ax.plot([r["level"] for r in sub], [r["fid"] for r in sub], "o-")
    ax.set(title=name, xlabel="level", ylabel="FID")
  fig.tight_layout()
  fig.savefig(os.path.join(out, "disturbances.png"), dpi=90)
  plt.close(fig)


def _define_flags() -> None:
  # Defined only when run as a program, so that importing this module
  # next to other absl programs cannot clash.
  flags.DEFINE_string("images", None, "Real images: folder, array or tfds:.")
  flags.DEFINE_string(
    "stats",
    None,
    "Their reference statistics (.npz); "
    "default: computed from the undisturbed images.",
  )
  flags.DEFINE_string("out", "runs/disturb", "Output folder.")
  flags.DEFINE_string("inception", None, "classify_image_graph_def.pb or .tgz.")
  flags.DEFINE_integer(
    "num", 10_000, "Images used at most (at least 2).", lower_bound=2
  )
  flags.DEFINE_integer("disturb_seed", 0, "Seed of the disturbances.")
  flags.mark_flag_as_required("images")


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  import fid
  from fid import inputs as fid_inputs
  from fid import sources

  f = flags.FLAGS
  try:
    kind, items = fid_inputs.resolve(f.images, False, None)
    if kind != "images":
      raise sources.SourceError(
        f"{f.images}: needs a folder or an array of images (it holds {kind})"
      )
    items = items[: f.num]
    images = (
      items
      if isinstance(items, np.ndarray)
      else np.concatenate(list(sources.iter_batches(items, 256)))
    )
    extractor = fid.make_extractor("fast", f.inception)
    if f.stats:
      mu, sigma = fid.load_stats(f.stats)
    else:
      mu, sigma = fid.calculate_activation_statistics(images, extractor)
  except (
    sources.SourceError,
    fid.StatsError,
    fid.InceptionError,
    ValueError,
  ) as e:
    fail(str(e))
  rows = run(images, mu, sigma, extractor, seed=f.disturb_seed)
  write(rows, f.out)
  with open(os.path.join(f.out, "disturbances.md")) as table:
    print(table.read())
  print(f"wrote {f.out}/disturbances.csv, .md and .png")


if __name__ == "__main__":
  _define_flags()
  tf_ttur_flags.run_program(main)
