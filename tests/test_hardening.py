"""A run survives what real runs meet: SIGKILL at any moment, SIGTERM and
SIGINT (preemption), a NaN, a disk that fills up; and the flags reject fuzzed
bad values cleanly."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import REPO
from tests.helpers import error_lines
from tests.helpers import run_module
from tests.helpers import write_random_pngs
from tf_ttur import records

SMOKE = ("--flagfile=configs/smoke.flags",)


def _steps_of_checkpoints(workdir):
  folder = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(folder):
    return []
  return sorted(
    int(f[len("ckpt-") : -len(".index")])
    for f in os.listdir(folder)
    if f.endswith(".index")
  )


def _assert_checkpoints_whole(workdir):
  """The checkpoint the state file names as the latest restores (reads)
  completely. An older one it still lists may be mid-deletion:
  TensorFlow's CheckpointManager records the new state, deletes the old
  files, then records the state again, so a SIGKILL in between leaves a
  listed checkpoint without its files; a resume never reads it (checkpoints
  are found from their .index files and checked whole, tf_ttur.rundir)."""
  import tensorflow as tf

  state = tf.train.get_checkpoint_state(os.path.join(workdir, "checkpoints"))
  if state is None:
    return
  reader = tf.train.load_checkpoint(state.model_checkpoint_path)
  for name in reader.get_variable_to_shape_map():
    reader.get_tensor(name)  # Raises on a truncated or missing shard.


def _wait_for_records(workdir, count, proc, timeout=300):
  """Until metrics.jsonl holds `count` whole records or proc has ended."""
  deadline = time.monotonic() + timeout
  while (
    len(records.read(workdir)) < count
    and proc.poll() is None
    and time.monotonic() < deadline
  ):
    time.sleep(0.1)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path, tfds_dir):
  workdir = str(tmp_path / "run")
  args = [
    sys.executable,
    "-m",
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
    "--train_steps=120",
    "--log_every=2",
    "--checkpoint_every=6",
    "--sample_every=12",
    "--keep_checkpoints=2",
  ]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  rng = random.Random(0)
  resumed_at = []
  for attempt in range(7):
    before = len(records.read(workdir))
    proc = subprocess.Popen(
      args,
      cwd=REPO,
      env=env,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
    )
    if attempt % 3 == 0:
      time.sleep(rng.uniform(0.5, 6.0))  # Anywhere: import, build, restore.
    else:
      # Once this process trains (however slow the machine), within the
      # next steps, saves and sample grids.
      _wait_for_records(workdir, before + 1, proc)
      time.sleep(rng.uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    match = re.search(r"Resumed from \S+ at step (\d+)", err)
    if match:
      resumed_at.append(int(match.group(1)))
    _assert_checkpoints_whole(workdir)
    # Whatever the kill cut short is never read as whole.
    logged = records.read(workdir)
    assert all(isinstance(r, dict) and "step" in r for r in logged)
  final = subprocess.run(
    args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
  )
  assert final.returncode == 0, final.stderr[-3000:]
  # Restarts resumed from saved steps, never going back.
  assert resumed_at, "no kill landed after the first checkpoint"
  assert all(s % 6 == 0 for s in resumed_at)
  assert resumed_at == sorted(resumed_at)
  assert _steps_of_checkpoints(workdir)[-1] == 120
  _assert_checkpoints_whole(workdir)
  # One loss record per interval, each once, in order: nothing lost,
  # nothing logged twice across the restarts.
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    lines = f.readlines()
  assert all(line.endswith("\n") for line in lines)
  steps = [json.loads(line)["step"] for line in lines]
  assert steps == list(range(2, 121, 2))
  assert os.path.isfile(os.path.join(workdir, "saved_model", "saved_model.pb"))
  leftovers = [
    f
    for f in os.listdir(workdir)
    if f.startswith(".export-") or f.endswith(".tmp")
  ]
  assert not leftovers


@pytest.mark.slow
def test_sigterm_finishes_the_step_checkpoints_it_and_resumes_there(
  tmp_path, tfds_dir
):
  """SIGTERM (and once SIGINT) at random moments of training, 5 times:
  each exits with code 75 after writing the checkpoint and the metrics of
  the step it stopped at; the next run resumes at exactly that step."""
  import tensorflow as tf

  workdir = str(tmp_path / "run")
  args = [
    sys.executable,
    "-m",
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
    "--log_every=4",
    "--checkpoint_every=40",
    "--sample_every=40",
    "--keep_checkpoints=20",
  ]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  rng = random.Random(1)
  stops = []
  for attempt in range(5):
    before = len(records.read(workdir))
    proc = subprocess.Popen(
      args + ["--train_steps=1000000"],
      cwd=REPO,
      env=env,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE,
      text=True,
    )
    _wait_for_records(workdir, before + 1, proc)
    time.sleep(rng.uniform(0.0, 1.5))
    sent = signal.SIGINT if attempt == 2 else signal.SIGTERM
    proc.send_signal(sent)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 75, err[-3000:]
    assert "Traceback" not in err
    if stops:
      assert f"at step {stops[-1]}." in err and "Resumed from" in err
    match = re.search(
      rf"stopped by {sent.name} at step (\d+): (\S+) and the "
      r"metrics up to it are written",
      err,
    )
    assert match, err[-2000:]
    step = int(match.group(1))
    assert match.group(2).endswith(f"ckpt-{step}")
    assert tf.train.latest_checkpoint(
      os.path.join(workdir, "checkpoints")
    ).endswith(f"ckpt-{step}")
    assert records.read(workdir)[-1]["step"] == step
    assert not stops or step > stops[-1]
    stops.append(step)
  final_step = stops[-1] - stops[-1] % 4 + 12
  final = subprocess.run(
    args + [f"--train_steps={final_step}"],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert final.returncode == 0, final.stderr[-3000:]
  assert f"at step {stops[-1]}." in final.stderr
  steps = [r["step"] for r in records.read(workdir)]
  # Every interval once, in order, plus the steps the signals stopped at:
  # nothing lost and nothing logged twice.
  assert steps == sorted(set(range(4, final_step + 1, 4)) | set(stops))
  assert _steps_of_checkpoints(workdir)[-1] == final_step
  _assert_checkpoints_whole(workdir)


@pytest.mark.slow
def test_nan_stops_with_the_step_and_keeps_the_last_good_checkpoint(
  tmp_path, tfds_dir
):
  workdir = tmp_path / "run"
  proc = run_module(
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
    "--debug_nan_at_step=3",
  )
  assert proc.returncode == 3, proc.stderr[-3000:]
  assert "error: non-finite loss at step 3" in proc.stderr
  assert "last good checkpoint is" in proc.stderr and "ckpt-2" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert _steps_of_checkpoints(workdir) == [2]
  assert [r["step"] for r in records.read(str(workdir))] == [2]
  assert not (workdir / "saved_model").exists()
  _assert_checkpoints_whole(str(workdir))


@pytest.mark.slow
def test_nan_restore_continues_with_a_fresh_seed(tmp_path, tfds_dir):
  workdir = tmp_path / "run"
  proc = run_module(
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
    "--debug_nan_at_step=3",
    "--on_nonfinite=restore",
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "non-finite loss at step 3" in proc.stderr
  assert "Restoring" in proc.stderr and "noise seed 1000003" in proc.stderr
  assert _steps_of_checkpoints(workdir)[-1] == 4
  logged = records.read(str(workdir))
  assert [r["step"] for r in logged] == [2, 4]
  assert all(np.isfinite(r["d_loss"]) for r in logged)


def test_disk_full_keeps_earlier_checkpoints(tmp_path, tfds_dir, monkeypatch):
  import errno

  import tensorflow as tf

  from tf_ttur import train as train_lib
  from tf_ttur.config import Config
  from tf_ttur.errors import StorageError

  save = tf.train.CheckpointManager.save

  def full_after_first(self, checkpoint_number=None, **kwargs):
    if checkpoint_number and checkpoint_number > 2:
      raise OSError(errno.ENOSPC, "No space left on device")
    return save(self, checkpoint_number=checkpoint_number, **kwargs)

  monkeypatch.setattr(tf.train.CheckpointManager, "save", full_after_first)
  workdir = str(tmp_path / "run")
  config = Config.from_args(
    *SMOKE, f"--workdir={workdir}", f"--data_dir={tfds_dir}"
  ).validate()
  with pytest.raises(StorageError) as info:
    train_lib.train(config)
  message = str(info.value)
  assert "cannot write checkpoint 4" in message
  assert "No space left on device" in message
  assert "intact (latest:" in message and "ckpt-2" in message
  assert _steps_of_checkpoints(workdir) == [2]
  _assert_checkpoints_whole(workdir)


@pytest.mark.slow
@pytest.mark.parametrize(
  "flag, message",
  [
    ("--batch_size=abc", "error: flag --batch_size=abc"),
    ("--d_lr=nan", "error: --d_lr must be positive"),
    ("--g_lr=inf", "--g_lr"),
    ("--image_size=-1", "--image_size=-1 is not supported"),
    ("--model=resnet", "--model"),
    ("--no_such_flag=1", "error: Unknown command line flag 'no_such_flag'"),
    ("--flagfile=configs/missing.flags", "Unable to open flagfile"),
    ("--dataset=folder:/nonexistent/images", "/nonexistent/images"),
    ("--fid_every=2", "--fid_every needs --fid_stats"),
    (
      "--quality_every=2 --quality_model=/nonexistent",
      "--quality_model=/nonexistent: no SavedModel",
    ),
    ("--on_nonfinite=ignore", "--on_nonfinite"),
    ("--cache_mb=-5", "--cache_mb must be 0 (off) or positive"),
    ("--seed=1e3", "--seed"),
  ],
)
def test_fuzzed_flags_exit_2_and_write_nothing(
  flag, message, tmp_path, tfds_dir
):
  before = sorted(os.listdir(tmp_path))
  proc = run_module(
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={tmp_path / 'run'}",
    f"--data_dir={tfds_dir}",
    *flag.split(),
  )
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = error_lines(proc.stderr)
  assert len(errors) == 1, proc.stderr[-2000:]
  assert message in errors[0], proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr
  assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.slow
def test_corrupt_image_in_a_training_folder_is_named(tmp_path):

  folder = tmp_path / "images"
  write_random_pngs(folder, 20, size=(16, 16), seed=0)
  data = (folder / "007.png").read_bytes()
  (folder / "007.png").write_bytes(data[: len(data) // 2])
  workdir = tmp_path / "run"
  proc = run_module(
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={workdir}",
    f"--dataset=folder:{folder}",
    "--train_steps=4",
  )
  assert proc.returncode == 2, proc.stderr[-3000:]
  errors = error_lines(proc.stderr)
  assert len(errors) == 1, proc.stderr[-3000:]
  assert str(folder / "007.png") in errors[0]
  assert "cannot decode the image" in errors[0]
  assert "Traceback" not in proc.stderr
