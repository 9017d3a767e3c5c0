"""Shared fixtures: the offline dataset prepared once, subprocess helpers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
  from fid import inception
  return inception.load_graph_def(inception_pb)


@pytest.fixture(scope="session")
def extractors(graph_def):
  """(reference, fast) extractors over the replica, built once."""
  from fid import inception
  return (inception.ReferenceExtractor(graph_def),
          inception.FastExtractor(graph_def, jit_compile=False))


def run_module(module: str, *args: str, cwd: str = REPO,
               env_extra: dict | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
  """Runs `python -m module args` and returns the completed process.

  The packages come from the current folder (the repository by default) or
  the installed project (requirements.txt installs it editable); a user's
  own PYTHONPATH is kept."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.update(env_extra or {})
  return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd,
                        env=env, capture_output=True, text=True,
                        timeout=timeout)


@pytest.fixture(scope="session")
def stats_file(tmp_path_factory) -> str:
  """Reference FID statistics (random, 2048-d) for FID during training."""
  import numpy as np
  path = str(tmp_path_factory.mktemp("stats") / "ref.npz")
  rng = np.random.default_rng(0)
  x = rng.normal(size=(64, 2048)) * 0.1
  np.savez_compressed(path, mu=x.mean(0), sigma=np.cov(x, rowvar=False))
  return path
