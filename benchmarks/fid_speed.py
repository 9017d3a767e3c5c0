"""FID speed: images/s of the fast path against the reference path, and the
seconds of one 2048-d Frechet distance by each method.

Usage: python -m benchmarks.fid_speed [--batches=50,100,200] [--repeats=3]
       [--xla] [--e2e_images=N [--torch_path=DIR]]

--e2e_images adds the end-to-end table: two folders of N 32x32 PNGs to an
FID, the whole `python -m fid A B` process timed, beside pytorch-fid's
`python -m pytorch_fid A B` on the same folders in the same run when it can
be imported (with --torch_path on its PYTHONPATH; offline, through
benchmarks/pytorch_fid_offline.py, with random weights: the same network,
so the same time).

Runs on the synthetic replica of the Inception graph (same shapes and ops
as the real one, random weights), on 32x32 inputs, so it needs no download.
Median of `repeats` timed calls after one warm-up. Prints markdown tables.
"""

from __future__ import annotations

from absl import app
from absl import flags
import numpy as np

from benchmarks.common import fid_extractors
from benchmarks.common import machine
from benchmarks.common import median_seconds
from fid import frechet

flags.DEFINE_list("batches", ["50", "100", "200"], "Batch sizes.")
flags.DEFINE_integer("repeats", 3, "Timed calls per setting.", lower_bound=1)
flags.DEFINE_integer("image_size", 32, "Input side.")
flags.DEFINE_bool("xla", False, "Also time the fast path with XLA.")
flags.DEFINE_integer("fd_samples", 5000, "Samples behind each covariance.")
flags.DEFINE_integer(
  "e2e_images",
  0,
  "Images per folder of the end-to-end table; 0: no such table.",
)
flags.DEFINE_string(
  "torch_path",
  None,
  "A folder with torch, torchvision and pytorch_fid, for the pytorch-fid row.",
)
flags.DEFINE_integer("e2e_batch", 50, "Batch size of both tools end to end.")
FLAGS = flags.FLAGS


def _random_folders(tmp: str, n: int) -> list[str]:
  """Two folders of n random 32x32 PNGs (seeds 0 and 1) under tmp."""
  import os

  from PIL import Image

  folders = []
  for k in range(2):
    folder = os.path.join(tmp, "ab"[k])
    os.makedirs(folder)
    rng = np.random.default_rng(k)
    for i in range(n):
      Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(
        os.path.join(folder, f"{i:06d}.png")
      )
    folders.append(folder)
  return folders


def _tools(folders: list[str], graph: str) -> tuple[list[tuple], bool]:
  """([(name, PYTHONPATH, command)] of the tools to time, whether
  pytorch-fid can be imported and is among them)."""
  import os
  import subprocess
  import sys

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  batch = str(FLAGS.e2e_batch)
  ours = [sys.executable, "-m", "fid", *folders, f"--inception={graph}"]
  rows = [
    (
      "this project (python -m fid)",
      os.environ.get("PYTHONPATH"),
      [*ours, f"--batch_size={batch}", "--quiet"],
    )
  ]
  torch_env = os.pathsep.join(p for p in (FLAGS.torch_path, repo) if p)
  probe = subprocess.run(
    [sys.executable, "-c", "import pytorch_fid"],
    env=dict(os.environ, PYTHONPATH=torch_env),
    capture_output=True,
    check=False,
  )
  if probe.returncode == 0:
    script = os.path.join(repo, "benchmarks", "pytorch_fid_offline.py")
    rows.append(
      (
        "pytorch-fid 0.3.0 (random weights)",
        torch_env,
        [sys.executable, script, *folders, "--device", "cpu"]
        + ["--batch-size", batch],
      )
    )
  return rows, probe.returncode == 0


def _end_to_end() -> None:
  import os
  import subprocess
  import tempfile
  import time

  from fid import testing

  n = FLAGS.e2e_images
  with tempfile.TemporaryDirectory() as tmp:
    folders = _random_folders(tmp, n)
    graph = testing.write_graph_def(os.path.join(tmp, "inception.pb"))
    rows, has_torch = _tools(folders, graph)
    print(
      f"\nEnd to end: two folders of {n} 32x32 PNGs to an FID (whole "
      f"process, batch {FLAGS.e2e_batch}):\n"
    )
    print("| tool | seconds | images/s | ratio to pytorch-fid |")
    print("|---|---|---|---|")
    seconds = {}
    for name, path, command in rows:
      env = dict(os.environ)
      if path:
        env["PYTHONPATH"] = path
      start = time.perf_counter()
      proc = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False
      )
      seconds[name] = time.perf_counter() - start
      if proc.returncode:
        print(
          f"| {name} | failed: {proc.stderr.strip().splitlines()[-1]} | | |"
        )
        seconds.pop(name)
    torch_seconds = next(
      (v for k, v in seconds.items() if "pytorch" in k), None
    )
    for name, value in seconds.items():
      ratio = f"{torch_seconds / value:.2f}x" if torch_seconds else ""
      print(f"| {name} | {value:.1f} | {2 * n / value:.1f} | {ratio} |")
    if not has_torch:
      print(
        "\npytorch-fid not run: it cannot be imported (pass "
        "--torch_path=DIR holding torch, torchvision and pytorch_fid)."
      )


def main(argv):
  del argv
  if FLAGS.e2e_images:
    print(machine())
    _end_to_end()
    return
  extractors = fid_extractors(fold_bn=True, xla=FLAGS.xla)
  print(
    f"{machine()}; {FLAGS.image_size}x"
    f"{FLAGS.image_size} inputs, median of {FLAGS.repeats}\n"
  )
  print("| batch | " + " | ".join(extractors) + " | fast / reference |")
  print("|---" * (len(extractors) + 2) + "|")
  rng = np.random.default_rng(0)
  for batch in map(int, FLAGS.batches):
    images = rng.integers(
      0, 256, (batch, FLAGS.image_size, FLAGS.image_size, 3)
    ).astype(np.float32)
    rates = [
      batch
      / median_seconds(lambda e=e, images=images: e(images), FLAGS.repeats)
      for e in extractors.values()
    ]
    print(
      f"| {batch} | "
      + " | ".join(f"{r:.1f} img/s" for r in rates)
      + f" | {rates[1] / rates[0]:.2f}x |",
      flush=True,
    )

  d = 2048
  mixing = rng.normal(size=(d, d))
  sigmas = []
  for _ in range(2):
    x = np.maximum(rng.normal(size=(FLAGS.fd_samples, d)) @ mixing, 0) * 0.01
    sigmas.append((x.mean(0), np.cov(x, rowvar=False)))
  (mu1, s1), (mu2, s2) = sigmas
  timings = {
    "eigh (default)": lambda: frechet.calculate_frechet_distance(
      mu1, s1, mu2, s2, method="eigh"
    ),
    "ttur (scipy sqrtm)": lambda: frechet.calculate_frechet_distance(
      mu1, s1, mu2, s2, method="ttur"
    ),
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
    values["ttur (scipy sqrtm)"]
  )
  print(
    f"\neigh is {ratio:.1f}x faster than sqrtm; relative difference {rel:.1e}"
  )


if __name__ == "__main__":
  app.run(main)
