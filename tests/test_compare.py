"""python -m tf_ttur.experiments.compare: trains each configuration per
seed, reuses finished runs, writes the paper-style figure and the table."""

import json
import os

import numpy as np
import pytest

from tests.helpers import REPO
from tests.helpers import run_module

TINY = """--flagfile={repo}/configs/smoke.flags
--train_steps=4
--log_every=2
--checkpoint_every=2
--quality_every=2
--quality_samples=40
--data_dir={data_dir}
"""


@pytest.mark.slow
def test_compare_two_configurations_two_seeds(tmp_path, tfds_dir):
  from tests.helpers import REPO

  flagfiles = []
  for name, g_lr in (("ttur", "5e-4"), ("orig", "1e-4")):
    path = tmp_path / f"{name}.flags"
    path.write_text(
      TINY.format(repo=REPO, data_dir=tfds_dir)
      + f"--d_lr=1e-4\n--g_lr={g_lr}\n"
    )
    flagfiles.append(str(path))
  out = tmp_path / "compare"
  args = (f"--flagfiles={','.join(flagfiles)}", "--seeds=2", f"--out={out}")
  proc = run_module("tf_ttur.experiments.compare", *args)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.count("training ") == 4
  png = (out / "compare.png").read_bytes()
  assert png.startswith(b"\x89PNG") and len(png) > 5000
  table = (out / "compare.md").read_text()
  assert "| ttur | 0.0001, 0.0005 | 2 |" in table
  assert "| orig | 0.0001, 0.0001 | 2 |" in table
  assert "paper's statistic: best fd_shapes of the mean curve" in table
  data = json.loads((out / "compare.json").read_text())
  summaries = {s["name"]: s for s in data["summaries"]}
  for name in ("ttur", "orig"):
    s = summaries[name]
    assert s["metric"] == "fd_shapes" and s["steps"] == [2, 4]
    # The band holds the mean; the best is that of the seeds' curves.
    for lo, mean, hi in zip(s["min"], s["mean"], s["max"]):
      assert lo <= mean <= hi
    assert s["best_min"] <= s["best_mean"] <= s["best_max"]
    assert s["paper_statistic"] == {
      "value": min(s["mean"]),
      "step": s["steps"][s["mean"].index(min(s["mean"]))],
      "seeds": 2,
    }
    assert s["best_max"] <= max(s["max"])
  # Seeds differ, configurations differ.
  assert summaries["ttur"]["min"] != summaries["ttur"]["max"]
  assert summaries["ttur"]["mean"] != summaries["orig"]["mean"]

  # A second call trains nothing and gives the same table.
  stamps = {
    p: os.path.getmtime(p) for p in out.glob("*/seed_*/checkpoints/checkpoint")
  }
  assert len(stamps) == 4
  again = run_module("tf_ttur.experiments.compare", *args)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stdout.count("reused ") == 4 and "training " not in again.stdout
  assert {p: os.path.getmtime(p) for p in stamps} == stamps
  assert (out / "compare.md").read_text() == table


@pytest.mark.slow
def test_compare_bad_input(tmp_path):
  proc = run_module(
    "tf_ttur.experiments.compare",
    "--flagfiles=configs/nope.flags",
    f"--out={tmp_path / 'c'}",
  )
  assert proc.returncode == 2
  assert "error: --flagfiles: configs/nope.flags: no such file" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not (tmp_path / "c").exists()
  # A flagfile that evaluates nothing is refused before any run trains.
  proc = run_module(
    "tf_ttur.experiments.compare",
    "--flagfiles=configs/smoke.flags",
    f"--out={tmp_path / 'c'}",
  )
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "configs/smoke.flags evaluates nothing to compare" in proc.stderr
  proc = run_module(
    "tf_ttur.experiments.compare",
    "--flagfiles=configs/demo.flags",
    "--metric=fid",
    f"--out={tmp_path / 'c'}",
  )
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert (
    "configs/demo.flags does not evaluate fid (it evaluates: "
    "fd_shapes); set its --fid_every"
  ) in proc.stderr
  assert not (tmp_path / "c").exists()


