"""The GAN as one keras.Model: generator, discriminator, two Adams, train_step.

TTUR (Heusel et al. 2017) gives the discriminator and the generator their own
learning rates; here each network has its own `keras.optimizers.Adam` and is
updated only by it. `fit()` drives the loop; `compile(optimizer=None)` stops
Keras from creating an unused optimizer, and both optimizers are built before
fit and before a checkpoint restore (docs/paper.md C: otherwise train_step is
traced twice and Adam's slots are silently not restored).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tf_ttur import losses as losses_lib


def make_adam(
  learning_rate: float,
  beta_1: float,
  beta_2: float,
  epsilon: float,
  name: str,
  loss_scaling: bool,
  halve_every: int = 0,
) -> keras.optimizers.Optimizer:
  """An Adam, wrapped in a LossScaleOptimizer when loss_scaling (float16).

  halve_every > 0 halves the learning rate every that many of this
  optimizer's own updates (BEGAN: every 100k steps).
  """
  if halve_every > 0:
    learning_rate = keras.optimizers.schedules.ExponentialDecay(
      learning_rate, halve_every, 0.5, staircase=True
    )
  adam = keras.optimizers.Adam(
    learning_rate=learning_rate,
    beta_1=beta_1,
    beta_2=beta_2,
    epsilon=epsilon,
    name=name,
  )
  if loss_scaling:
    # compile() only wraps self.optimizer; ours are attributes, so by hand.
    return keras.optimizers.LossScaleOptimizer(adam, name=f"{name}_scaled")
  return adam


def real_batches_per_step(n_critic: int, kt_next_batch: bool) -> int:
  """Real batches a train step reads: one per discriminator update, and
  BEGAN's k_t pass its own with --kt_update=original (kt_next_batch)."""
  return n_critic + int(kt_next_batch)


@dataclasses.dataclass(frozen=True, kw_only=True)
class UpdateRule:
  """How one step updates the two networks (GAN's docstring says each as
  the original code does): n_critic discriminator updates per generator
  update, whether the generator's update draws a z of its own, how many
  more batch-norm passes follow it, and whether BEGAN's k_t is updated
  from a second pass on the next batch."""

  n_critic: int = 1
  fresh_g_z: bool = False
  extra_g_passes: int = 0
  kt_next_batch: bool = False


def _counter(name: str, initial: int) -> keras.Variable:
  """An int64 step counter, not trained, whose value is the first
  replica's (one replica's increment counts)."""
  return keras.Variable(
    initial,
    dtype="int64",
    trainable=False,
    name=name,
    aggregation="only_first_replica",
  )


