"""tf.distribute: a step under MirroredStrategy over two logical CPU devices
equals the one-device step with the same global batch; clear errors for
strategies the machine cannot honour."""

import json
import os

import pytest

from tests.conftest import REPO, run_module
from tf_ttur import train as train_lib
from tf_ttur.config import Config, ConfigError


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp"])
def test_mirrored_step_equals_single_device_step(model):
  # One process per model: two MirroredStrategy runs in one process abort
  # on clashing collective instances (seen with TF 2.21 on CPU).
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  proc = subprocess.run(
      [sys.executable, os.path.join(REPO, "tests", "scripts",
                                    "mirrored_step.py"), model],
      cwd=REPO, capture_output=True, text=True, timeout=900,
      env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  (result,) = map(json.loads, proc.stdout.strip().splitlines())
  assert result["model"] == model  # wgan_gp: the gradient penalty included
  assert result["replicas"] == 2
  assert result["step"] == [1, 1]
  assert result["d_iterations"][0] == result["d_iterations"][1]
  assert result["moved"] > 1e-3  # the step did change the weights
  assert result["max_diff"] < 1e-6, result


def test_mirrored_needs_two_devices():
  # This process has one CPU device (no logical split, no GPU).
  with pytest.raises(ValueError, match="at least two devices"):
    train_lib.make_strategy("mirrored")


def test_multi_worker_needs_tf_config(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(ConfigError, match="TF_CONFIG"):
    Config(workdir="/tmp/unused", strategy="multi_worker").validate()


def test_strategy_flag_error_through_main(tmp_path, tfds_dir):
  proc = run_module("tf_ttur.main", "--flagfile=configs/smoke.flags",
                    f"--workdir={tmp_path / 'run'}", f"--data_dir={tfds_dir}",
                    "--strategy=mirrored")
  assert proc.returncode == 2
  assert "error: --strategy=mirrored needs at least two devices" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_fid_statistics_under_mirrored_equal_single_device():
  # 11 images in batches of 4, 4, 3, each split over 2 replicas, each
  # replica with its own float64 accumulator, merged at the end. Features
  # are float32 from convolutions on other batch sizes, hence the tolerance.
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  proc = subprocess.run(
      [sys.executable, os.path.join(REPO, "tests", "scripts",
                                    "mirrored_fid.py")],
      cwd=REPO, capture_output=True, text=True, timeout=900,
      env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result["replicas"] == 2 and result["counts"] == [11, 11]
  assert result["mu_rel"] < 1e-6, result
  assert result["sigma_rel"] < 1e-5, result
