"""tf-ttur: TTUR GANs (Heusel et al., NeurIPS 2017) on TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
