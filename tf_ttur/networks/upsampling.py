"""Nearest-neighbour upsampling that keeps its static shape."""

from __future__ import annotations

from keras import layers
from keras import ops


class UpSampling2D(layers.UpSampling2D):
  """keras.layers.UpSampling2D (nearest) whose output keeps its static
  height, width and channels under a dynamic batch size.

  Keras implements it with two `ops.repeat`, which lose them; TFLite's
  converter then cannot lower the next Conv2D to a built-in op. The reshape
  costs nothing (same layout) and changes no value.
  """

  def call(self, inputs):
    outputs = super().call(inputs)
    _, height, width, channels = self.compute_output_shape(inputs.shape)
    return ops.reshape(outputs, (-1, height, width, channels))
