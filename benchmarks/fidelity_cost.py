"""What following the original to the letter costs per train step.

    python -m benchmarks.fidelity_cost [--steps=10]

Two of the original's habits cost compute beyond the updates themselves:

- BEGAN (trainer_fid_batched.py) updates k_t in a second session.run after
  the step, on a new real batch and a new z, with the updated weights: one
  more G forward and two D forwards a step. The project updates k_t from
  the step's own losses (docs/paper.md A.6 declares it).
- DCGAN (model.py) runs G twice more in training mode after its update
  (its loss evaluations for logging), which moves G's batch-norm averages;
  the project runs the same two forward passes.

For each, the median seconds of the paper-size train step (float32,
random images in memory) and of the extra work, and their ratio. Prints
one table with the machine.
"""

from __future__ import annotations

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from benchmarks import common
from tf_ttur import builder
from tf_ttur import losses
from tf_ttur.config import Config

flags.DEFINE_integer("steps", 10, "Timed calls of each function.")
FLAGS = flags.FLAGS


def _began():
  config = Config.of(model="began", image_size=64, width=128, z_dim=64,
                     batch_size=16, beta_1=0.9)
  model = builder.build_model(config, "float32")
  rng = np.random.default_rng(0)
  real = tf.constant(rng.uniform(-1, 1, (16, 1, 64, 64, 3)), tf.float32)
  z = tf.constant(rng.uniform(-1, 1, (16, 1, 64)), tf.float32)
  data = {"real": real, "z": z, "alpha": tf.zeros((16, 1))}
  step = tf.function(model.train_step)

  @tf.function
  def k_update_pass():
    # The original's second run: new batch and z, the updated weights.
    fake = model.generator(z[:, 0], training=True)
    loss_real = losses.l1_reconstruction(
        model.discriminator(real[:, 0], training=True), real[:, 0])
    loss_fake = losses.l1_reconstruction(
        model.discriminator(fake, training=True), fake)
    return losses.began_k_update(model.k_t, loss_real, loss_fake)

  return ("BEGAN-64 (n=128, batch 16): k_t pass on a new batch",
          lambda: step(data), k_update_pass)


def _dcgan(size: int):
  config = Config.of(model="dcgan", image_size=size)
  model = builder.build_model(config, "float32")
  rng = np.random.default_rng(0)
  real = tf.constant(rng.uniform(-1, 1, (64, 1, size, size, 3)), tf.float32)
  z = tf.constant(rng.uniform(-1, 1, (64, 1, 100)), tf.float32)
  data = {"real": real, "z": z, "alpha": tf.zeros((64, 1))}
  step = tf.function(model.train_step)
  extra = tf.function(lambda: [model.generator(z[:, 0], training=True)
                               for _ in range(2)][-1])
  return (f"DCGAN-{size} (batch 64): 2 G batch-norm passes (in the step)",
          lambda: step(data), extra)


def main(argv):
  del argv
  print(f"machine: {common.machine()}")
  print("| what | step (s) | extra work (s) | extra / step |")
  print("|---|---|---|---|")
  for label, step, extra in (_began(), _dcgan(32), _dcgan(64)):
    step_s = common.median_seconds(step, FLAGS.steps)
    extra_s = common.median_seconds(lambda extra=extra: extra().numpy(),
                                    FLAGS.steps)
    print(f"| {label} | {step_s:.3f} | {extra_s:.3f} | "
          f"{extra_s / step_s:.0%} |")


if __name__ == "__main__":
  app.run(main)
