"""FID speed: images/s of the fast path against the reference path, and the
seconds of one 2048-d Frechet distance by each method.

Usage: python -m benchmarks.fid_speed [--batches=50,100,200] [--repeats=3]
       [--xla]

Runs on the synthetic replica of the Inception graph (same shapes and ops
as the real one, random weights), on 32x32 inputs, so it needs no download.
Median of `repeats` timed calls after one warm-up. Prints markdown tables.
"""

from __future__ import annotations

from absl import app
from absl import flags
import numpy as np

from benchmarks.common import fid_extractors, machine, median_seconds
from fid import frechet

flags.DEFINE_list("batches", ["50", "100", "200"], "Batch sizes.")
flags.DEFINE_integer("repeats", 3, "Timed calls per setting.", lower_bound=1)
flags.DEFINE_integer("image_size", 32, "Input side.")
flags.DEFINE_bool("xla", False, "Also time the fast path with XLA.")
flags.DEFINE_integer("fd_samples", 5000, "Samples behind each covariance.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  extractors = fid_extractors(fold_bn=True, xla=FLAGS.xla)
  print(f"{machine()}; {FLAGS.image_size}x"
        f"{FLAGS.image_size} inputs, median of {FLAGS.repeats}\n")
  print("| batch | " + " | ".join(extractors) + " | fast / reference |")
  print("|---" * (len(extractors) + 2) + "|")
  rng = np.random.default_rng(0)
  for batch in map(int, FLAGS.batches):
    images = rng.integers(0, 256, (batch, FLAGS.image_size,
                                   FLAGS.image_size, 3)).astype(np.float32)
    rates = [batch / median_seconds(lambda e=e: e(images), FLAGS.repeats)
             for e in extractors.values()]
    print(f"| {batch} | " + " | ".join(f"{r:.1f} img/s" for r in rates) +
          f" | {rates[1] / rates[0]:.2f}x |", flush=True)

  d = 2048
  mixing = rng.normal(size=(d, d))
  sigmas = []
  for _ in range(2):
    x = np.maximum(rng.normal(size=(FLAGS.fd_samples, d)) @ mixing, 0) * 0.01
    sigmas.append((x.mean(0), np.cov(x, rowvar=False)))
  (mu1, s1), (mu2, s2) = sigmas
  timings = {
      "eigh (default)": lambda: frechet.calculate_frechet_distance(
          mu1, s1, mu2, s2, method="eigh"),
      "ttur (scipy sqrtm)": lambda: frechet.calculate_frechet_distance(
          mu1, s1, mu2, s2, method="ttur"),
  }
  values = {k: f() for k, f in timings.items()}
  seconds = {k: median_seconds(f, 1) for k, f in timings.items()}
  print(f"\nOne {d}-d Frechet distance ({FLAGS.fd_samples} samples each):\n")
  print("| method | seconds | FID |")
  print("|---|---|---|")
  for k in timings:
    print(f"| {k} | {seconds[k]:.2f} | {values[k]:.10f} |")
  ratio = seconds["ttur (scipy sqrtm)"] / seconds["eigh (default)"]
  rel = abs(values["eigh (default)"] - values["ttur (scipy sqrtm)"]) / abs(
      values["ttur (scipy sqrtm)"])
  print(f"\neigh is {ratio:.1f}x faster than sqrtm; relative difference "
        f"{rel:.1e}")


if __name__ == "__main__":
  app.run(main)
