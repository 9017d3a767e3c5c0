"""How long a run takes to stop after SIGTERM arrives during an FID.

    python -m benchmarks.sigterm_latency [--fid_samples=5000]

Trains the demo for 50 steps with an FID every 50 steps on the synthetic
replica of the 2015 Inception graph (its real shapes, so its speed), sends
SIGTERM 5 s into the FID and times the exit: the evaluation is abandoned
between two batches (tf_ttur.evaluation), so the bound is about one batch
through Inception plus the shutdown. Prints one table with the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from benchmarks import common

flags.DEFINE_integer("fid_samples", 5000, "Samples of the FID that is cut.")
flags.DEFINE_integer("fid_batch_size", 100, "Its batch size.")
flags.DEFINE_float("wait", 5.0, "Seconds into the FID before the signal.")
FLAGS = flags.FLAGS


def measure(folder: str) -> tuple[int, float]:
  import numpy as np

  from fid import testing

  graph = testing.write_graph_def(os.path.join(folder, "g.pb"))
  stats = os.path.join(folder, "stats.npz")
  np.savez(stats, mu=np.zeros(2048), sigma=np.eye(2048))
  args = [
    sys.executable,
    "-m",
    "tf_ttur.main",
    "--flagfile=configs/demo.flags",
    f"--workdir={folder}/run",
    "--train_steps=100",
    "--log_every=50",
    "--checkpoint_every=50",
    "--sample_every=50",
    "--quality_every=0",
    "--fid_every=50",
    f"--fid_samples={FLAGS.fid_samples}",
    f"--fid_batch_size={FLAGS.fid_batch_size}",
    f"--fid_stats={stats}",
    f"--fid_inception={graph}",
    "--export=false",
  ]
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, cwd=repo)
  sent = None
  for line in proc.stderr:
    if "step 50/100" in line:
      time.sleep(FLAGS.wait)
      sent = time.monotonic()
      proc.send_signal(signal.SIGTERM)
      break
  proc.stderr.read()
  proc.wait()
  if sent is None:
    raise SystemExit(f"the run ended before step 50 (exit {proc.returncode})")
  return proc.returncode, time.monotonic() - sent


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as folder:
    code, seconds = measure(folder)
  print(common.machine())
  print()
  print("| FID samples | batch | signal after | exit code | s to exit |")
  print("|---|---|---|---|---|")
  print(
    f"| {FLAGS.fid_samples} | {FLAGS.fid_batch_size} | {FLAGS.wait:.0f} s "
    f"| {code} | {seconds:.1f} |"
  )


if __name__ == "__main__":
  app.run(main)