def test_summary_over_seeds_from_metrics_files(tmp_path):
  """In process: the mean and band at the steps every seed logged, minutes
  from the loss records' rates, the best of each seed."""
  from tf_ttur.experiments import compare
  from tf_ttur.experiments import curves

  logged = {
    "a": [(100, 2.0, 50.0), (200, 2.0, 30.0), (300, 1.0, 40.0)],
    "b": [(100, 4.0, 70.0), (200, 4.0, 10.0)],
  }
  workdirs = []
  for name, rows in logged.items():
    workdir = tmp_path / name
    workdir.mkdir()
    with open(workdir / "metrics.jsonl", "w") as f:
      for step, rate, value in rows:
        f.write(json.dumps({"step": step, "steps_per_sec": rate}) + "\n")
        f.write(json.dumps({"step": step, "fd_shapes": value}) + "\n")
    workdirs.append(str(workdir))
  assert curves.pick_metric(workdirs) == "fd_shapes"
  summary = curves.summarize("ttur", workdirs, "fd_shapes")
  assert summary["steps"] == [100, 200]
  assert summary["mean"] == [60.0, 20.0]
  assert (summary["min"], summary["max"]) == ([50.0, 10.0], [70.0, 30.0])
  assert (summary["best_min"], summary["best_max"]) == (10.0, 30.0)
  assert summary["best_per_seed"] == [30.0, 10.0]
  # The paper's statistic: the best point of the mean curve, not the mean
  # of the seeds' bests (also 20 here, but at another step below).
  assert summary["paper_statistic"] == {"value": 20.0, "step": 200, "seeds": 2}
  # Seed a: 100 steps at 2/s, then 100 more; seed b twice as fast.
  assert summary["minutes"] == pytest.approx(
    [(100 / 2 / 60 + 100 / 4 / 60) / 2, (200 / 2 / 60 + 200 / 4 / 60) / 2]
  )
  assert compare.run_name("configs/demo_orig.flags") == "demo_orig"


def test_paper_statistic_on_hand_made_curves():
  from tf_ttur.experiments import curves

  # Seeds whose own bests are early and late: the mean curve's best lies
  # between, above either seed's best.
  seeds = np.array([[10.0, 30.0, 50.0], [50.0, 20.0, 40.0]])
  paper = curves.paper_statistic(seeds.mean(0), [1000, 2000, 3000], 2)
  assert paper == {"value": 25.0, "step": 2000, "seeds": 2}
  assert paper["value"] > seeds.min(1).mean() == 15.0


@pytest.mark.parametrize(
  "state",
  [
    'model_checkpoint_path: "weird"\n',
    "model_checkpoint_path: ckpt-7\n",
    'model_checkpoint_path: "/elsewhere/model.ckpt-x"\n',
    "\x00\xff garbage",
  ],
)
def test_a_finished_run_is_found_whatever_the_state_file_says(tmp_path, state):
  """The step comes from the ckpt-N.index files on disk (as a resume finds
  them); a state file of any form neither crashes nor decides it."""
  from tf_ttur.experiments import compare

  checkpoints = tmp_path / "run" / "checkpoints"
  checkpoints.mkdir(parents=True)
  (checkpoints / "checkpoint").write_text(state, errors="surrogateescape")
  assert compare.final_step(str(tmp_path / "run")) == 0
  for step in (4, 12):
    (checkpoints / f"ckpt-{step}.index").write_bytes(b"")
  assert compare.final_step(str(tmp_path / "run")) == 12
  assert compare.final_step(str(tmp_path / "missing")) == 0


def test_a_run_made_with_other_flags_is_never_reused(tmp_path):
  """A finished run whose config.json records other learning-relevant
  flags than asked (an --override changed) is refused, naming the flag;
  the same flags (or only runtime ones changed) reuse it."""
  from tf_ttur import runconfig
  from tf_ttur import rundir
  from tf_ttur.config import Config
  from tf_ttur.errors import ConfigError
  from tf_ttur.experiments import compare

  smoke = os.path.join(REPO, "configs", "smoke.flags")
  workdir = str(tmp_path / "smoke" / "seed_0")
  made = Config.from_args(
    f"--flagfile={smoke}", "--seed=0", f"--workdir={workdir}", "--g_lr=1e-3"
  )
  os.makedirs(os.path.join(workdir, "checkpoints"))
  runconfig.write_config(made, rundir.RunDir(workdir))
  open(os.path.join(workdir, "checkpoints", "ckpt-4.index"), "w").close()
  lines = []
  with pytest.raises(
    ConfigError,
    match=r"holds a run made with other flags "
    r"\(--g_lr=0.001 there, 0.0005 asked\)",
  ):
    compare.ensure_run(smoke, 0, workdir, [], lines.append)
  assert lines == []
  assert not compare.ensure_run(
    smoke, 0, workdir, ["--g_lr=1e-3", "--checkpoint_every=4"], lines.append
  )
  assert lines == [f"reused   {workdir} (step 4)"]


def test_flagfiles_without_a_metric_in_common_are_refused_first(tmp_path):
  """An fd_shapes flagfile beside a KID one: refused before any training
  (it used to train both, then find no common metric)."""
  from tf_ttur.errors import ConfigError
  from tf_ttur.experiments import compare

  shapes = tmp_path / "shapes_fd.flags"
  shapes.write_text(
    f"--flagfile={REPO}/configs/smoke.flags\n--quality_every=2\n"
  )
  kid = tmp_path / "kid.flags"
  kid.write_text(f"--flagfile={REPO}/configs/smoke.flags\n--kid_every=2\n")
  with pytest.raises(
    ConfigError,
    match="no metric in common "
    r"\(shapes_fd: fd_shapes; kid: kid\).*--kid_every",
  ):
    compare.compare([str(shapes), str(kid)], 1, str(tmp_path / "out"), [])
  assert not (tmp_path / "out").exists()
