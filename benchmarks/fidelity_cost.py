"""What the original's quirks cost a train step, each off and on.

    python -m benchmarks.fidelity_cost [--steps=5]

Two habits of the original cost compute beyond the updates themselves, and
only the paper flagfiles pay for them (user runs leave both off):

- DCGAN (model.py) runs G twice more in training mode after its update
  (its loss evaluations for logging), which moves G's batch-norm averages:
  `--extra_g_passes=2`, run as one pass and a closed form (tf_ttur.gan).
- BEGAN (trainer_fid_batched.py) updates k_t in a second session.run after
  the step, on a new real batch and a new z, with the updated weights: one
  more G forward and two D forwards a step, `--kt_update=original`.

For each, the median seconds of the paper-size train step through fit()
(float32, random images in memory) with the quirk off and on, and the
ratio. Prints one table with the machine.
"""

from __future__ import annotations

from absl import app
from absl import flags

from benchmarks import common
from tf_ttur.config import Config

flags.DEFINE_integer(
  "steps", 5, "Timed steps of each configuration.", lower_bound=1
)
FLAGS = flags.FLAGS

CASES = (
  (
    "DCGAN-32 (batch 64)",
    "--extra_g_passes=2",
    Config.of(model="dcgan", image_size=32),
    {"extra_g_passes": 2},
  ),
  (
    "DCGAN-64 (batch 64)",
    "--extra_g_passes=2",
    Config.of(model="dcgan", image_size=64),
    {"extra_g_passes": 2},
  ),
  (
    "BEGAN-64 (n=128, batch 16)",
    "--kt_update=original",
    Config.of(
      model="began",
      image_size=64,
      width=128,
      z_dim=64,
      batch_size=16,
      beta_1=0.9,
    ),
    {"kt_update": "original"},
  ),
)


def main(argv):
  del argv
  print(f"machine: {common.machine()}")
  print("| step | quirk | off (s) | on (s) | on / off |")
  print("|---|---|---|---|---|")
  for label, flag, config, quirk in CASES:
    _, off = common.time_steps(config, "float32", False, FLAGS.steps)
    _, on = common.time_steps(
      config.replace(**quirk), "float32", False, FLAGS.steps
    )
    print(
      f"| {label} | `{flag}` | {off:.3f} | {on:.3f} | {on / off:.2f} |",
      flush=True,
    )


if __name__ == "__main__":
  app.run(main)
