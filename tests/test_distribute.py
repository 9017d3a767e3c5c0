"""tf.distribute: a step under MirroredStrategy over two logical CPU devices
equals the one-device step with the same global batch; clear errors for
strategies the machine cannot honour."""

import json
import os

import pytest

from tests.helpers import REPO
from tests.helpers import run_module
from tf_ttur import runtime
from tf_ttur.config import Config
from tf_ttur.config import ConfigError


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dcgan", "wgan_gp"])
def test_mirrored_step_equals_single_device_step(model):
  # One process per model: two MirroredStrategy runs in one process abort
  # on clashing collective instances (seen with TF 2.21 on CPU).
  import subprocess
  import sys

  proc = subprocess.run(
    # -m from the repository: the checkout's packages, not an installed
    # copy (a script's own folder would come first on its path).
    [sys.executable, "-m", "tests.scripts.mirrored_step", model],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=900,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
  )
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
    runtime.make_strategy("mirrored")


def test_multi_worker_needs_tf_config(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(ConfigError, match="TF_CONFIG"):
    Config.of(workdir="/tmp/unused", strategy="multi_worker").validate()


@pytest.mark.slow
def test_strategy_flag_error_through_main(tmp_path, tfds_dir):
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/smoke.flags",
    f"--workdir={tmp_path / 'run'}",
    f"--data_dir={tfds_dir}",
    "--strategy=mirrored",
  )
  assert proc.returncode == 2
  assert "error: --strategy=mirrored needs at least two devices" in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_feature_statistics_under_mirrored_equal_single_device():
  # 11 images in batches of 4, 4, 3, each split over 2 replicas, each
  # replica with its own float64 accumulator, merged at the end. Features
  # are float32 from convolutions on other batch sizes, hence the tolerance.
  import subprocess
  import sys

  proc = subprocess.run(
    [sys.executable, "-m", "tests.scripts.mirrored_fid"],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=900,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result["replicas"] == 2 and result["counts"] == [11] * 4
  for prefix in ("", "dinov2_"):  # The FID's, then FD_DINOv2's.
    assert result[f"{prefix}mu_rel"] < 1e-6, result
    assert result[f"{prefix}sigma_rel"] < 1e-5, result
  # CMMD: every embedding, in order, and the distance.
  assert result["cmmd_counts"] == [11, 11]
  assert result["cmmd_embeddings_rel"] < 1e-5, result
  assert result["cmmd_rel"] < 1e-5, result
  # The graph itself, a copy per device; the SavedModel extractor through
  # python -m fid --mirrored.
  assert result["reference_replicas"] == 2
  assert result["reference_mu_rel"] < 1e-6, result
  assert result["reference_sigma_rel"] < 1e-5, result
  assert result["cli_fd_rel"] < 1e-5, result


# Two steps of the smoke DCGAN through `python -m tf_ttur.main` (fit(), the
# input pipeline, the checkpoint and an FID on the synthetic Inception graph
# included) under each strategy, compared with the one-device run. Adam's
# epsilon is 1e-3 for the reason given in
# tests/scripts/mirrored_step.py.
TWO_STEPS = (
  "--flagfile=configs/smoke.flags",
  "--train_steps=2",
  "--log_every=2",
  "--checkpoint_every=2",
  "--sample_every=2",
  "--adam_epsilon=1e-3",
)


def checkpoint_difference(dir_a: str, dir_b: str) -> float:
  """Largest difference over the weights and batch-norm statistics of two
  checkpoints (not Adam's moments: those of a bias followed by batch norm,
  whose exact gradient is zero, hold rounding noise only)."""
  import numpy as np
  import tensorflow as tf

  a = tf.train.load_checkpoint(tf.train.latest_checkpoint(dir_a))
  b = tf.train.load_checkpoint(tf.train.latest_checkpoint(dir_b))
  names = set(a.get_variable_to_shape_map())
  assert names == set(b.get_variable_to_shape_map())
  worst = 0.0
  for name in names:
    x = a.get_tensor(name)
    if "optimizer/_variables/" in name:  # Adam's moments
      continue
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
      worst = max(worst, float(np.max(np.abs(x - b.get_tensor(name)))))
  return worst


@pytest.fixture(scope="module")
def two_steps(tfds_dir, inception_pb, stats_file) -> tuple[str, ...]:
  return TWO_STEPS + (
    f"--data_dir={tfds_dir}",
    "--fid_every=2",
    "--fid_samples=6",
    "--fid_batch_size=3",
    f"--fid_stats={stats_file}",
    f"--fid_inception={inception_pb}",
  )


def read_metrics(workdir: str) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory, two_steps) -> str:
  workdir = str(tmp_path_factory.mktemp("one_device") / "run")
  proc = run_module("tf_ttur.main", *two_steps, f"--workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def assert_same_run(workdir: str, reference: str) -> None:
  """Same weights and same FID as the one-device run."""
  diff = checkpoint_difference(
    os.path.join(workdir, "checkpoints"), os.path.join(reference, "checkpoints")
  )
  assert diff < 1e-5, diff
  (fid,) = [r["fid"] for r in read_metrics(workdir) if "fid" in r]
  (expected,) = [r["fid"] for r in read_metrics(reference) if "fid" in r]
  assert fid == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_mirrored_training_run_equals_one_device_run(
  tmp_path, two_steps, one_device_run
):
  # The FID pass runs over the two replicas too (FastExtractor(strategy=)).
  workdir = str(tmp_path / "run")
  proc = run_module(
    "tf_ttur.main",
    *two_steps,
    f"--workdir={workdir}",
    "--strategy=mirrored",
    "--cpu_replicas=2",
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert_same_run(workdir, one_device_run)


def _free_ports(n: int) -> list[int]:
  import socket

  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
def test_multi_worker_two_processes(tmp_path, two_steps, one_device_run):
  import subprocess
  import sys

  workdir = str(tmp_path / "run")
  cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
  procs = []
  for index in range(2):
    env = dict(
      os.environ,
      TF_CPP_MIN_LOG_LEVEL="2",
      TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}
      ),
    )
    procs.append(
      subprocess.Popen(
        [
          sys.executable,
          "-m",
          "tf_ttur.main",
          *two_steps,
          f"--workdir={workdir}",
          "--strategy=multi_worker",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
      )
    )
  try:
    results = [p.communicate(timeout=600) for p in procs]
  finally:
    for p in procs:
      p.kill()
  errors = [err for _, err in results]
  if any(p.returncode for p in procs) and any(
    s in err
    for err in errors
    for s in (
      "Address already in use",
      "Permission denied",
      "Operation not permitted",
    )
  ):
    pytest.skip("the platform refused the workers' sockets on 127.0.0.1")
  for p, err in zip(procs, errors):
    assert p.returncode == 0, err[-3000:]
  # The chief (worker 0) wrote one checkpoint, at step 2, and the FID;
  # worker 1's scratch folder is gone; weights and FID are the one-process
  # run's.
  checkpoints = os.path.join(workdir, "checkpoints")
  index_files = sorted(
    f for f in os.listdir(checkpoints) if f.endswith(".index")
  )
  assert index_files == ["ckpt-2.index"]
  assert not [f for f in os.listdir(workdir) if f.startswith(".scratch")]
  assert [r["step"] for r in read_metrics(workdir)] == [2, 2]  # loss, FID
  assert_same_run(workdir, one_device_run)