class GAN(keras.Model):
  """A generator/discriminator pair trained with two time-scale updates.

  Each train_step does `n_critic` discriminator updates, each on its own slice
  of the real batch (the pipeline delivers n_critic * batch_size images) and
  its own z, then one generator update. Which z the generator update sees
  is the original's (docs/paper.md A.3, A.4): with fresh_g_z False
  (DCGAN_FID_batched) the last discriminator update's z, with fresh_g_z
  True (WGAN-GP images and language, whose generator op draws its own
  noise) a z of its own, the pipeline's extra column. WGAN-GP's original
  order, G then n_critic critic steps with G skipped at iteration 0, is the
  same sequence of updates. extra_g_passes > 0 (the DCGAN paper runs)
  moves the generator's batch-norm averages as that many more training-mode
  passes after its update would, as the original's loss evaluations for
  logging did (one pass, the rest in closed form). A family with a joint
  update (BEGAN) updates both networks from one forward pass and then its k_t:
  from that pass, or with kt_next_batch, as the original, from a second
  pass on the next real batch and z with the updated weights.
  """

  def __init__(
    self,
    generator: keras.Model,
    discriminator: keras.Model,
    loss: losses_lib.LossFamily,
    z_dim: int,
    z_distribution: str,
    rule: UpdateRule = UpdateRule(),
    seed: int = 0,
    **kwargs,
  ):
    super().__init__(**kwargs)
    self.generator = generator
    self.discriminator = discriminator
    self.loss_family = loss
    self.z_dim = z_dim
    self.z_distribution = z_distribution
    self.n_critic = rule.n_critic
    self.fresh_g_z = rule.fresh_g_z
    self.extra_g_passes = rule.extra_g_passes
    self.kt_next_batch = rule.kt_next_batch
    self.seed_generator = keras.random.SeedGenerator(seed)
    self.trackers = [
      keras.metrics.Mean(name=n)
      for n in ("d_loss", "g_loss", *self.loss_family.d_metrics)
    ]
    # Updated in replica context: one replica's increment counts, and k_t
    # takes the replicas' mean (exact for its linear update before clipping).
    self.step = _counter("step", 0)
    # BEGAN's equilibrium control k_t; checkpointed with the step.
    self.k_t = keras.Variable(
      0.0, dtype="float32", trainable=False, name="k_t", aggregation="mean"
    )
    # The first step whose losses were not finite (-1: none yet), read by
    # the NonFiniteGuard callback once per logging interval; not saved.
    self.nonfinite_step = _counter("nonfinite_step", -1)
    # Test hook (--debug_nan_at_step): that step's real images become NaN.
    self.debug_nan_at_step = _counter("debug_nan_at_step", 0)
    # Both networks are built; without this, fit() under a distribution
    # strategy would trace call() on a training batch to build the model.
    self.built = True

  def compile(
    self,
    d_optimizer: keras.optimizers.Optimizer,
    g_optimizer: keras.optimizers.Optimizer,
    jit_compile: bool = False,
    **kwargs,
  ) -> None:
    super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
    self.d_optimizer = d_optimizer
    self.g_optimizer = g_optimizer
    self.d_optimizer.build(self.discriminator.trainable_variables)
    self.g_optimizer.build(self.generator.trainable_variables)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    # Keras (3.15, TF backend) builds a model created under a strategy by
    # pulling one batch from fit()'s iterator, which would shift the data
    # stream by one batch against the default strategy, and by reducing it
    # across replicas, which fails for a dict batch under
    # MultiWorkerMirroredStrategy. Both networks and both optimizers are
    # built by compile(), so there is nothing left to build.
    del iterator, data_batch

  @property
  def metrics(self):
    return self.trackers

  def sample_z(self, batch_size) -> tf.Tensor:
    """z from the model's seed generator (the pipeline normally brings z)."""
    shape = (batch_size, self.z_dim)
    if self.z_distribution == "uniform":
      return keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator)
    return keras.random.normal(shape, seed=self.seed_generator)

  def call(self, z, training=False):
    return self.generator(z, training=training)

  @staticmethod
  def _update(optimizer, tape, scaled_loss, variables) -> None:
    # Under float16, scaled_loss = loss * scale (optimizer.scale_loss) and
    # LossScaleOptimizer.apply unscales, skipping non-finite steps; for a
    # plain Adam scale_loss is the identity.
    optimizer.apply(tape.gradient(scaled_loss, variables), variables)

  @property
  def real_batches(self) -> int:
    """Real batches per step (real_batches_per_step)."""
    return real_batches_per_step(self.n_critic, self.kt_next_batch)

  @property
  def z_columns(self) -> int:
    """z per example and step: one per real batch, plus the generator's
    own with fresh_g_z."""
    return self.real_batches + int(self.fresh_g_z)

  def _unpack(self, data):
    """(real [B, n, ...], z [B, z_columns, z_dim], alpha [B, n]) from a
    batch.

    The pipeline's dicts carry their own noise (data/noise.py); a plain
    tensor of n_critic * B images (tests, benchmarks) gets noise from the
    model's seed generator.
    """
    if isinstance(data, dict):
      return data["real"], data["z"], data["alpha"]
    real = data[0] if isinstance(data, (tuple, list)) else data
    real = tf.stack(tf.split(real, self.real_batches, axis=0), axis=1)
    batch_size = tf.shape(real)[0]
    z = tf.reshape(
      self.sample_z(batch_size * self.z_columns),
      [batch_size, self.z_columns, self.z_dim],
    )
    alpha = keras.random.uniform(
      (batch_size, self.real_batches), seed=self.seed_generator
    )
    return real, z, alpha

  def train_step(self, data):
    real, z, alpha = self._unpack(data)
    this_step = self.step + 1
    # The test hook costs a comparison per step, not a multiply of every
    # real batch.
    real = tf.cond(
      tf.equal(this_step, self.debug_nan_at_step),
      lambda: real * tf.constant(float("nan"), real.dtype),
      lambda: real,
    )
    # Gradients are summed over replicas: each replica's mean loss is
    # divided by their number, so the update is that of the global batch.
    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    if self.loss_family.joint_update:
      logs = self._joint_step(real, z, replicas)
    else:
      logs = self._alternating_step(real, z, alpha, replicas)
    finite = tf.reduce_all(
      [
        tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32)))
        for v in logs.values()
      ]
    )
    self.nonfinite_step.assign(
      tf.where(
        tf.logical_or(finite, self.nonfinite_step >= 0),
        self.nonfinite_step,
        this_step,
      )
    )
    self.step.assign_add(1)
    for tracker in self.trackers:
      tracker.update_state(logs[tracker.name])
    results = {m.name: m.result() for m in self.metrics}
    if isinstance(
      tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy
    ):
      # Keras 3.15 reduces fit()'s step outputs under multi-worker with
      # strategy.reduce("MEAN", value, axis=0), which needs an axis to
      # reduce: give each scalar one (the mean of equal values is the value).
      results = {name: value[None] for name, value in results.items()}
    return results

  def _alternating_step(self, real, z, alpha, replicas):
    family = self.loss_family
    d_vars = self.discriminator.trainable_variables
    g_vars = self.generator.trainable_variables
    for i in range(self.n_critic):
      with tf.GradientTape() as tape:
        fake = self.generator(z[:, i], training=True)
        d_loss, extra = family.d_loss(self, real[:, i], fake, alpha[:, i])
        scaled = self.d_optimizer.scale_loss(d_loss / replicas)
      self._update(self.d_optimizer, tape, scaled, d_vars)
    # z[:, -1]: the last critic update's (shared) or the generator's own.
    with tf.GradientTape() as tape:
      fake = self.generator(z[:, -1], training=True)
      g_loss = family.g_loss(self, fake)
      scaled = self.g_optimizer.scale_loss(g_loss / replicas)
    self._update(self.g_optimizer, tape, scaled, g_vars)
    if self.extra_g_passes:
      move_batch_norm_averages(self.generator, z[:, -1], self.extra_g_passes)
    return {"d_loss": d_loss, "g_loss": g_loss, **extra}

  def _joint_step(self, real_batches, z_columns, replicas):
    real, z = real_batches[:, 0], z_columns[:, 0]
    d_vars = self.discriminator.trainable_variables
    g_vars = self.generator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
      fake = self.generator(z, training=True)
      d_loss, g_loss, extra = self.loss_family.joint(self, real, fake)
      d_scaled = self.d_optimizer.scale_loss(d_loss / replicas)
      g_scaled = self.g_optimizer.scale_loss(g_loss / replicas)
    d_grads = tape.gradient(d_scaled, d_vars)
    g_grads = tape.gradient(g_scaled, g_vars)
    del tape
    self.d_optimizer.apply(d_grads, d_vars)
    self.g_optimizer.apply(g_grads, g_vars)
    loss_real, loss_fake = extra["loss_real"], extra["loss_fake"]
    if self.kt_next_batch:
      # The original's second session.run: the queue's next batch, a new
      # z and the weights just updated (docs/paper.md A.3.3).
      _, _, again = self.loss_family.joint(
        self, real_batches[:, 1], self.generator(z_columns[:, 1], training=True)
      )
      loss_real, loss_fake = again["loss_real"], again["loss_fake"]
    self.k_t.assign(losses_lib.began_k_update(self.k_t, loss_real, loss_fake))
    return {"d_loss": d_loss, "g_loss": g_loss, **extra}


