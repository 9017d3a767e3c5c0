"""fid.files: a file is written whole or not at all; what a killed writer
leaves is hidden and removed by the next run."""

import os
import subprocess
import sys

import pytest

from fid import files
from tests.helpers import REPO
from tf_ttur import rundir


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
  path = tmp_path / "config.json"
  path.write_text("old")
  with pytest.raises(RuntimeError):
    with files.atomic_path(str(path)) as tmp:
      with open(tmp, "w") as f:
        f.write("half")
      raise RuntimeError("killed mid-write")
  assert path.read_text() == "old"
  assert os.listdir(tmp_path) == ["config.json"]
  files.atomic_write(str(path), "new")
  files.atomic_write(str(tmp_path / "grid.png"), b"\x89PNG")
  assert path.read_text() == "new"
  assert (tmp_path / "grid.png").read_bytes() == b"\x89PNG"
  assert sorted(os.listdir(tmp_path)) == ["config.json", "grid.png"]
  # The usual permissions (a stats file is shared), not owner-only.
  umask = os.umask(0)
  os.umask(umask)
  assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_the_temporary_name_keeps_a_suffix_for_format_sniffing_writers(
  tmp_path,
):
  with files.atomic_path(str(tmp_path / "compare.png"), suffix=".png") as tmp:
    name = os.path.basename(tmp)
    assert name.startswith(".compare.png.") and name.endswith(".tmp.png")
    open(tmp, "wb").close()
  assert os.listdir(tmp_path) == ["compare.png"]


def test_read_json_says_missing_or_unreadable(tmp_path):
  assert files.read_json(str(tmp_path / "none.json")) is None
  (tmp_path / "cut.json").write_text('{"step": 1')
  with pytest.raises(ValueError):
    files.read_json(str(tmp_path / "cut.json"))
  (tmp_path / "ok.json").write_text('{"step": 1}')
  assert files.read_json(str(tmp_path / "ok.json")) == {"step": 1}


def test_a_killed_writers_temporary_files_are_removed_by_the_next_run(tmp_path):
  # What atomic_path leaves when the process is killed before the rename.
  (tmp_path / "samples").mkdir()
  left = [
    tmp_path / ".config.json.k2j3h4.tmp",
    tmp_path / "samples" / ".step_00000100.png.a8s7d6.tmp",
  ]
  kept = [tmp_path / "config.json", tmp_path / "samples" / "step_00000100.png"]
  for path in left + kept:
    path.write_text("x")
  removed = rundir.remove_leftovers(rundir.RunDir(str(tmp_path)))
  assert sorted(removed) == sorted(map(str, left))
  assert all(path.exists() for path in kept)


@pytest.mark.slow
def test_the_shared_file_helpers_do_not_import_tensorflow():
  # tf_ttur's TensorFlow-free modules (the run directory, metrics records,
  # the saddle-point toy) write through fid.files; importing it must not
  # cost TensorFlow's start-up.
  code = (
    "import sys\n"
    "import fid, fid.files, tf_ttur.rundir, tf_ttur.records, "
    "tf_ttur.experiments.toy\n"
    "print('tensorflow' in sys.modules)\n"
  )
  proc = subprocess.run(
    [sys.executable, "-c", code],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == "False"
