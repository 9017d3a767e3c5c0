"""Shared fixtures: the offline dataset prepared once, the synthetic
Inception graph, reference statistics. Helpers a test imports are in
tests/helpers.py."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Before any test module imports TensorFlow (keras sorts before tf_ttur):
# tf_ttur turns oneDNN on, which TensorFlow reads once, when it loads.
import tf_ttur  # noqa: F401


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
  """A TFDS data_dir holding the generated `shapes` dataset."""
  from tf_ttur.data import images

  path = str(tmp_path_factory.mktemp("tensorflow_datasets"))
  images.prepare_shapes(path)
  return path


@pytest.fixture(scope="session")
def inception_pb(tmp_path_factory) -> str:
  """The synthetic replica of classify_image_graph_def.pb (random weights)."""
  from fid import testing

  path = tmp_path_factory.mktemp("inception") / "classify_image_graph_def.pb"
  return testing.write_graph_def(str(path), seed=0)


@pytest.fixture(scope="session")
def graph_def(inception_pb):
  from fid import graph

  return graph.load_graph_def(inception_pb)


@pytest.fixture(scope="session")
def extractors(graph_def):
  """(reference, fast) extractors over the replica, built once."""
  from fid import inception

  return (
    inception.ReferenceExtractor(graph_def),
    inception.FastExtractor(graph_def, jit_compile=False),
  )


@pytest.fixture(scope="session")
def stats_file(tmp_path_factory) -> str:
  """Reference FID statistics (random, 2048-d) for FID during training."""
  import numpy as np

  path = str(tmp_path_factory.mktemp("stats") / "ref.npz")
  rng = np.random.default_rng(0)
  x = rng.normal(size=(64, 2048)) * 0.1
  np.savez_compressed(path, mu=x.mean(0), sigma=np.cov(x, rowvar=False))
  return path