def batch_norm_layers(network: keras.Model) -> list:
  """The BatchNormalization layers of a network, nested models included."""
  found = []
  for layer in network.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      found.append(layer)
    elif hasattr(layer, "layers"):
      found.extend(batch_norm_layers(layer))
  return found


def move_batch_norm_averages(
  generator: keras.Model, z: tf.Tensor, passes: int
) -> None:
  """What `passes` training-mode passes of generator(z) do to its
  batch-norm averages, in one pass.

  Every pass sees the same weights and z, hence the same batch statistics
  s, and one moves an average m to momentum * m + (1 - momentum) * s; after
  n passes m_n = m + (m_1 - m) (1 - momentum^n) / (1 - momentum). So one
  pass gives m_1 and the rest is that closed form (the DCGAN paper runs'
  two loss evaluations, docs/paper.md A.3.1). Read and assigned in replica
  context: the same arithmetic on every replica, no layer attribute
  changed while the step is traced.
  """
  layers = batch_norm_layers(generator)
  before = [
    (tf.identity(layer.moving_mean), tf.identity(layer.moving_variance))
    for layer in layers
  ]
  with tf.control_dependencies([v for pair in before for v in pair]):
    generator(z, training=True)
  if passes == 1:
    return
  for layer, (mean, variance) in zip(layers, before):
    factor = (1 - layer.momentum**passes) / (1 - layer.momentum)
    layer.moving_mean.assign(mean + (layer.moving_mean - mean) * factor)
    layer.moving_variance.assign(
      variance + (layer.moving_variance - variance) * factor
    )
