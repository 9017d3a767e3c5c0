"""The networks of each family (the registry is tf_ttur.families).

Every family module has make_generator(size, z_dim, width, seed) and
discriminator_for(config, size); `size` is the image side, or for the
language model the vocabulary size.
"""

from __future__ import annotations

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy(name: str):
  """Sets the global Keras dtype policy for the networks built inside."""
  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy(previous)
