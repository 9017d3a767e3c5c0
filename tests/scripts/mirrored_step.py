"""One train step on one device and under MirroredStrategy over two logical
CPU devices, from the same weights and the same batch (noise included).
Prints a JSON line per model with the largest weight difference. Run as a
subprocess: logical devices must be configured before TensorFlow starts.

Adam's epsilon is 1e-3 here: with the paper's 1e-8, Adam's first step turns
gradients that are zero in exact arithmetic (the bias of a layer followed by
batch norm) into +-lr steps whose sign is rounding noise, in both settings.
A larger epsilon keeps those steps near zero, so the comparison measures
the strategy, not the noise."""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
  cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import numpy as np  # noqa: E402

from tf_ttur import builder  # noqa: E402
from tf_ttur import runtime  # noqa: E402
from tf_ttur.config import Config  # noqa: E402

MODELS = {
  "dcgan": dict(model="dcgan", n_critic=1),
  # One critic step by default. With 2, the weights can differ by up to
  # 1.2e-5 (seed 0): the same jump that a 2-ulp perturbation of the
  # starting weights gives on one device (rounding_sensitivity.py), so a
  # property of the training step, not of the strategy.
  "wgan_gp": dict(
    model="wgan_gp", n_critic=1, beta_1=0.0, beta_2=0.9, d_lr=3e-4, g_lr=1e-4
  ),
}


def weights(model):
  return [
    v.numpy() for v in model.generator.weights + model.discriminator.weights
  ]


def main(names, n_critic=None):
  for name in names:
    overrides = dict(MODELS[name])
    if n_critic is not None:
      overrides["n_critic"] = n_critic
    config = Config.of(
      image_size=32,
      z_dim=8,
      width=4,
      batch_size=8,
      adam_epsilon=1e-3,
      **overrides,
    )
    rng = np.random.default_rng(0)
    n = config.optimization.n_critic
    batch = {
      "real": rng.uniform(-1, 1, (8, n, 32, 32, 3)).astype(np.float32),
      "z": rng.normal(size=(8, n, 8)).astype(np.float32),
      "alpha": rng.uniform(size=(8, n)).astype(np.float32),
    }
    ds = tf.data.Dataset.from_tensors(batch).repeat()
    single = builder.build_model(config, "float32")
    start = weights(single)
    strategy = runtime.make_strategy("mirrored")
    with strategy.scope():
      mirrored = builder.build_model(config, "float32", sync_batch_norm=True)
    for v, w in zip(
      mirrored.generator.weights + mirrored.discriminator.weights, start
    ):
      v.assign(w)
    for model in (single, mirrored):
      model.fit(ds, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    diffs = [
      float(np.max(np.abs(a - b)))
      for a, b in zip(weights(single), weights(mirrored))
    ]
    names = [
      v.path for v in single.generator.weights + single.discriminator.weights
    ]
    worst = sorted(zip(diffs, names))[-3:]
    moved = max(
      float(np.max(np.abs(a - b))) for a, b in zip(weights(single), start)
    )
    print(
      json.dumps(
        {
          "model": name,
          "replicas": strategy.num_replicas_in_sync,
          "max_diff": max(diffs),
          "moved": moved,
          "d_iterations": [
            int(m.d_optimizer.iterations.numpy()) for m in (single, mirrored)
          ],
          "step": [int(m.step.numpy()) for m in (single, mirrored)],
          "worst": worst,
        }
      ),
      flush=True,
    )


if __name__ == "__main__":
  # Usage: mirrored_step.py [dcgan] [wgan_gp] [--n_critic=N]
  args = [a for a in sys.argv[1:] if not a.startswith("--n_critic=")]
  critic = [
    int(a.split("=")[1]) for a in sys.argv[1:] if a.startswith("--n_critic=")
  ]
  main(args or sorted(MODELS), *critic)
