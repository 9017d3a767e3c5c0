"""One version and one command-line voice: every program of the project
refuses a bad flag or a stray argument with one `error:` line and exit
code 2, and says the same version."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest

import fid
from tests.helpers import REPO
from tests.helpers import error_lines
from tests.helpers import run_module
import tf_ttur

PROGRAMS = (
  "tf_ttur.main",
  "tf_ttur.sample",
  "tf_ttur.quality",
  "tf_ttur.experiments.toy",
  "tf_ttur.experiments.disturb",
  "tf_ttur.experiments.compare",
  "fid",
)


def test_one_version():
  assert tf_ttur.__version__ == fid.__version__
  assert importlib.metadata.version("tf-ttur") == fid.__version__


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize(
  "args",
  [("--no_such_flag=1",), ("stray",)],
  ids=["unknown_flag", "stray_argument"],
)
def test_every_program_fails_one_way(program, args):
  if program == "fid" and args == ("stray",):
    args = ("--batch_size=x", "a", "b")  # fid takes paths as arguments.
  proc = run_module(program, *args, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert len(error_lines(proc.stderr)) == 1, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_tensorflow_start_up_lines_are_hidden_unless_asked():
  """No program prints TensorFlow's C++ start-up lines (nor cuInit's error
  on a CPU machine) by default; --show_tf_logs or the user's own
  TF_CPP_MIN_LOG_LEVEL shows them."""
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  code = "import fid, tensorflow as tf; print(float(tf.constant(1.0) + 1))"

  def run(*args, **extra):
    return subprocess.run(
      [sys.executable, "-c", code, *args],
      cwd=REPO,
      env={**env, **extra},
      capture_output=True,
      text=True,
      timeout=300,
    )

  quiet = run()
  assert quiet.returncode == 0 and quiet.stdout == "2.0\n"
  assert quiet.stderr == ""
  # A library that first asks whether TensorFlow is installed (TFDS's lazy
  # imports) does not make the import that follows loud.
  code = (
    "import importlib.util, fid\n"
    "assert importlib.util.find_spec('tensorflow') is not None\n"
    "import tensorflow as tf; print(float(tf.constant(1.0) + 1))"
  )
  asked = run()
  assert asked.returncode == 0 and asked.stdout == "2.0\n"
  assert asked.stderr == ""
  code = "import fid, tensorflow as tf; print(float(tf.constant(1.0) + 1))"
  for shown in (run("--show_tf_logs"), run(TF_CPP_MIN_LOG_LEVEL="0")):
    assert shown.returncode == 0
    assert "I0000" in shown.stderr or "oneDNN" in shown.stderr


@pytest.mark.slow
def test_libraries_python_log_lines_are_hidden_unless_asked(tmp_path):
  """TensorFlow's own INFO lines through Python's logging (saving a
  SavedModel: "Assets written to", "Writing fingerprint") are hidden after
  `import fid`, the program's own lines are not; --show_tf_logs shows
  them."""
  code = (
    "import sys, fid, tensorflow as tf\n"
    "from absl import logging\n"
    "logging.use_absl_handler(); logging.set_verbosity(logging.INFO)\n"
    "tf.saved_model.save(tf.Module(), sys.argv[1])\n"
    "logging.info('own line')\n"
  )

  def run(name, *args):
    return subprocess.run(
      [sys.executable, "-c", code, str(tmp_path / name), *args],
      cwd=REPO,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
      capture_output=True,
      text=True,
      timeout=300,
    )

  quiet, shown = run("a"), run("b", "--show_tf_logs")
  assert quiet.returncode == 0 and shown.returncode == 0, shown.stderr
  assert "own line" in quiet.stderr and "own line" in shown.stderr
  assert "Writing fingerprint" not in quiet.stderr
  assert "Writing fingerprint" in shown.stderr


PROGRAMS = {
  "tf_ttur.main": "--model",
  "tf_ttur.sample": "--saved_model",
  "tf_ttur.quality": "--out",
  "tf_ttur.experiments.compare": "--flagfiles",
  "tf_ttur.experiments.sweep": "--d_lr",
  "tf_ttur.experiments.disturb": "--num",
  "tf_ttur.experiments.toy": "--iterations",
}


@pytest.mark.slow
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_program_has_help_and_version(program):
  """--help lists the program's own flags and exits 0; --version prints the
  project's version; neither loads TensorFlow."""
  proc = run_module(program, "--help")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert PROGRAMS[program] in proc.stdout
  if program == "tf_ttur.experiments.sweep":  # Its flags defined elsewhere.
    for flag in ("--seeds", "--out", "--override", "--metric"):
      assert flag in proc.stdout, flag
  assert "--helpfull lists every flag" in proc.stdout
  proc = run_module(program, "--version")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip() == f"tf-ttur {tf_ttur.__version__}"
  code = (
    f"import runpy, sys; sys.argv = ['x', '--help']\n"
    f"try:\n  runpy.run_module('{program}', run_name='__main__')\n"
    "except SystemExit:\n  pass\n"
    "print('tensorflow' in sys.modules)"
  )
  proc = subprocess.run(
    [sys.executable, "-c", code],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.stdout.strip().endswith("False"), (proc.stdout, proc.stderr)


def test_quality_never_replaces_a_classifier_without_overwrite(tmp_path):
  """The default --out is the shipped classifier: refused before any
  training, nothing touched; so is any existing --out."""
  shipped = os.path.join(
    REPO, "saved_models", "shapes_classifier", "saved_model.pb"
  )
  before = os.stat(shipped).st_mtime_ns
  proc = run_module("tf_ttur.quality")
  assert proc.returncode == 2
  assert error_lines(proc.stderr) == [
    f"error: --out={os.path.dirname(shipped)} exists (the shipped "
    "classifier, which fd_shapes figures were measured with); pass "
    "--overwrite to replace it, or give another --out"
  ]
  assert os.stat(shipped).st_mtime_ns == before
  (tmp_path / "mine").mkdir()
  proc = run_module("tf_ttur.quality", f"--out={tmp_path / 'mine'}")
  assert proc.returncode == 2 and "pass --overwrite" in proc.stderr


@pytest.mark.slow
def test_fid_verify_has_a_version():
  proc = run_module("fid.verify", "--version")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip() == f"python -m fid.verify {fid.__version__}"
