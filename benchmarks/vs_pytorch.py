"""DCGAN train steps/s here against the same network and step in PyTorch,
on the machine it runs on, as a markdown table.

Usage: python -m benchmarks.vs_pytorch [--image_size=64] [--width=64]
       [--batch_size=64] [--steps=5]

Rows, each timed in its own process so that no two frameworks share thread
pools, in two modes. The user-run step (the demo, user flagfiles): one
discriminator update and one generator update with Adam at batch
--batch_size (DCGAN of the paper, docs/paper.md A.3.1: 5x5 stride-2
(de)convolutions, batch norm, biases everywhere). The paper step (the
DCGAN paper flagfiles, --extra_g_passes=2): the same and the original's
two more training-mode generator passes, which this project runs as one
pass and a closed form and PyTorch as the two passes a port of the
original would run. This project as `tf_ttur.main` runs it (float32,
oneDNN on), the user-run step also with TF_ENABLE_ONEDNN_OPTS=0
(TensorFlow's own default on CPUs without AVX512_VNNI/AVX512_BF16/AVX_VNNI/
AMX, such as AVX2-only AMD EPYC), and PyTorch (skipped with a note when it
is not installed); each row against PyTorch's of the same mode. Median of
--steps timed steps after 2 warm-up steps. The environment passes through,
so ONEDNN_MAX_CPU_ISA=AVX2 applies to both frameworks' oneDNN.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags

flags.DEFINE_enum(
  "role",
  "table",
  ["table", "tf", "torch"],
  "table: run the rows; tf/torch: time one framework (the rows' subprocesses).",
)
flags.DEFINE_integer("image_size", 64, "32 or 64.")
flags.DEFINE_integer("width", 64, "DCGAN base width (64 in the paper).")
flags.DEFINE_integer("batch_size", 64, "Images per update.")
flags.DEFINE_integer("steps", 5, "Timed steps.", lower_bound=1)
flags.DEFINE_integer(
  "extra_g_passes",
  0,
  "The step's extra training-mode generator passes (the rows' subprocesses).",
  lower_bound=0,
)
FLAGS = flags.FLAGS
WARMUP = 2


def _tf_steps_per_second() -> float:
  from benchmarks.common import time_steps
  from tf_ttur.config import Config

  config = Config.of(
    model="dcgan",
    image_size=FLAGS.image_size,
    width=FLAGS.width,
    batch_size=FLAGS.batch_size,
    extra_g_passes=FLAGS.extra_g_passes,
  )
  _, seconds = time_steps(config, "float32", False, FLAGS.steps, WARMUP)
  return 1 / seconds


def _torch_networks(w: int, s16: int, z_dim: int):
  """The DCGAN generator and discriminator in PyTorch, as this project's
  (5x5 kernels, stride 2, batch norm eps 1e-5, no batch norm in the
  discriminator's first layer)."""
  import torch
  from torch import nn

  def up(cin, cout):
    return nn.ConvTranspose2d(cin, cout, 5, 2, padding=2, output_padding=1)

  class Generator(nn.Module):
    def __init__(self):
      super().__init__()
      self.lin = nn.Linear(z_dim, s16 * s16 * 8 * w)
      self.bn0 = nn.BatchNorm2d(8 * w, momentum=0.1, eps=1e-5)
      blocks = []
      for cin, cout in ((8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w)):
        blocks += [up(cin, cout), nn.BatchNorm2d(cout, eps=1e-5), nn.ReLU()]
      self.body = nn.Sequential(*blocks, up(w, 3), nn.Tanh())

    def forward(self, z):
      x = self.lin(z).view(-1, 8 * w, s16, s16)
      return self.body(torch.relu(self.bn0(x)))

  layers, cin = [], 3
  for i, mult in enumerate((1, 2, 4, 8)):
    layers.append(nn.Conv2d(cin, mult * w, 5, 2, padding=2))
    if i:
      layers.append(nn.BatchNorm2d(mult * w, eps=1e-5))
    layers.append(nn.LeakyReLU(0.2))
    cin = mult * w
  discriminator = nn.Sequential(
    *layers, nn.Flatten(), nn.Linear(s16 * s16 * 8 * w, 1)
  )
  return Generator(), discriminator


def _torch_steps_per_second() -> float:
  import torch
  from torch import nn

  torch.manual_seed(0)
  z_dim = 100
  generator, discriminator = _torch_networks(
    FLAGS.width, -(-FLAGS.image_size // 16), z_dim
  )
  d_opt = torch.optim.Adam(discriminator.parameters(), 1e-4, (0.5, 0.999))
  g_opt = torch.optim.Adam(generator.parameters(), 5e-4, (0.5, 0.999))
  bce = nn.BCEWithLogitsLoss()
  real = (
    torch.rand(FLAGS.batch_size, 3, FLAGS.image_size, FLAGS.image_size) * 2 - 1
  )
  ones = torch.ones(FLAGS.batch_size, 1)
  zeros = torch.zeros(FLAGS.batch_size, 1)

  def step():
    z = torch.rand(FLAGS.batch_size, z_dim) * 2 - 1
    with torch.no_grad():
      fake = generator(z)
    d_loss = bce(discriminator(real), ones) + bce(discriminator(fake), zeros)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    g_loss = bce(discriminator(generator(z)), ones)
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    with torch.no_grad():  # The original's loss evaluations, in train mode.
      for _ in range(FLAGS.extra_g_passes):
        generator(z)

  times = []
  for i in range(WARMUP + FLAGS.steps):
    start = time.perf_counter()
    step()
    if i >= WARMUP:
      times.append(time.perf_counter() - start)
  return 1 / statistics.median(times)


def _row(role: str, passes: int, env: dict) -> float | None:
  """steps/s from a subprocess of this script, None if it could not run."""
  args = [
    sys.executable,
    "-m",
    "benchmarks.vs_pytorch",
    f"--role={role}",
    f"--image_size={FLAGS.image_size}",
    f"--width={FLAGS.width}",
    f"--batch_size={FLAGS.batch_size}",
    f"--steps={FLAGS.steps}",
    f"--extra_g_passes={passes}",
  ]
  proc = subprocess.run(
    args, env={**os.environ, **env}, capture_output=True, text=True, check=False
  )
  for line in proc.stdout.splitlines():
    if line.startswith("{"):
      return json.loads(line)["steps_per_sec"]
  tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
  print(f"({role} {env or ''}: {tail})", file=sys.stderr)
  return None


def main(argv):
  del argv
  if FLAGS.role != "table":
    rate = (
      _tf_steps_per_second()
      if FLAGS.role == "tf"
      else _torch_steps_per_second()
    )
    print(json.dumps({"steps_per_sec": rate}))
    return
  from tf_ttur import hardware

  model, flags_ = hardware.cpu_info()
  named = [f.upper() for f in hardware.NAMED_CPU_FLAGS if f in flags_]
  isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
  print(
    f"{model} [{' '.join(named)}], {os.cpu_count()} logical cores"
    + (f", ONEDNN_MAX_CPU_ISA={isa}" if isa else "")
    + f"; DCGAN-{FLAGS.image_size}, width {FLAGS.width}, batch "
    f"{FLAGS.batch_size}, float32, one D and one G update per step, "
    f"median of {FLAGS.steps}\n"
  )
  onednn_off = {"TF_ENABLE_ONEDNN_OPTS": "0"}
  rows = [
    ("user run", "this project (oneDNN on)", "tf", 0, {}),
    ("user run", "this project, TF_ENABLE_ONEDNN_OPTS=0", "tf", 0, onednn_off),
    ("user run", "PyTorch", "torch", 0, {}),
    ("paper (2 extra G passes)", "this project (oneDNN on)", "tf", 2, {}),
    ("paper (2 extra G passes)", "PyTorch", "torch", 2, {}),
  ]
  rates = {
    (mode, name): _row(role, passes, env)
    for mode, name, role, passes, env in rows
  }
  print("| step | implementation | steps/s | / PyTorch |")
  print("|---|---|---|---|")
  for (mode, name), rate in rates.items():
    if rate is None:
      print(f"| {mode} | {name} | not run (see stderr) | |")
      continue
    torch_rate = rates[(mode, "PyTorch")]
    ratio = f"{rate / torch_rate:.2f}x" if torch_rate else ""
    print(f"| {mode} | {name} | {rate:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
  app.run(main)
