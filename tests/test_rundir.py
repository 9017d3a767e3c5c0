"""A run directory never loses a step: damaged or missing checkpoint files,
a lost state file, two runs on one directory, resuming with flags that
change the model; each gets one line and nothing is overwritten."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO
from tests.helpers import error_lines
from tests.helpers import run_module
from tf_ttur import records
from tf_ttur import runconfig
from tf_ttur import rundir
from tf_ttur.config import Config

SMOKE = ("--flagfile=configs/smoke.flags",)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, tfds_dir):
  """A finished 4-step smoke run with ckpt-2 and ckpt-4 (copied per test)."""
  workdir = str(tmp_path_factory.mktemp("smoke") / "run")
  proc = run_module(
    "tf_ttur.main", *SMOKE, f"--workdir={workdir}", f"--data_dir={tfds_dir}"
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  return workdir


@pytest.fixture
def run(smoke_run, tmp_path):
  workdir = str(tmp_path / "run")
  shutil.copytree(smoke_run, workdir)
  return workdir


def _main(workdir, tfds_dir, *extra):
  return run_module(
    "tf_ttur.main",
    *SMOKE,
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
    *extra,
  )


def _ckpt(workdir, name):
  return os.path.join(workdir, "checkpoints", name)


def _one_error_line(proc):
  lines = error_lines(proc.stderr)
  assert len(lines) == 1, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
  "damage", ["delete_index", "delete_state", "truncate_data", "garbage_index"]
)
def test_resume_uses_the_newest_readable_checkpoint(run, tfds_dir, damage):
  newest_data = _ckpt(run, "ckpt-4.data-00000-of-00001")
  if damage == "delete_index":
    os.remove(_ckpt(run, "ckpt-4.index"))
  elif damage == "delete_state":
    os.remove(_ckpt(run, "checkpoint"))
  elif damage == "truncate_data":
    with open(newest_data, "r+b") as f:
      f.truncate(os.path.getsize(newest_data) // 2)
  else:
    with open(_ckpt(run, "ckpt-4.index"), "wb") as f:
      f.write(b"not an sstable" * 10)
  expected = 2 if damage != "delete_state" else 4
  proc = _main(run, tfds_dir, "--train_steps=6")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (
    f"Resumed from {_ckpt(run, f'ckpt-{expected}')} at step {expected}"
    in proc.stderr
  )
  assert "step 6/6" in proc.stderr
  steps = [r["step"] for r in records.read(run)]
  assert steps == sorted(set(steps)) and steps[-1] == 6 and steps[0] == 2
  if damage in ("truncate_data", "garbage_index"):
    assert "Skipped checkpoint ckpt-4 (step 4)" in proc.stderr
    # Moved aside, not deleted.
    assert os.listdir(os.path.join(run, "checkpoints", rundir.DAMAGED))


@pytest.mark.slow
def test_export_uses_the_same_discovery(run, tfds_dir):
  with open(_ckpt(run, "ckpt-4.index"), "wb") as f:
    f.write(b"garbage")
  os.remove(_ckpt(run, "checkpoint"))
  proc = _main(run, tfds_dir, "--mode=export")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "ckpt-2 (step 2)" in proc.stderr
  assert "Skipped checkpoint ckpt-4" in proc.stderr
  assert os.path.exists(_ckpt(run, "ckpt-4.index"))  # Left in place.


@pytest.mark.slow
def test_export_needs_only_the_run_directory(run, tfds_dir):
  """--mode=export --workdir=RUN: config.json gives the width (8 here, the
  default is 64) and the rest; a flag that defines the model and differs
  from the record is one error line, and nothing is exported."""
  shutil.rmtree(os.path.join(run, "saved_model"))
  proc = run_module(
    "tf_ttur.main",
    "--mode=export",
    f"--workdir={run}",
    f"--data_dir={tfds_dir}",
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(run, "saved_model", "assets", "model.json")) as f:
    exported = json.load(f)
  assert exported["step"] == 4
  shutil.rmtree(os.path.join(run, "saved_model"))
  proc = run_module(
    "tf_ttur.main",
    "--mode=export",
    f"--workdir={run}",
    f"--data_dir={tfds_dir}",
    "--width=16",
  )
  assert proc.returncode == 2
  assert "--width: 8 in config.json, now 16" in _one_error_line(proc)
  assert not os.path.exists(os.path.join(run, "saved_model"))


@pytest.mark.slow
def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(run, tfds_dir):
  for name in ("ckpt-2.index", "ckpt-4.index"):
    with open(_ckpt(run, name), "wb") as f:
      f.write(b"garbage")
  before = sorted(os.listdir(os.path.join(run, "checkpoints")))
  metrics = open(os.path.join(run, "metrics.jsonl")).read()
  proc = _main(run, tfds_dir, "--train_steps=6")
  assert proc.returncode == 2
  line = _one_error_line(proc)
  assert "none of the 2 checkpoints" in line and "--restart" in line
  assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == before
  assert open(os.path.join(run, "metrics.jsonl")).read() == metrics


@pytest.mark.slow
def test_restart_moves_the_old_run_aside(run, tfds_dir):
  proc = _main(run, tfds_dir, "--restart")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "--restart: moved the previous run to" in proc.stderr
  old = [d for d in os.listdir(os.path.dirname(run)) if ".old-" in d]
  assert len(old) == 1
  aside = os.path.join(os.path.dirname(run), old[0])
  assert os.path.exists(os.path.join(aside, "checkpoints", "ckpt-4.index"))
  assert "Resumed from" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
  "flag, old, new",
  [
    ("--width=16", 8, 16),
    ("--model=wgan_gp", "dcgan", "wgan_gp"),
    ("--z_dim=64", 100, 64),
  ],
)
def test_resume_refuses_other_model_flags_before_writing(
  run, tfds_dir, flag, old, new
):
  config_before = open(os.path.join(run, "config.json")).read()
  proc = _main(run, tfds_dir, flag, "--train_steps=6")
  assert proc.returncode == 2
  line = _one_error_line(proc)
  name = flag[2:].split("=")[0]
  assert f"--{name}: {old!r} in config.json, now {new!r}" in line
  assert open(os.path.join(run, "config.json")).read() == config_before


@pytest.mark.slow
def test_changed_run_flags_are_logged(run, tfds_dir):
  proc = _main(run, tfds_dir, "--train_steps=6", "--d_lr=2e-4")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Resuming with a changed flag: --d_lr: 0.0001 -> 0.0002" in proc.stderr
  assert "--train_steps: 4 -> 6" in proc.stderr
  with open(os.path.join(run, "config.json")) as f:
    assert json.load(f)["optimization"]["d_lr"] == 2e-4


@pytest.mark.slow
def test_checkpoint_of_another_model_without_config_is_one_line(run, tfds_dir):
  os.remove(os.path.join(run, "config.json"))
  proc = _main(run, tfds_dir, "--width=16", "--train_steps=6")
  assert proc.returncode == 2
  assert "does not fit the model of these flags" in _one_error_line(proc)


@pytest.mark.slow
def test_second_run_on_the_same_directory_stops(tmp_path, tfds_dir):
  workdir = str(tmp_path / "run")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  first = subprocess.Popen(
    [
      sys.executable,
      "-m",
      "tf_ttur.main",
      *SMOKE,
      f"--workdir={workdir}",
      f"--data_dir={tfds_dir}",
      "--train_steps=100000",
    ],
    cwd=REPO,
    env=env,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
  )
  try:
    deadline = time.monotonic() + 300
    while not records.read(workdir) and time.monotonic() < deadline:
      time.sleep(0.2)
    second = _main(workdir, tfds_dir, "--train_steps=60")
    assert second.returncode == 2
    line = _one_error_line(second)
    assert f"is in use by pid {first.pid}" in line
  finally:
    first.kill()
    first.wait()
  # The lock dies with its process: the directory is usable again.
  third = _main(workdir, tfds_dir, "--train_steps=4")
  assert third.returncode == 0, third.stderr[-3000:]


def test_lock_is_exclusive_and_released(tmp_path):
  workdir = rundir.RunDir(str(tmp_path / "w"))
  with rundir.RunLock(workdir):
    with pytest.raises(rundir.RunInUseError, match=f"pid {os.getpid()}"):
      rundir.RunLock(workdir).acquire()
  rundir.RunLock(workdir).acquire().release()


def test_check_resume_lists_every_changed_defining_flag():
  recorded = Config.of(width=8, z_dim=100).flat()
  with pytest.raises(rundir.ConfigError) as e:
    runconfig.check_resume(
      Config.of(width=16, z_dim=64, image_size=64), recorded
    )
  message = str(e.value)
  for part in ("--width: 8", "--z_dim: 100", "--image_size: 32"):
    assert part in message
  assert runconfig.check_resume(Config.of(width=8, d_lr=3e-4), recorded) == [
    "--d_lr: 0.0001 -> 0.0003"
  ]


@pytest.mark.slow
def test_everything_checkable_is_checked_before_training(
  tmp_path, tfds_dir, smoke_run
):
  import numpy as np

  small = tmp_path / "mu10.npz"
  np.savez(small, mu=np.zeros(10), sigma=np.eye(10))
  workdir = tmp_path / "run"
  cases = [
    (
      ("--fid_every=2", f"--fid_stats={small}"),
      "mu has 10 dimensions; FID statistics are of the 2048",
    ),
    (
      (
        "--quality_every=2",
        f"--quality_model={os.path.join(smoke_run, 'saved_model')}",
      ),
      "has no `features` function",
    ),
  ]
  for extra, words in cases:
    proc = _main(str(workdir), tfds_dir, *extra)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert words in _one_error_line(proc)
    assert not workdir.exists()  # Nothing written.


@pytest.mark.slow
@pytest.mark.parametrize(
  "module, args, words",
  [
    ("tf_ttur.main", ["--flagfile=nope.flags"], "Unable to open flagfile"),
    ("tf_ttur.main", ["--width=x"], "--width"),
    ("tf_ttur.sample", ["--saved_model=x", "--num=0"], "--num=0"),
    ("tf_ttur.sample", ["--saved_model=x", "--batch_size=-1"], "--batch_size"),
  ],
)
def test_usage_errors_are_one_line_and_exit_2(module, args, words):
  proc = run_module(module, *args)
  assert proc.returncode == 2
  line = _one_error_line(proc)
  assert words in line and "ERROR::" not in line and "FATAL" not in proc.stderr


GENERATOR = os.path.join(REPO, "saved_models", "demo_shapes_dcgan")
CLASSIFIER = os.path.join(REPO, "saved_models", "shapes_classifier")


@pytest.mark.slow
@pytest.mark.parametrize(
  "case, args, words",
  [
    (
      "not a generator",
      [f"--saved_model={CLASSIFIER}"],
      "is not a generator of this project",
    ),
    (
      "existing file",
      [f"--saved_model={GENERATOR}", "--out=exists.png"],
      "exists; pass --overwrite",
    ),
    # A missing folder is made (runs/ on a fresh clone); one that cannot
    # be (below a file) is refused.
    (
      "folder below a file",
      [f"--saved_model={GENERATOR}", "--out=exists.png/sub/g.png"],
      "does not exist and cannot be made",
    ),
    (
      "folder named .png",
      [f"--saved_model={GENERATOR}", "--out=g.png"],
      "is a folder",
    ),
    (
      "non-empty folder",
      [f"--saved_model={GENERATOR}", "--out=full"],
      "is not empty; pass --overwrite",
    ),
  ],
)
def test_sampler_bad_input_is_one_line_and_overwrites_nothing(
  tmp_path, case, args, words
):
  (tmp_path / "exists.png").write_bytes(b"keep")
  (tmp_path / "g.png").mkdir()
  (tmp_path / "full").mkdir()
  (tmp_path / "full" / "000000.png").write_bytes(b"keep")
  proc = run_module("tf_ttur.sample", *args, "--num=2", cwd=str(tmp_path))
  assert proc.returncode == 2, (case, proc.stderr[-2000:])
  assert words in _one_error_line(proc)
  assert (tmp_path / "exists.png").read_bytes() == b"keep"
  assert (tmp_path / "full" / "000000.png").read_bytes() == b"keep"
  assert sorted(os.listdir(tmp_path)) == ["exists.png", "full", "g.png"]


def test_every_path_of_a_run_is_named_by_run_dir(tmp_path):
  run_dir = rundir.RunDir(str(tmp_path))
  names = {
    "config": rundir.CONFIG_FILE,
    "vocabulary": rundir.VOCAB_FILE,
    "lock": rundir.LOCK_FILE,
    "metrics": rundir.METRICS_FILE,
    "checkpoints": rundir.CHECKPOINTS_DIR,
    "samples": rundir.SAMPLES_DIR,
    "export": rundir.EXPORT_DIR,
    "best_export": rundir.BEST_DIR,
    "best_file": rundir.BEST_FILE,
  }
  for attribute, name in names.items():
    assert getattr(run_dir, attribute) == os.path.join(str(tmp_path), name)
  assert run_dir.damaged == os.path.join(
    str(tmp_path), rundir.CHECKPOINTS_DIR, rundir.DAMAGED
  )
  assert run_dir.scratch("worker-1").checkpoints == os.path.join(
    str(tmp_path), ".scratch-worker-1", rundir.CHECKPOINTS_DIR
  )


@pytest.mark.slow
def test_a_resumed_run_reads_config_json_once_under_its_lock(
  run, tfds_dir, monkeypatch
):
  from tf_ttur import train as train_lib

  reads = []
  original = runconfig.recorded_config

  def counting(run_dir, **kwargs):
    import fcntl

    # Held: another attempt to take the lock fails.
    with open(run_dir.lock) as handle:
      try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held = False
        fcntl.flock(handle, fcntl.LOCK_UN)
      except OSError:
        held = True
    reads.append(held)
    return original(run_dir, **kwargs)

  monkeypatch.setattr(runconfig, "recorded_config", counting)
  config = Config.from_flagfile(
    os.path.join(REPO, "configs", "smoke.flags"),
    f"--workdir={run}",
    f"--data_dir={tfds_dir}",
    "--train_steps=6",
    "--export=false",
  )
  train_lib.train(config.validate())
  assert reads == [True]
  assert records.read(run)[-1]["step"] == 6


def _write_config(tmp_path, text):
  (tmp_path / rundir.CONFIG_FILE).write_text(text)
  return rundir.RunDir(str(tmp_path))


def test_config_json_is_read_strictly(tmp_path):
  """A hand-edited or damaged config.json is named with the field, the file
  and what the field should be, before any checkpoint is opened."""
  good = Config.of(width=8).to_dict()
  assert (
    runconfig.recorded_config(rundir.RunDir(str(tmp_path))) is None
  )  # A new run.
  workdir = _write_config(tmp_path, json.dumps(good))
  assert runconfig.recorded_config(workdir)["width"] == 8
  with pytest.raises(rundir.ConfigError, match=r"config\.json holds null"):
    runconfig.recorded_config(_write_config(tmp_path, "null"))
  partial = {k: v for k, v in good.items() if k != "network"}
  with pytest.raises(rundir.ConfigError, match="lacks the part.*network"):
    runconfig.recorded_config(_write_config(tmp_path, json.dumps(partial)))
  wrong = json.loads(json.dumps(good))
  wrong["network"]["width"] = "8"
  with pytest.raises(
    rundir.ConfigError, match=r'config\.json: width is "8", not an integer'
  ):
    runconfig.recorded_config(_write_config(tmp_path, json.dumps(wrong)))
  wrong["network"]["width"] = True
  with pytest.raises(rundir.ConfigError, match="width is true, not an "):
    runconfig.recorded_config(_write_config(tmp_path, json.dumps(wrong)))
  extra = json.loads(json.dumps(good))
  extra["network"]["my_note"] = "kept by hand"
  said = []
  flat = runconfig.recorded_config(
    _write_config(tmp_path, json.dumps(extra)), log=said.append
  )
  assert flat["width"] == 8
  assert len(said) == 1 and "my_note" in said[0]
  assert "not written again" in said[0]


@pytest.mark.slow
def test_train_steps_need_not_be_a_multiple_of_log_every(tmp_path, tfds_dir):
  """The last, shorter interval is trained, logged and checkpointed; a
  resume to a longer run goes on from it in whole intervals."""
  from tf_ttur import train as train_lib

  config = Config.from_flagfile(
    os.path.join(REPO, "configs", "smoke.flags"),
    f"--workdir={tmp_path / 'run'}",
    f"--data_dir={tfds_dir}",
    "--train_steps=5",
    "--log_every=2",
    "--checkpoint_every=2",
    "--sample_every=2",
    "--export=false",
  ).validate()
  train_lib.train(config)
  steps = [
    r["step"] for r in records.read(str(tmp_path / "run")) if "d_loss" in r
  ]
  assert steps == [2, 4, 5]
  assert os.path.exists(_ckpt(str(tmp_path / "run"), "ckpt-5") + ".index")
  train_lib.train(config.replace(train_steps=9))
  steps = [
    r["step"] for r in records.read(str(tmp_path / "run")) if "d_loss" in r
  ]
  assert steps == [2, 4, 5, 6, 8, 9]
  # Elapsed time goes on across the resume.
  elapsed = [
    r["elapsed_sec"]
    for r in records.read(str(tmp_path / "run"))
    if "d_loss" in r
  ]
  assert elapsed == sorted(elapsed)
