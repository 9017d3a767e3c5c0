"""A paper-compatible FID for TensorFlow 2: TTUR's numbers, without TF1.

Standalone: never imports tf_ttur. The names below follow TTUR's fid.py, so
a script written for it ports by dropping its `tf.Session()` (pass nothing,
or an extractor, where it passed `sess`):

    import fid
    fid.create_inception_graph(fid.check_or_download_inception(None))
    mu, sigma = fid.calculate_activation_statistics(images)  # no sess
    value = fid.calculate_frechet_distance(mu, sigma, mu_ref, sigma_ref)

The command line is `python -m fid PATH1 PATH2`.
"""

from __future__ import annotations

import os

# TensorFlow (Linux x86) uses oneDNN by default only on CPUs with
# AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX, and Eigen's much slower
# convolutions on AVX2-only CPUs; read when TensorFlow loads, so set before
# anything imports it (a value the user set is kept).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np

from fid import core
from fid import download
from fid import quiet
from fid.core import Activations
from fid.core import run_pass
from fid.download import InceptionError
from fid.frechet import calculate_frechet_distance
from fid.stats import RunningStats
from fid.stats import StatsError
from fid.stats import load_stats
from fid.stats import save_stats
from fid.version import __version__

# TensorFlow's C++ start-up lines hidden (fid.quiet; --show_tf_logs or the
# user's TF_CPP_MIN_LOG_LEVEL shows them). None of the imports above loads
# TensorFlow.
quiet.setup()

__all__ = [
  "calculate_frechet_distance",
  "calculate_activation_statistics",
  "get_activations",
  "check_or_download_inception",
  "create_inception_graph",
  "calculate_fid_given_paths",
  "load_stats",
  "save_stats",
  "make_extractor",
  "RunningStats",
  "StatsError",
  "InceptionError",
  "calculate_generator_statistics",
  "run_pass",
  "Activations",
  "__version__",
]

_default = {}  # The extractor of create_inception_graph, TTUR's global graph.


def check_or_download_inception(inception_path: str | None = None) -> str:
  """The path of classify_image_graph_def.pb (downloaded once, then cached).

  Unlike TTUR, whose argument is a folder, a .pb or .tgz path is accepted and
  None means the cache ($FID_CACHE_DIR or ~/.cache/tf_ttur_fid).
  """
  return download.get_inception_graph(inception_path)


def make_extractor(*args, **kwargs):
  """fid.inception.make_extractor. TensorFlow is imported here, on first
  use, not by `import fid`: the package's files, statistics and download
  helpers (fid.files, used by tf_ttur's TensorFlow-free modules) stay
  light."""
  from fid import inception

  return inception.make_extractor(*args, **kwargs)


def create_inception_graph(pth: str, kind: str = "fast"):
  """Loads the graph at pth and makes it the default of the functions below."""
  from fid import graph
  from fid import inception

  extractor = inception.EXTRACTORS[kind](graph.load_graph_def(pth))
  _default["extractor"] = extractor
  return extractor


def _extractor(sess):
  if callable(sess) and hasattr(sess, "name"):
    return sess  # An extractor passed where TTUR passed the session.
  if "extractor" not in _default:
    create_inception_graph(check_or_download_inception(None))
  return _default["extractor"]


def get_activations(
  images, sess=None, batch_size: int = 50, verbose: bool = False
) -> np.ndarray:
  """float64 pool_3 features [N, 2048] of images [N, H, W, 3] in [0, 255].

  All N images count (TTUR drops the last partial batch; slice images to
  N // 50 * 50 to reproduce that).
  """
  extractor = _extractor(sess)
  images = np.asarray(images)
  out = [
    extractor(images[i : i + batch_size])[0]
    for i in range(0, len(images), batch_size)
  ]
  if verbose:
    print(f"fid: {len(images)} images")
  return np.concatenate(out) if out else np.zeros((0, 2048))


def calculate_activation_statistics(
  images, sess=None, batch_size: int = 50, verbose: bool = False
):
  """(mu, sigma) of the pool_3 features: float64, sigma with ddof 1."""
  extractor = _extractor(sess)
  images = np.asarray(images)
  result = core.run_pass(
    (images[i : i + batch_size] for i in range(0, len(images), batch_size)),
    extractor,
    progress=verbose,
    total=len(images),
  )
  return result.mu, result.sigma


def calculate_generator_statistics(
  generate,
  num: int,
  z_dim: int,
  z_distribution: str = "uniform",
  seed=0,
  sess=None,
  batch_size: int = 50,
  verbose: bool = False,
):
  """(mu, sigma) of `num` images of a generator, made in memory: generate
  maps float32 z [n, z_dim] (numpy, drawn from `seed`: U(-1, 1) or N(0, I))
  to images [n, H, W, 3] in [0, 255]; no image is written."""
  from fid import generator

  result = core.run_pass(
    generator.generated_batches(
      generate, num, z_dim, z_distribution, seed, batch_size
    ),
    _extractor(sess),
    progress=verbose,
    total=num,
  )
  return result.mu, result.sigma


def calculate_fid_given_paths(
  paths, inception_path: str | None = None, batch_size: int = 50, **kwargs
) -> float:
  """The FID between two paths (folders, .npz statistics, arrays, tfds:)."""
  from fid import api

  return api.compute(
    list(paths), inception_path=inception_path, batch_size=batch_size, **kwargs
  )["fid"]
