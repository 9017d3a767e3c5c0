"""GAN losses: pure functions of network outputs, and the loss families.

The pure functions check shapes and cite the formula; a `LossFamily` says
how a train step uses them (which network outputs, which extra scalars are
logged, whether D and G update from one forward pass). LOSSES maps the
loss name of a tf_ttur.families entry to its family.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses

import tensorflow as tf

GP_WEIGHT = 10.0  # lambda of WGAN-GP
GP_EPSILON = 1e-10  # inside the norm: its gradient is finite at 0
BEGAN_GAMMA = 0.5
BEGAN_LAMBDA_K = 0.001


def _check_logits(*logits: tf.Tensor) -> None:
  for t in logits:
    shape = tf.TensorShape(t.shape)
    if shape.rank != 2 or shape[-1] != 1:
      raise ValueError(f"expected logits of shape [B, 1], got {shape}")


def _bce(logits: tf.Tensor, label: float) -> tf.Tensor:
  logits = tf.convert_to_tensor(logits)
  labels = tf.fill(tf.shape(logits), tf.cast(label, logits.dtype))
  return tf.reduce_mean(
    tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
  )


def dcgan_d_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
  """BCE(D(x), 1) + BCE(D(G(z)), 0), summed as in the original (docs/paper.md
  A.3.1)."""
  _check_logits(real_logits, fake_logits)
  return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def dcgan_g_loss(fake_logits: tf.Tensor) -> tf.Tensor:
  """Non-saturating generator loss BCE(D(G(z)), 1)."""
  _check_logits(fake_logits)
  return _bce(fake_logits, 1.0)


def wasserstein_d_loss(real_out: tf.Tensor, fake_out: tf.Tensor) -> tf.Tensor:
  """mean D(G(z)) - mean D(x), the critic's part of WGAN-GP (docs/paper.md
  A.3.2)."""
  _check_logits(real_out, fake_out)
  return tf.reduce_mean(fake_out) - tf.reduce_mean(real_out)


def wasserstein_g_loss(fake_out: tf.Tensor) -> tf.Tensor:
  """-mean D(G(z))."""
  _check_logits(fake_out)
  return -tf.reduce_mean(fake_out)


def gradient_penalty(
  critic: Callable[[tf.Tensor], tf.Tensor],
  real: tf.Tensor,
  fake: tf.Tensor,
  alpha: tf.Tensor,
) -> tf.Tensor:
  """mean((||grad D(x_hat)||_2 - 1)^2), x_hat = x + alpha (G(z) - x).

  Args:
    critic: the critic, images -> [B, 1].
    real, fake: image batches of one shape [B, ...].
    alpha: interpolation weights [B], one per sample, from U(0, 1).

  The norm is over each sample's flattened input, with GP_EPSILON inside
  the square root so that a zero gradient does not give NaN gradients.
  """
  real = tf.cast(real, tf.float32)
  fake = tf.cast(fake, tf.float32)
  alpha = tf.reshape(
    tf.cast(alpha, tf.float32), [-1] + [1] * (real.shape.rank - 1)
  )
  interpolates = real + alpha * (fake - real)
  with tf.GradientTape() as tape:
    tape.watch(interpolates)
    out = tf.cast(critic(interpolates), tf.float32)
  grads = tape.gradient(out, interpolates)
  axes = list(range(1, grads.shape.rank))
  norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=axes) + GP_EPSILON)
  return tf.reduce_mean(tf.square(norm - 1.0))


def l1_reconstruction(
  reconstruction: tf.Tensor, images: tf.Tensor
) -> tf.Tensor:
  """BEGAN's L(v) = mean |AE(v) - v|."""
  return tf.reduce_mean(
    tf.abs(tf.cast(reconstruction, tf.float32) - tf.cast(images, tf.float32))
  )


