"""python -m tf_ttur.experiments.sweep: the grid of learning-rate pairs,
checked before training, ranked by the paper's statistic, resumed and
drawn."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import REPO
from tests.helpers import run_module
from tf_ttur.errors import ConfigError
from tf_ttur.experiments import sweep

SMOKE = os.path.join(REPO, "configs", "smoke.flags")
# smoke.flags evaluates nothing: a sweep of it needs an evaluation.
EVALUATES = ["--quality_every=2"]


def _fake_run(workdir, values):
  os.makedirs(workdir)
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    for step, value in values:
      f.write(json.dumps({"step": step, "steps_per_sec": 1.0}) + "\n")
      f.write(json.dumps({"step": step, "fd_shapes": value}) + "\n")


def test_grid_ranking_table_and_heatmap(tmp_path):
  d_lrs, g_lrs = [1e-4, 3e-4], [1e-4, 3e-4]
  runs = sweep.plan(SMOKE, d_lrs, g_lrs, 2, str(tmp_path), EVALUATES)
  assert [(d, g, seed) for d, g, seed, _, _ in runs] == [
    (d, g, s) for d in d_lrs for g in g_lrs for s in (0, 1)
  ]
  assert runs[0][3] == str(tmp_path / "d0.0001_g0.0001" / "seed_0")
  assert runs[0][4][:2] == ["--d_lr=0.0001", "--g_lr=0.0001"]
  curves = {  # (d, g): per seed [(step, value)]
    (1e-4, 1e-4): [[(1, 50), (2, 40)], [(1, 60), (2, 44)]],
    (1e-4, 3e-4): [[(1, 30), (2, 20)], [(1, 10), (2, 26)]],
    (3e-4, 1e-4): [[(1, 70), (2, 65)], [(1, 75), (2, 66)]],
    (3e-4, 3e-4): [[(1, 45), (2, 35)], [(1, 41), (2, 39)]],
  }
  for d_lr, g_lr, seed, workdir, _ in runs:
    _fake_run(workdir, curves[(d_lr, g_lr)][seed])
  metric, ranked = sweep.rank(runs, None)
  assert metric == "fd_shapes"
  assert [(s["d_lr"], s["g_lr"]) for s in ranked] == [
    (1e-4, 3e-4),
    (3e-4, 3e-4),
    (1e-4, 1e-4),
    (3e-4, 1e-4),
  ]
  # The best of the mean curve (20 at step 1), not a seed's best (10) nor
  # the mean of the seeds' bests (15).
  assert ranked[0]["paper_statistic"] == {"value": 20.0, "step": 1, "seeds": 2}
  assert ranked[0]["best_min"] == 10.0
  assert [s["one_time_scale"] for s in ranked] == [False, True, True, False]
  table = sweep.write_table(ranked, metric, str(tmp_path / "sweep.md"))
  assert table.splitlines()[2] == (
    "| 1 | 0.0001 | 0.0003 | 20.00 | 1 | 2 | 10.00-20.00 | TTUR |"
  )
  png = tmp_path / "sweep.png"
  sweep.write_heatmap(ranked, d_lrs, g_lrs, metric, str(png))
  assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000


def test_every_pair_is_checked_before_any_trains(tmp_path):
  with pytest.raises(
    ConfigError, match="d-0.001_g0.0001: --d_lr must be positive"
  ):
    sweep.plan(
      SMOKE, [1e-4, -1e-3], [1e-4], 1, str(tmp_path / "out"), EVALUATES
    )
  assert not (tmp_path / "out").exists()
  with pytest.raises(ConfigError, match="--g_lr names a rate twice"):
    sweep.sweep(SMOKE, ["1e-4"], ["1e-4", "1e-4"], 1, str(tmp_path), [])
  with pytest.raises(ConfigError, match="--d_lr: could not convert"):
    sweep.sweep(SMOKE, ["fast"], ["1e-4"], 1, str(tmp_path), [])


def test_grids_and_seed_counts_are_bounded_before_validation(tmp_path):
  """A 1000 x 1000 grid or a billion seeds is refused at once, before any
  pair is validated (an hour for a million pairs) or any list is built."""
  import time

  from tf_ttur.experiments import compare

  started = time.monotonic()
  rates = [f"{1e-5 * (i + 1):g}" for i in range(1000)]
  with pytest.raises(
    ConfigError,
    match="1000 x 1000 pairs x --seeds=1 are 1,000,000 runs; at most 1,000",
  ):
    sweep.sweep(SMOKE, rates, rates, 1, str(tmp_path / "out"), EVALUATES)
  with pytest.raises(ConfigError, match="1,000,000,000 runs"):
    sweep.sweep(
      SMOKE, ["1e-4"], ["1e-4"], 1_000_000_000, str(tmp_path / "out"), EVALUATES
    )
  with pytest.raises(
    ConfigError, match="2 flagfiles x --seeds=1000000 are 2,000,000 runs"
  ):
    compare.compare([SMOKE, SMOKE], 1_000_000, str(tmp_path / "out"), [])
  assert time.monotonic() - started < 5
  assert not (tmp_path / "out").exists()


def test_a_flagfile_that_evaluates_nothing_is_refused_before_training(tmp_path):
  out = tmp_path / "out"
  with pytest.raises(
    ConfigError,
    match="smoke.flags evaluates nothing to compare: set one of --fid_every",
  ):
    sweep.sweep(SMOKE, ["1e-4"], ["1e-4", "3e-4"], 1, str(out), [])
  with pytest.raises(
    ConfigError,
    match="does not evaluate fid .it "
    "evaluates: fd_shapes.; set its --fid_every",
  ):
    sweep.sweep(SMOKE, ["1e-4"], ["1e-4"], 1, str(out), EVALUATES, metric="fid")
  assert not out.exists()


@pytest.mark.slow
def test_sweep_trains_ranks_and_resumes(tmp_path, tfds_dir):
  out = tmp_path / "sweep"
  args = (
    f"--flagfile={SMOKE}",
    "--d_lr=1e-4,3e-4",
    "--g_lr=1e-4",
    "--seeds=1",
    f"--out={out}",
    "--override=--train_steps=4",
    "--override=--log_every=2",
    "--override=--checkpoint_every=2",
    "--override=--quality_every=2",
    "--override=--quality_samples=40",
    f"--override=--data_dir={tfds_dir}",
  )
  proc = run_module("tf_ttur.experiments.sweep", *args)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.count("training ") == 2
  assert "[2/2]" in proc.stdout
  data = json.loads((out / "sweep.json").read_text())
  assert data["metric"] == "fd_shapes"
  assert sorted((s["d_lr"], s["g_lr"]) for s in data["ranked"]) == [
    (1e-4, 1e-4),
    (3e-4, 1e-4),
  ]
  values = [s["paper_statistic"]["value"] for s in data["ranked"]]
  assert values == sorted(values)
  assert (out / "sweep.png").read_bytes().startswith(b"\x89PNG")
  # The runs' event files are one logdir's trials.
  assert all(
    any(f.startswith("events.") for f in os.listdir(out / name / "seed_0"))
    for name in ("d0.0001_g0.0001", "d0.0003_g0.0001")
  )
  again = run_module("tf_ttur.experiments.sweep", *args)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stdout.count("reused ") == 2 and "training " not in again.stdout
  assert (
    json.loads((out / "sweep.json").read_text())["ranked"] == (data["ranked"])
  )


@pytest.mark.slow
@pytest.mark.parametrize(
  "args,message",
  [
    (("--d_lr=1e-4", "--g_lr=1e-4"), "error: --flagfile=F is required"),
    (
      (f"--flagfile={SMOKE}", "--d_lr=x", "--g_lr=1e-4"),
      "error: --d_lr: could not convert string to float: 'x'",
    ),
    (
      (f"--flagfile={SMOKE}", "--d_lr=1e-4", "--g_lr=0"),
      "error: d0.0001_g0: --g_lr must be positive",
    ),
  ],
)
def test_sweep_bad_input(tmp_path, args, message):
  proc = run_module(
    "tf_ttur.experiments.sweep", *args, f"--out={tmp_path / 'out'}"
  )
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1].startswith(message)
  assert "Traceback" not in proc.stderr
  assert not (tmp_path / "out").exists()


def test_out_and_data_folders_that_are_files_are_one_error(
  tmp_path, monkeypatch
):
  from tf_ttur import discovery
  from tf_ttur import preflight
  from tf_ttur.experiments import compare

  a_file = tmp_path / "a_file"
  a_file.write_text("mine")
  with pytest.raises(
    ConfigError, match=f"--out={a_file}: a file, not a folder"
  ):
    sweep.sweep(SMOKE, ["1e-4"], ["1e-4"], 1, str(a_file), EVALUATES)
  with pytest.raises(ConfigError, match=f"--out={a_file}: a file"):
    compare.compare([SMOKE], 1, str(a_file), ["--quality_every=2"])
  with pytest.raises(ConfigError, match=f"--data_dir={a_file}: a file"):
    preflight.check_data_dir(str(a_file))
  monkeypatch.setenv("TFDS_DATA_DIR", str(a_file))
  with pytest.raises(ConfigError, match=f"TFDS_DATA_DIR={a_file}: a file"):
    preflight.check_data_dir(None)
  with pytest.raises(
    ConfigError, match="is a file; a run's checkpoints are a folder"
  ):
    discovery.checkpoints_on_disk(str(a_file))
  assert a_file.read_text() == "mine"
