"""The GAN as one keras.Model: generator, discriminator, two Adams, train_step.

TTUR (Heusel et al. 2017) gives the discriminator and the generator their own
learning rates; here each network has its own `keras.optimizers.Adam` and is
updated only by it. `fit()` drives the loop; `compile(optimizer=None)` stops
Keras from creating an unused optimizer, and both optimizers are built before
fit and before a checkpoint restore (SPEC Part C: otherwise train_step is
traced twice and Adam's slots are silently not restored).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_ttur import losses as losses_lib


def make_adam(learning_rate: float, beta_1: float, beta_2: float,
              epsilon: float, name: str, loss_scaling: bool
              ) -> keras.optimizers.Optimizer:
  """An Adam, wrapped in a LossScaleOptimizer when loss_scaling (float16)."""
  adam = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1,
                               beta_2=beta_2, epsilon=epsilon, name=name)
  if loss_scaling:
    # compile() only wraps self.optimizer; ours are attributes, so by hand.
    return keras.optimizers.LossScaleOptimizer(adam, name=f"{name}_scaled")
  return adam


class GAN(keras.Model):
  """A generator/discriminator pair trained with two time-scale updates.

  Each train_step does `n_critic` discriminator updates, each on its own slice
  of the real batch (the pipeline delivers n_critic * batch_size images), then
  one generator update with the same z as the last discriminator update
  (DCGAN_FID_batched).
  """

  def __init__(self, generator: keras.Model, discriminator: keras.Model,
               loss: str, z_dim: int, z_distribution: str, n_critic: int = 1,
               seed: int = 0, **kwargs):
    super().__init__(**kwargs)
    self.generator = generator
    self.discriminator = discriminator
    self.loss_family = losses_lib.LOSSES[loss]
    self.z_dim = z_dim
    self.z_distribution = z_distribution
    self.n_critic = n_critic
    self.seed_generator = keras.random.SeedGenerator(seed)
    self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
    self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
    self.step = keras.Variable(0, dtype="int64", trainable=False, name="step")

  def compile(self, d_optimizer: keras.optimizers.Optimizer,
              g_optimizer: keras.optimizers.Optimizer,
              jit_compile: bool = False, **kwargs) -> None:
    super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
    self.d_optimizer = d_optimizer
    self.g_optimizer = g_optimizer
    self.d_optimizer.build(self.discriminator.trainable_variables)
    self.g_optimizer.build(self.generator.trainable_variables)

  @property
  def metrics(self):
    return [self.d_loss_tracker, self.g_loss_tracker]

  def sample_z(self, batch_size) -> tf.Tensor:
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

  def train_step(self, data):
    real = data[0] if isinstance(data, (tuple, list)) else data
    real_batches = tf.split(real, self.n_critic, axis=0)
    batch_size = tf.shape(real_batches[0])[0]
    d_vars = self.discriminator.trainable_variables
    g_vars = self.generator.trainable_variables
    for real_batch in real_batches:
      z = self.sample_z(batch_size)
      with tf.GradientTape() as tape:
        fake = self.generator(z, training=True)
        # D sees the real and the fake batch in separate calls, so its batch
        # norm uses each batch's own statistics, as in the original.
        real_logits = self.discriminator(real_batch, training=True)
        fake_logits = self.discriminator(fake, training=True)
        d_loss = self.loss_family.d_loss(real_logits, fake_logits)
        scaled = self.d_optimizer.scale_loss(d_loss)
      self._update(self.d_optimizer, tape, scaled, d_vars)
    with tf.GradientTape() as tape:
      fake = self.generator(z, training=True)
      fake_logits = self.discriminator(fake, training=True)
      g_loss = self.loss_family.g_loss(fake_logits)
      scaled = self.g_optimizer.scale_loss(g_loss)
    self._update(self.g_optimizer, tape, scaled, g_vars)
    self.step.assign_add(1)
    self.d_loss_tracker.update_state(d_loss)
    self.g_loss_tracker.update_state(g_loss)
    return {m.name: m.result() for m in self.metrics}
