"""tf-ttur: TTUR GANs (Heusel et al., NeurIPS 2017), TensorFlow 2 / Keras 3."""

import os

# TensorFlow (Linux x86) sends its CPU kernels through oneDNN by default only
# on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX; on an AVX2-only CPU
# it falls back to Eigen, where the demo's DCGAN step is ~3x slower
# (docs/measurements.md, "Machines and oneDNN"). Read once, when TensorFlow
# loads, so it is set here, before anything imports TensorFlow; a value
# the user set is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# One version for the whole project (pyproject.toml reads it from fid, the
# package that stands alone).
from fid import __version__  # noqa: F401
