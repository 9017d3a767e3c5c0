"""XLA and reduced precision, the GPU's defaults, for every family on CPU:
each runs 2 train steps with jit_compile=True in float32, mixed_bfloat16
and mixed_float16 (with loss scaling), at widths small enough for CPU
(a family's second, 64x64 graph in mixed_float16 only: SIZE_VARIANTS).
Losses are finite; float32 under XLA agrees with the step without it; the
float16 loss scale moves as Keras documents (unchanged over finite steps,
halved by a non-finite one, whose update is skipped)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_ttur import builder
from tf_ttur.config import Config
from tf_ttur.families import FAMILIES

# Every family, and the shapes that change its graph (the merged critic of
# the original WGAN-GP at 32x32; 64x64).
CASES = {
  "dcgan32": dict(model="dcgan", image_size=32),
  "dcgan64": dict(model="dcgan", image_size=64),
  "wgan_gp32_merged": dict(
    model="wgan_gp", image_size=32, critic_flatten="original"
  ),
  "wgan_gp64": dict(model="wgan_gp", image_size=64),
  "began64": dict(model="began", image_size=64),
  "language": dict(model="language", dataset="english"),
  "sngan32": dict(model="sngan", image_size=32),
}
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# A family's 64x64 graph beside its 32x32 one: the same layers and the same
# precision logic, one more up- and downsampling; it runs under the GPU's
# float16 with loss scaling, the precisions' arithmetic under XLA being
# held on the 32x32 graph (the suite's slowest cases, halved).
SIZE_VARIANTS = {"dcgan64": "dcgan32", "wgan_gp64": "wgan_gp32_merged"}
MATRIX = [
  (case, precision)
  for case in sorted(CASES)
  for precision in PRECISIONS
  if case not in SIZE_VARIANTS or precision == "mixed_float16"
]
BATCH = 4
VOCAB = 12
# float32 with and without XLA: the same arithmetic in another order.
RTOL, ATOL = 1e-4, 1e-5


def test_every_family_is_in_the_matrix():
  assert {case["model"] for case in CASES.values()} == set(FAMILIES)
  # Every family in every precision, on one of its graphs at least.
  for precision in PRECISIONS:
    assert {CASES[c]["model"] for c, p in MATRIX if p == precision} == set(
      FAMILIES
    )
  for variant, base in SIZE_VARIANTS.items():
    assert CASES[variant]["model"] == CASES[base]["model"]


def _config(case: str) -> Config:
  return Config.of(
    z_dim=8,
    width=4 if case != "language" else 8,
    batch_size=BATCH,
    **CASES[case],
  )


def _batch(config: Config, model, seed: int = 0) -> dict:
  """One step's input with its noise given (no random op in the step)."""
  rng = np.random.default_rng(seed)
  n = model.real_batches
  if config.family.modality.name == "text":
    ids = rng.integers(0, VOCAB, (BATCH, n, 32))
    real = np.eye(VOCAB, dtype=np.float32)[ids]
  else:
    side = config.data.image_size
    real = rng.uniform(-1, 1, (BATCH, n, side, side, 3)).astype(np.float32)
  z = rng.normal(size=(BATCH, model.z_columns, config.network.z_dim))
  alpha = rng.uniform(size=(BATCH, n))
  return {
    "real": real,
    "z": z.astype(np.float32),
    "alpha": alpha.astype(np.float32),
  }


def _train(config: Config, precision: str, jit: bool, steps: int = 2):
  size = VOCAB if config.family.modality.name == "text" else None
  # As train() does: what is not seeded per layer (the spectral norms'
  # starting vectors) comes from the global seed.
  keras.utils.set_random_seed(0)
  model = builder.build_model(config, precision, size=size, jit_compile=jit)
  batches = [_batch(config, model, seed) for seed in range(steps)]
  ds = tf.data.Dataset.from_tensor_slices(
    {key: np.stack([b[key] for b in batches]) for key in batches[0]}
  )
  history = model.fit(
    ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False
  )
  return model, history.history


def _scale(optimizer, name: str) -> float:
  return float(
    next(v for v in optimizer.variables if v.path.endswith(name)).numpy()
  )


@pytest.mark.slow
# float16 overflows by design here (the loss scale's first steps, the NaN
# step); NumPy says so when TensorFlow casts the logged values.
@pytest.mark.filterwarnings(
  "ignore:overflow encountered in cast:RuntimeWarning"
)
@pytest.mark.parametrize("case, precision", MATRIX)
def test_two_xla_steps(case, precision):
  config = _config(case)
  model, logs = _train(config, precision, jit=True)
  for name, values in logs.items():
    assert np.all(np.isfinite(values)), (name, values)
  if precision == "float32":
    # The same losses, and the same generator afterwards (its samples at a
    # fixed z: a bias before a batch norm has no gradient but rounding
    # noise, which Adam scales up, so weights are not compared one by one).
    eager, eager_logs = _train(config, precision, jit=False)
    for name in logs:
      np.testing.assert_allclose(
        logs[name], eager_logs[name], rtol=RTOL, atol=ATOL, err_msg=name
      )
    z = np.random.default_rng(5).normal(size=(BATCH, config.network.z_dim))
    np.testing.assert_allclose(
      model.generator(z.astype(np.float32), training=False),
      eager.generator(z.astype(np.float32), training=False),
      rtol=RTOL,
      atol=10 * ATOL,
    )
  if precision == "mixed_float16":
    for optimizer in (model.d_optimizer, model.g_optimizer):
      # Keras's dynamic scaling: 2**15 at the start, halved at each step
      # whose gradients overflow, doubled after 2,000 finite ones.
      scale = _scale(optimizer, "dynamic_scale")
      assert scale in (2.0**15, 2.0**14, 2.0**13, 2.0**12), scale
    scale = _scale(model.d_optimizer, "dynamic_scale")
    # A non-finite step (NaN real images, test hook): the discriminator's
    # gradients are not finite, so its scale halves and its Adam skips the
    # update (its iteration count stays; what a forward pass moves, batch
    # norm averages and the spectral norms' u, can move).
    inner = model.d_optimizer.inner_optimizer
    updates = int(inner.iterations.numpy())
    model.debug_nan_at_step.assign(3)
    ds = tf.data.Dataset.from_tensors(_batch(config, model, 9))
    model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    assert _scale(model.d_optimizer, "dynamic_scale") == scale / 2
    assert int(inner.iterations.numpy()) == updates
