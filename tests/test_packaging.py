"""pyproject.toml: `pip install .` gives working `fid` and `tf_ttur`
packages, run from any folder with nothing of the repository on the path."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from fid import __main__ as cli
from tests.helpers import REPO
from tests.helpers import write_random_pngs


def _install(tmp_path) -> str:
  """pip install --no-deps --target of a copy of the sources (a build in
  the repository itself would leave build/ and egg-info there)."""
  source = tmp_path / "src"
  source.mkdir()
  for name in ("pyproject.toml", "README.md"):
    shutil.copy(os.path.join(REPO, name), source / name)
  ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
  for package in ("tf_ttur", "fid"):
    shutil.copytree(
      os.path.join(REPO, package), source / package, ignore=ignore
    )
  target = str(tmp_path / "site")
  command = [
    sys.executable,
    "-m",
    "pip",
    "install",
    "--quiet",
    "--no-deps",
    "--target",
    target,
    str(source),
  ]
  if importlib.util.find_spec("setuptools") is not None:
    command.insert(4, "--no-build-isolation")  # offline: the local setuptools
  proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return target


def _run(target, cwd, *args):
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env.update(PYTHONPATH=target, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run(
    [sys.executable, *args],
    cwd=cwd,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )


@pytest.mark.slow
def test_installed_package_runs_from_another_folder(
  tmp_path, inception_pb, capsys
):
  target = _install(tmp_path)
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  folders = []
  for name, seed in (("a", 0), ("b", 1)):
    folders.append(write_random_pngs(elsewhere / name, 6, seed=seed))
  # The installed copy is the one imported (not the repository's).
  proc = _run(
    target,
    elsewhere,
    "-c",
    "import fid, tf_ttur; print(fid.__file__); print(tf_ttur.__file__)",
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert all(line.startswith(target) for line in proc.stdout.split())
  proc = _run(
    target,
    elsewhere,
    "-m",
    "fid",
    *folders,
    f"--inception={inception_pb}",
    "--quiet",
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  installed = float(proc.stdout.split()[1])
  assert cli.main([*folders, f"--inception={inception_pb}", "--quiet"]) == 0
  from_repo = float(capsys.readouterr().out.split()[1])
  assert installed == from_repo
  # The training binary, its flags and the shipped corpus (package data).
  proc = _run(
    target,
    elsewhere,
    "-m",
    "tf_ttur.main",
    "--mode=dry_run",
    f"--flagfile={os.path.join(REPO, 'configs', 'demo_text.flags')}",
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert json.loads(proc.stdout)["network"]["model"] == "language"
  proc = _run(
    target,
    elsewhere,
    "-c",
    "from tf_ttur.data import text; import os; "
    "print(os.path.getsize(text.CORPUS))",
  )
  assert proc.returncode == 0 and int(proc.stdout) > 1000, proc.stderr[-2000:]