def began_k_update(
  k: tf.Tensor,
  loss_real: tf.Tensor,
  loss_fake: tf.Tensor,
  gamma: float = BEGAN_GAMMA,
  lambda_k: float = BEGAN_LAMBDA_K,
) -> tf.Tensor:
  """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)."""
  return tf.clip_by_value(
    k + lambda_k * (gamma * loss_real - loss_fake), 0.0, 1.0
  )


def began_convergence(
  loss_real: tf.Tensor, loss_fake: tf.Tensor, gamma: float = BEGAN_GAMMA
) -> tf.Tensor:
  """M_global = L(x) + |gamma L(x) - L(G(z))|."""
  return loss_real + tf.abs(gamma * loss_real - loss_fake)


@dataclasses.dataclass(frozen=True)
class LossFamily:
  """How a train step computes and logs one family's losses.

  d_loss(model, real, fake, alpha) -> (loss, {metric: value}), alpha being
  the per-sample interpolation weights that only WGAN-GP uses;
  g_loss(model, fake) -> loss. A joint update (BEGAN: `joint` given) has
  both from one forward pass via joint(model, real, fake) -> (d_loss,
  g_loss, metrics), and both networks update together, as in the
  original's single session.run (the family's `joint_update`).
  """

  d_metrics: tuple[str, ...] = ()
  d_loss: Callable | None = None
  g_loss: Callable | None = None
  joint: Callable | None = None

  @property
  def joint_update(self) -> bool:
    return self.joint is not None


def _dcgan_d(model, real, fake, alpha):
  del alpha
  real_logits = model.discriminator(real, training=True)
  fake_logits = model.discriminator(fake, training=True)
  return dcgan_d_loss(real_logits, fake_logits), {}


def _dcgan_g(model, fake):
  return dcgan_g_loss(model.discriminator(fake, training=True))


def _wgan_d(model, real, fake, alpha):
  def critic(x):
    return model.discriminator(x, training=True)

  wasserstein = wasserstein_d_loss(critic(real), critic(fake))
  gp = gradient_penalty(critic, real, fake, alpha)
  return wasserstein + GP_WEIGHT * gp, {"wasserstein": -wasserstein, "gp": gp}


def _wgan_g(model, fake):
  return wasserstein_g_loss(model.discriminator(fake, training=True))


def hinge_d_loss(real_out: tf.Tensor, fake_out: tf.Tensor) -> tf.Tensor:
  """mean relu(1 - D(x)) + mean relu(1 + D(G(z))): the discriminator's
  hinge loss (Lim & Ye 2017; SNGAN, SAGAN, BigGAN)."""
  _check_logits(real_out, fake_out)
  return tf.reduce_mean(tf.nn.relu(1.0 - real_out)) + tf.reduce_mean(
    tf.nn.relu(1.0 + fake_out)
  )


def _hinge_d(model, real, fake, alpha):
  del alpha
  real_out = model.discriminator(real, training=True)
  fake_out = model.discriminator(fake, training=True)
  return hinge_d_loss(real_out, fake_out), {}


def _began_joint(model, real, fake):
  loss_real = l1_reconstruction(model.discriminator(real, training=True), real)
  loss_fake = l1_reconstruction(model.discriminator(fake, training=True), fake)
  k = tf.cast(model.k_t, tf.float32)
  d_loss = loss_real - k * loss_fake
  metrics = {
    "m_global": began_convergence(loss_real, loss_fake),
    "k_t": k,
    "loss_real": loss_real,
    "loss_fake": loss_fake,
  }
  return d_loss, loss_fake, metrics


LOSSES: dict[str, LossFamily] = {
  "dcgan": LossFamily((), _dcgan_d, _dcgan_g),
  "wgan_gp": LossFamily(("wasserstein", "gp"), _wgan_d, _wgan_g),
  # The generator's side of the hinge loss is WGAN's: -mean D(G(z)).
  "hinge": LossFamily((), _hinge_d, _wgan_g),
  "began": LossFamily(
    ("m_global", "k_t", "loss_real", "loss_fake"), joint=_began_joint
  ),
}
