"""How much one WGAN-GP train step on ONE device moves when its starting
weights are perturbed at the level of float32 rounding.

Each weight w becomes w * (1 +- ulps * 2**-23) (a random sign per entry),
then the same step as tests/scripts/mirrored_step.py (same batch, noise,
seed and Adam epsilon) runs from both the exact and the perturbed weights.
The printed max_diff is what rounding alone can do to that step; a
MirroredStrategy step, whose convolutions and reductions round differently,
cannot be expected to agree more closely than that.

Usage: rounding_sensitivity.py [--n_critic=2] [--ulps=2] [--seed=0]
       [--perturbation_seed=1]
Measured (TF 2.21, CPU): n_critic=2, seed 0, ulps=2 -> 1.22e-5 (the mirrored
difference for the same seed is 1.22e-5); n_critic=1 -> 3.6e-7.
"""

import json
import sys

import numpy as np
import tensorflow as tf

from tf_ttur import builder
from tf_ttur.config import Config


def main(n_critic=2, ulps=2.0, seed=0, perturbation_seed=1):
  config = Config.of(
    image_size=32,
    z_dim=8,
    width=4,
    batch_size=8,
    adam_epsilon=1e-3,
    model="wgan_gp",
    n_critic=n_critic,
    beta_1=0.0,
    beta_2=0.9,
    d_lr=3e-4,
    g_lr=1e-4,
  )
  rng = np.random.default_rng(seed)
  batch = {
    "real": rng.uniform(-1, 1, (8, n_critic, 32, 32, 3)).astype(np.float32),
    "z": rng.normal(size=(8, n_critic, 8)).astype(np.float32),
    "alpha": rng.uniform(size=(8, n_critic)).astype(np.float32),
  }
  signs = np.random.default_rng(perturbation_seed)
  results = []
  for scale in (0.0, ulps * 2.0**-23):
    model = builder.build_model(config, "float32")
    for v in model.generator.weights + model.discriminator.weights:
      w = v.numpy()
      v.assign(
        (w * (1 + scale * signs.choice([-1, 1], w.shape))).astype(w.dtype)
      )
    model.fit(
      tf.data.Dataset.from_tensors(batch).repeat(),
      steps_per_epoch=1,
      epochs=1,
      verbose=0,
      shuffle=False,
    )
    results.append(
      [v.numpy() for v in model.generator.weights + model.discriminator.weights]
    )
  max_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(*results))
  print(
    json.dumps(
      {
        "n_critic": n_critic,
        "ulps": ulps,
        "seed": seed,
        "perturbation_seed": perturbation_seed,
        "max_diff": max_diff,
      }
    )
  )


if __name__ == "__main__":
  kwargs = {}
  for arg in sys.argv[1:]:
    key, _, value = arg.lstrip("-").partition("=")
    kwargs[key] = float(value) if key == "ulps" else int(value)
  main(**kwargs)
