"""What several test files share: paths, subprocess runs, small checks.

Fixtures stay in conftest.py; everything a test imports comes from here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from tf_ttur.config import Config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(
  module: str,
  *args: str,
  cwd: str = REPO,
  env_extra: dict | None = None,
  timeout: float = 600,
) -> subprocess.CompletedProcess:
  """Runs `python -m module args` and returns the completed process.

  The packages come from the current folder (the repository by default) or
  the installed project (requirements.txt installs it editable); a user's
  own PYTHONPATH is kept."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.update(env_extra or {})
  return subprocess.run(
    [sys.executable, "-m", module, *args],
    cwd=cwd,
    env=env,
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )


def error_lines(stderr: str) -> list[str]:
  """The `error:` lines of a program's stderr (the project's one way to
  report a usage error)."""
  return [line for line in stderr.splitlines() if line.startswith("error:")]


# The small image generator the serving and FID-generator tests export.
SMALL_IMAGE_CONFIG = Config.of(image_size=32, width=8, z_dim=16, tflite=True)


def spread_batch_norm(generator, seed: int = 0) -> None:
  """Random batch-norm parameters and statistics, so that an untrained
  generator's images use the whole range (and the statistics matter)."""
  import keras

  rng = np.random.default_rng(seed)
  for layer in generator.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      n = layer.gamma.shape[0]
      layer.gamma.assign(rng.uniform(0.5, 3.0, n))
      layer.beta.assign(rng.normal(0.0, 1.0, n))
      layer.moving_mean.assign(rng.normal(0.0, 0.05, n))
      layer.moving_variance.assign(rng.uniform(1e-4, 1e-3, n))


def stand_in_url_infos(builder_class, folder) -> dict:
  """The UrlInfos TFDS checks a builder's original files against, made
  from the stand-ins in `folder` under the real names: TFDS's own manual
  route (DATA_DIR/downloads/manual) then accepts them."""
  from tensorflow_datasets.core.download import checksums

  infos = {}
  for url, info in builder_class.url_infos.items():
    computed = checksums.compute_url_info(os.path.join(folder, info.filename))
    infos[url] = checksums.UrlInfo(
      size=computed.size, checksum=computed.checksum, filename=info.filename
    )
  return infos


def trains_two_steps(workdir, *flags: str) -> None:
  """Runs `python -m tf_ttur.main FLAGS` for two small steps into workdir
  and asserts it exits 0 with the second step's checkpoint written: a
  route's first training steps."""
  proc = run_module(
    "tf_ttur.main",
    *flags,
    f"--workdir={workdir}",
    "--train_steps=2",
    "--log_every=1",
    "--checkpoint_every=1",
    "--sample_every=2",
    "--batch_size=2",
    "--width=8",
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert os.path.isfile(os.path.join(workdir, "checkpoints", "ckpt-2.index"))


def write_random_pngs(folder, count: int, size=(32, 32), seed: int = 0):
  """`count` PNGs of uniform random RGB pixels, [H, W] = size, into folder
  (made if needed), named 000.png...; returns the folder as a string."""
  import numpy as np
  from PIL import Image

  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  for i in range(count):
    pixels = rng.integers(0, 256, (*size, 3), np.uint8)
    Image.fromarray(pixels).save(os.path.join(folder, f"{i:03d}.png"))
  return str(folder)


def tiny_run(workdir, data_dir, **flags) -> Config:
  """A run of 2 float32 steps at batch 4, logging every step and
  checkpointing and sampling at the end, without XLA: what a test trains
  to see a whole run (flags add to it or replace it)."""
  return Config.of(
    **{
      "workdir": str(workdir),
      "data_dir": data_dir,
      "batch_size": 4,
      "train_steps": 2,
      "log_every": 1,
      "checkpoint_every": 2,
      "sample_every": 2,
      "grid_size": 2,
      "precision": "float32",
      "jit_compile": "false",
      **flags,
    }
  )
