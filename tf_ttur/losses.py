"""GAN losses as pure functions of discriminator outputs.

Inputs are float32 logits of shape [B, 1] (the networks' last layers are float32 under mixed precision).
LOSSES maps the family name used by networks.NETWORKS to its functions.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf


def _check_logits(*logits: tf.Tensor) -> None:
  for t in logits:
    shape = tf.TensorShape(t.shape)
    if shape.rank != 2 or shape[-1] != 1:
      raise ValueError(f"expected logits of shape [B, 1], got {shape}")


def _bce(logits: tf.Tensor, label: float) -> tf.Tensor:
  logits = tf.convert_to_tensor(logits)
  labels = tf.fill(tf.shape(logits), tf.cast(label, logits.dtype))
  return tf.reduce_mean(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def dcgan_d_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
  """BCE(D(x), 1) + BCE(D(G(z)), 0), summed as in the original (SPEC 3.1)."""
  _check_logits(real_logits, fake_logits)
  return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def dcgan_g_loss(fake_logits: tf.Tensor) -> tf.Tensor:
  """Non-saturating generator loss BCE(D(G(z)), 1)."""
  _check_logits(fake_logits)
  return _bce(fake_logits, 1.0)


class LossFamily(NamedTuple):
  d_loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
  g_loss: Callable[[tf.Tensor], tf.Tensor]


LOSSES: dict[str, LossFamily] = {
    "dcgan": LossFamily(dcgan_d_loss, dcgan_g_loss),
}
