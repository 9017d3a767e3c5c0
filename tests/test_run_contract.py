"""The run directory's contract (docs/design.md, "What a run directory
promises"), row by row: each file of a finished run is damaged one way,
the run is opened again, and the test checks what the table says happens
and that every other file is byte-identical. Then the inputs read outside a run
directory: environment variables, output paths, flagfiles."""

from __future__ import annotations

import json
import os
import shutil

from absl import logging as absl_logging
import numpy as np
import pytest

from fid import api as fid_api
from fid import sources
from fid import stats as fid_stats
from tests.helpers import REPO
from tests.helpers import write_random_pngs
from tf_ttur import records
from tf_ttur import rundata
from tf_ttur import rundir
from tf_ttur import train as train_lib
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError

# Rewritten by every opening of a run: the holder of the lock.
BOOKKEEPING = {rundir.LOCK_FILE}
# TensorBoard's event files, at the run directory's top.
EVENTS = "events.out.tfevents."
# What resumed training steps write (new steps' files).
TRAINING_OUTPUTS = ("samples", EVENTS, "checkpoints", rundir.METRICS_FILE)


def _config(workdir, tfds_dir, **changes) -> Config:
  config = Config.from_flagfile(
    os.path.join(REPO, "configs", "smoke.flags"),
    f"--workdir={workdir}",
    f"--data_dir={tfds_dir}",
  )
  return config.replace(**{"export": False, **changes})


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tfds_dir):
  """A 4-step smoke run: ckpt-2, ckpt-4, metrics, samples, config."""
  workdir = str(tmp_path_factory.mktemp("contract") / "run")
  train_lib.train(_config(workdir, tfds_dir))
  return workdir


@pytest.fixture(scope="module")
def finished_text_run(tmp_path_factory):
  """A 2-step language run on the shipped corpus: vocab.json, ckpt-2."""
  workdir = str(tmp_path_factory.mktemp("contract_text") / "run")
  train_lib.train(_text_config(workdir))
  return workdir


def _text_config(workdir, **changes) -> Config:
  return Config.of(
    workdir=workdir,
    model="language",
    dataset="english",
    z_dim=16,
    width=8,
    batch_size=8,
    train_steps=2,
    log_every=2,
    checkpoint_every=2,
    sample_every=2,
    precision="float32",
    jit_compile="false",
    export=False,
  ).replace(**changes)


@pytest.fixture
def run(finished_run, tmp_path):
  workdir = str(tmp_path / "run")
  shutil.copytree(finished_run, workdir)
  return workdir


@pytest.fixture
def log(monkeypatch):
  """The absl lines the run writes: {"info": [...], "warning": [...]}."""
  lines = {"info": [], "warning": []}
  for level in lines:
    monkeypatch.setattr(
      absl_logging,
      level,
      lambda msg, *a, level=level, **k: lines[level].append(msg % a),
    )
  return lines


def _snapshot(workdir) -> dict[str, bytes]:
  files = {}
  for root, _, names in os.walk(workdir):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        files[os.path.relpath(path, workdir)] = f.read()
  return files


def _unchanged_except(
  before, after, changed=(), prefixes=(), resumed=True
) -> None:
  """Every file of `before` is in `after` with the same bytes, except the
  named ones, bookkeeping, files under `prefixes` and, after a resume,
  config.json (the run's config, written again with this command's)."""
  skip = set(changed) | BOOKKEEPING
  if resumed:
    skip.add(rundir.CONFIG_FILE)
  for name, data in before.items():
    if name in skip or name.startswith(tuple(prefixes)):
      continue
    assert name in after, f"{name} was removed"
    assert after[name] == data, f"{name} was changed"


def _ckpt(workdir, name):
  return os.path.join(workdir, "checkpoints", name)


# The table: (row, accident) -> a case. A case damages the copy of the
# finished run, opens it again and checks the outcome; the walker then
# checks that every other file is byte-identical.


def _write(path, data, mode="w"):
  with open(path, mode) as f:
    f.write(data)


def _config_missing(run, tfds_dir, log):
  os.remove(os.path.join(run, rundir.CONFIG_FILE))
  before = _snapshot(run)
  train_lib.train(_config(run, tfds_dir))
  assert any(
    rundir.CONFIG_FILE in line and "missing" in line for line in log["warning"]
  )
  return before, {}


def _config_refused(text_of):
  def case(run, tfds_dir, log):
    del log
    path = os.path.join(run, rundir.CONFIG_FILE)
    with open(path) as f:
      _write(path, text_of(f.read()))
    before = _snapshot(run)
    with pytest.raises(ConfigError, match="config.json|--width"):
      train_lib.train(_config(run, tfds_dir))
    return before, {"resumed": False}

  return case


def _metrics_missing(run, tfds_dir, log):
  del log
  before = _snapshot(run)
  os.remove(os.path.join(run, rundir.METRICS_FILE))
  train_lib.train(_config(run, tfds_dir, train_steps=6))
  assert [r["step"] for r in records.read(run)] == [6]
  return before, {"prefixes": TRAINING_OUTPUTS}


def _metrics_truncated(run, tfds_dir, log):
  del log
  kept = [r["step"] for r in records.read(run)]
  _write(os.path.join(run, rundir.METRICS_FILE), '{"step": 5, "d_lo', "a")
  before = _snapshot(run)
  train_lib.train(_config(run, tfds_dir, train_steps=6))
  assert [r["step"] for r in records.read(run)] == kept + [6]
  return before, {"prefixes": TRAINING_OUTPUTS}


def _metrics_garbage(run, tfds_dir, log):
  path = os.path.join(run, rundir.METRICS_FILE)
  with open(path) as f:
    lines = f.readlines()
  damaged = lines[:1] + ["#%$ not a record\n"] + lines[1:]
  _write(path, "".join(damaged))
  before = _snapshot(run)
  train_lib.train(_config(run, tfds_dir, train_steps=6))
  # The file as it was, under a new name; every valid record still there.
  with open(path + ".damaged") as f:
    assert f.read() == "".join(damaged)
  assert any(".damaged" in line for line in log["warning"])
  assert [r["step"] for r in records.read(run)] == [
    json.loads(line)["step"] for line in lines
  ] + [6]
  return before, {"prefixes": TRAINING_OUTPUTS}


def _state_file(garbage):
  def case(run, tfds_dir, log):
    del log
    state = _ckpt(run, "checkpoint")
    os.remove(state)
    if garbage:
      _write(state, "\x00 garbage")
    before = _snapshot(run)
    model = train_lib.train(_config(run, tfds_dir))
    assert int(model.step.numpy()) == 4  # From ckpt-4: nothing retrained.
    with open(state) as f:
      assert "ckpt-4" in f.read()
    return before, {"changed": {"checkpoints/checkpoint"}}

  return case


def _checkpoint_damaged_twice(run, tfds_dir, log):
  first_copy = os.path.join(run, "checkpoints", rundir.DAMAGED, "ckpt-4.index")
  os.makedirs(os.path.dirname(first_copy))
  _write(first_copy, b"the first damaged ckpt-4", "wb")
  data = _ckpt(run, "ckpt-4.data-00000-of-00001")
  with open(data, "rb") as f:
    intact = f.read()
  with open(data, "r+b") as f:
    f.truncate(10)
  before = _snapshot(run)
  model = train_lib.train(_config(run, tfds_dir))
  assert int(model.step.numpy()) == 4  # From ckpt-2, steps 3-4 again.
  moved = os.path.join(
    run, "checkpoints", rundir.DAMAGED, "ckpt-4", "ckpt-4.data-00000-of-00001"
  )
  with open(moved, "rb") as f:
    assert f.read() == intact[:10]
  assert any("ckpt-4" in line and "damaged" in line for line in log["warning"])
  # Steps 3-4 write their files again; the first damaged copy is kept.
  return before, {
    "prefixes": TRAINING_OUTPUTS,
    "also": ["checkpoints/damaged/ckpt-4.index"],
  }


def _no_readable_checkpoint(run, tfds_dir, log):
  del log
  for name in os.listdir(os.path.join(run, "checkpoints")):
    if name.endswith(".index"):
      _write(_ckpt(run, name), b"garbage", "wb")
  before = _snapshot(run)
  with pytest.raises(ConfigError, match="none of the 2 checkpoints"):
    train_lib.train(_config(run, tfds_dir))
  return before, {"resumed": False}


def _saved_model_garbage(run, tfds_dir, log):
  del log
  export = os.path.join(run, "saved_model")
  os.makedirs(export)
  _write(os.path.join(export, "saved_model.pb"), b"garbage", "wb")
  before = _snapshot(run)
  train_lib.train(_config(run, tfds_dir, export=True))
  with open(os.path.join(export, "saved_model.pb"), "rb") as f:
    assert f.read() != b"garbage"  # Replaced whole by this step's export.
  return before, {"prefixes": ("saved_model",)}


def _killed_lock_and_leftovers(run, tfds_dir, log):
  _write(
    os.path.join(run, rundir.LOCK_FILE),
    "pid 1 on elsewhere since 2026-01-01T00:00:00\n",
  )  # No flock.
  os.makedirs(os.path.join(run, ".export-abc123", "variables"))
  _write(os.path.join(run, ".config.json.0a1b2c3d.tmp"), "{")
  before = _snapshot(run)
  train_lib.train(_config(run, tfds_dir))
  assert not os.path.exists(os.path.join(run, ".export-abc123"))
  assert not os.path.exists(os.path.join(run, ".config.json.0a1b2c3d.tmp"))
  assert len([line for line in log["info"] if line.startswith("Removed")]) == 2
  with open(os.path.join(run, rundir.LOCK_FILE)) as f:
    assert f"pid {os.getpid()}" in f.read()
  return before, {"changed": {".config.json.0a1b2c3d.tmp"}}


def _samples_and_events_garbage(run, tfds_dir, log):
  del log
  grid = os.path.join(run, "samples", "step_00000002.png")
  _write(grid, b"not a png", "wb")
  events = [
    os.path.join(run, n) for n in os.listdir(run) if n.startswith(EVENTS)
  ]
  with open(events[0], "r+b") as f:
    f.truncate(20)
  before = _snapshot(run)
  train_lib.train(_config(run, tfds_dir, train_steps=6))
  # Nothing of the user's is replaced: new steps, new event file.
  return before, {"prefixes": ("checkpoints", rundir.METRICS_FILE, EVENTS)}


def _checkpoint_of_another_model(run, tfds_dir, log):
  del log
  os.remove(os.path.join(run, rundir.CONFIG_FILE))  # Nothing to compare.
  before = _snapshot(run)
  with pytest.raises(ConfigError, match="does not fit the model"):
    train_lib.train(_config(run, tfds_dir, width=16))
  return before, {"resumed": False}


def _lock_held(run, tfds_dir, log):
  del log
  before = _snapshot(run)
  with rundir.RunLock(
    rundir.RunDir(run)
  ):  # Another open file: flock conflicts.
    with pytest.raises(rundir.RunInUseError, match="is in use by"):
      train_lib.train(_config(run, tfds_dir))
  return before, {"resumed": False}


def _best_fid(garbage):
  def case(run, tfds_dir, log):
    del tfds_dir
    import tensorflow as tf

    from tf_ttur import evaluation

    records.append(rundir.RunDir(run), {"step": 4, "fid": 30.0})
    path = os.path.join(run, rundir.BEST_FILE)
    if garbage:
      _write(path, '{"fid": 3')
    before = _snapshot(run)
    # What a run with --fid_every opens it with.
    callback = evaluation.Evaluation(
      [], rundir.RunDir(run), tf.summary.create_noop_writer(), None
    )
    assert callback.best == 30.0  # Not beaten by a worse FID later.
    if garbage:
      with open(path + ".damaged") as f:
        assert f.read() == '{"fid": 3'
    assert log["warning"]
    return before, {"changed": {rundir.BEST_FILE}}

  return case


def _vocabulary(accident):
  def case(run, tfds_dir, log):
    del tfds_dir
    path = os.path.join(run, rundir.VOCAB_FILE)
    with open(path) as f:
      kept = f.read()
    if accident == "missing":
      os.remove(path)
    elif accident == "garbage":
      _write(path, "\x00 not json")
    else:
      vocab = json.loads(kept)
      chars = vocab["chars"][:1] + vocab["chars"][1:][::-1]  # unk first.
      _write(path, json.dumps({**vocab, "chars": chars}))
    before = _snapshot(run)
    if accident == "missing":
      train_lib.train(_text_config(run))
      with open(path) as f:
        assert f.read() == kept  # The same corpus, the same vocabulary.
      assert any(rundir.VOCAB_FILE in line for line in log["warning"])
      return before, {}
    with pytest.raises(ConfigError, match="vocab.json"):
      train_lib.train(_text_config(run))
    return before, {"resumed": False}

  return case


CASES = {
  ("config.json", "missing"): _config_missing,
  ("config.json", "truncated"): _config_refused(lambda t: t[: len(t) // 2]),
  ("config.json", "garbage"): _config_refused(lambda t: "\x00 not json"),
  ("config.json", "another model"): _config_refused(
    lambda t: json.dumps({**json.loads(t), "width": 16})
  ),
  ("metrics.jsonl", "missing"): _metrics_missing,
  ("metrics.jsonl", "truncated"): _metrics_truncated,
  ("metrics.jsonl", "garbage"): _metrics_garbage,
  ("checkpoints/checkpoint", "missing"): _state_file(garbage=False),
  ("checkpoints/checkpoint", "garbage"): _state_file(garbage=True),
  ("checkpoints/ckpt-N", "truncated twice"): _checkpoint_damaged_twice,
  ("checkpoints/ckpt-N", "garbage, all"): _no_readable_checkpoint,
  ("checkpoints/ckpt-N", "another model"): _checkpoint_of_another_model,
  ("best_fid.json", "missing"): _best_fid(garbage=False),
  ("best_fid.json", "garbage"): _best_fid(garbage=True),
  ("saved_model", "garbage"): _saved_model_garbage,
  (".lock", "held by a live run"): _lock_held,
  ("samples, tensorboard", "garbage, truncated"): _samples_and_events_garbage,
  (
    ".lock, temporaries",
    "left by a killed process",
  ): _killed_lock_and_leftovers,
}


TEXT_CASES = {
  ("vocab.json", "missing"): _vocabulary("missing"),
  ("vocab.json", "garbage"): _vocabulary("garbage"),
  ("vocab.json", "another corpus"): _vocabulary("another corpus"),
}


@pytest.fixture
def text_run(finished_text_run, tmp_path):
  workdir = str(tmp_path / "text_run")
  shutil.copytree(finished_text_run, workdir)
  return workdir


@pytest.mark.slow
@pytest.mark.parametrize(
  "case", sorted(CASES) + sorted(TEXT_CASES), ids=" / ".join
)
def test_run_directory_contract(case, request, tfds_dir, log):
  run = request.getfixturevalue("text_run" if case in TEXT_CASES else "run")
  before, expected = {**CASES, **TEXT_CASES}[case](run, tfds_dir, log)
  after = _snapshot(run)
  for name in expected.pop("also", []):
    assert after[name] == before[name], f"{name} was changed"
  _unchanged_except(before, after, **expected)


@pytest.mark.slow
def test_restart_never_moves_onto_an_earlier_old_run(run, monkeypatch):
  real = rundir.datetime.datetime

  class _Fixed:
    @staticmethod
    def now():
      return real(2026, 12, 1, 12, 0, 0)

  monkeypatch.setattr(rundir.datetime, "datetime", _Fixed)
  taken = f"{run}.old-20261201-120000"
  os.makedirs(os.path.join(taken, "checkpoints"))
  _write(os.path.join(taken, "keep.txt"), "an earlier run")
  moved = rundir.move_aside(rundir.RunDir(run))
  assert moved == f"{taken}-2" and os.path.isdir(moved)
  with open(os.path.join(taken, "keep.txt")) as f:
    assert f.read() == "an earlier run"


# Inputs outside a run directory.


def test_a_flagfile_that_includes_itself_is_refused(tmp_path):
  loop = tmp_path / "loop.flags"
  other = tmp_path / "other.flags"
  loop.write_text(f"--flagfile={other}\n--train_steps=100\n")
  other.write_text(f"--flagfile={loop}\n")
  with pytest.raises(ConfigError, match="includes itself"):
    Config.from_args(f"--flagfile={loop}")


@pytest.mark.parametrize("value", ["{bad", "[1]", '{"cluster": {}}'])
def test_tf_config_is_validated(monkeypatch, value):
  monkeypatch.setenv("TF_CONFIG", value)
  with pytest.raises(ConfigError, match="TF_CONFIG"):
    Config.of(strategy="multi_worker", mode="dry_run").validate()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "²", "1e6", "٣"])
def test_fid_max_pixels_is_validated_before_any_pass(
  monkeypatch, tmp_path, value
):
  monkeypatch.setenv("FID_MAX_PIXELS", value)
  with pytest.raises(sources.SourceError, match="FID_MAX_PIXELS"):
    fid_api.compute([str(tmp_path), str(tmp_path)])


def test_fid_cache_dir_must_be_a_folder(monkeypatch, tmp_path):
  not_a_folder = tmp_path / "file"
  not_a_folder.write_text("x")
  monkeypatch.setenv("FID_CACHE_DIR", str(not_a_folder))
  with pytest.raises(Exception, match="FID_CACHE_DIR"):
    fid_api.compute([str(tmp_path), str(tmp_path)])


@pytest.mark.parametrize("where", ["missing_folder", "a_folder", "a_file"])
def test_save_stats_path_is_checked_before_the_pass(tmp_path, where):
  target = (
    tmp_path / "no" / "such" / "s.npz"
    if where == "missing_folder"
    else tmp_path / "dir.npz"
  )
  if where == "a_folder":
    target.mkdir()
  if where == "a_file":
    target.write_bytes(b"someone's statistics")
  # The input does not exist either: the output is refused first.
  with pytest.raises(ValueError, match=f"--save_stats={target}"):
    fid_api.compute([str(tmp_path / "images")], save_stats=str(target))
  if where == "a_file":  # Never replaced without --overwrite.
    assert target.read_bytes() == b"someone's statistics"
    with pytest.raises(sources.SourceError, match="no such file or folder"):
      fid_api.compute(
        [str(tmp_path / "images")], save_stats=str(target), overwrite=True
      )


def test_a_fifo_in_an_image_folder_is_named_as_such(tmp_path):
  os.mkfifo(tmp_path / "pipe.png")
  with pytest.raises(sources.SourceError, match="not a regular file"):
    sources.list_images(str(tmp_path))


def test_bad_spatial_statistics_are_named(tmp_path):
  path = tmp_path / "s.npz"
  np.savez(
    path,
    mu=np.zeros(2),
    sigma=np.eye(2),
    spatial_mu=np.zeros(3),
    spatial_sigma=np.eye(2),
  )
  with pytest.raises(fid_stats.StatsError, match="spatial_mu must be"):
    fid_stats.load_spatial_stats(str(path))


@pytest.mark.slow
def test_json_says_why_each_null_is_null(tmp_path, inception_pb):

  for seed, side in enumerate(("a", "b")):
    write_random_pngs(tmp_path / side, 3, seed=seed)
  out = fid_api.compute(
    [str(tmp_path / "a"), str(tmp_path / "b")],
    inception_path=inception_pb,
    extra_metrics=True,
    batch_size=3,
  )
  for key in ("inception_score", "precision", "recall"):
    assert key in out["why_null"], out
  assert out["precision"] is None and out["inception_score"] == [None, None]
  assert "k = 3" in out["why_null"]["precision"]
  assert "sfid" not in out["why_null"] and out["sfid"] is not None


def test_training_data_smaller_than_a_batch_is_said(tmp_path, log):
  from PIL import Image

  for i in range(3):
    Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(
      tmp_path / f"{i}.png"
    )
  rundata.ImageData.load(Config.of(dataset=f"folder:{tmp_path}", batch_size=16))
  assert any("3 images" in line for line in log["warning"])


@pytest.mark.parametrize(
  "name,value",
  [
    ("FID_MAX_PIXELS", "many"),
    ("FID_CACHE_DIR", "FILE"),
    ("TF_TTUR_CACHE_DIR", "FILE"),
  ],
)
def test_training_names_a_bad_environment_variable_first(
  monkeypatch, tmp_path, name, value
):
  if value == "FILE":
    value = str(tmp_path / "a_file")
    _write(value, "x")
  monkeypatch.setenv(name, value)
  text = name == "TF_TTUR_CACHE_DIR"
  config = Config.of(
    workdir=str(tmp_path / "run"),
    mode="dry_run",
    fid_every=0,
    jsd_every=100 if text else 0,
    model="language" if text else "dcgan",
    dataset="english" if text else "shapes",
  )
  if name == "FID_CACHE_DIR":
    stats = tmp_path / "s.npz"
    np.savez(stats, mu=np.zeros(2048), sigma=np.eye(2048))
    config = config.replace(fid_every=100, fid_stats=str(stats))
  with pytest.raises(ConfigError, match=name):
    config.validate()


def test_a_full_disk_under_the_event_files_is_one_storage_error(
  tmp_path, monkeypatch
):
  """TensorFlow's writer error on a full disk (as a summary op raises it)
  becomes the StorageError main turns into one `error:` line; any other
  TensorFlow error keeps its type."""
  import tensorflow as tf

  from tf_ttur import callbacks
  from tf_ttur import records
  from tf_ttur.errors import StorageError

  def full(*args, **kwargs):
    raise tf.errors.ResourceExhaustedError(
      None, None, "events.out.tfevents.1; No space left on device"
    )

  monkeypatch.setattr(tf.summary, "image", full)

  class Model:
    step = tf.Variable(2)
    generator = staticmethod(lambda z, training: tf.zeros((1, 8, 8, 3)))

  writer = tf.summary.create_file_writer(str(tmp_path / "events"))
  grid = callbacks.SampleGrid(
    rundir.RunDir(str(tmp_path / "run")), np.zeros((1, 4)), 2, writer
  )
  grid.set_model(Model())
  with pytest.raises(
    StorageError,
    match="cannot write TensorBoard's event files: .*No space left on device",
  ):
    grid.on_epoch_end(0)
  with pytest.raises(tf.errors.InvalidArgumentError):
    with records.event_files():
      raise tf.errors.InvalidArgumentError(None, None, "a bug")


def test_the_closing_summary_gives_each_metrics_best_and_the_places(tmp_path):
  from tf_ttur import records
  from tf_ttur.config import Config

  workdir = str(tmp_path / "run")
  os.makedirs(os.path.join(workdir, "samples"))
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    for step, value in ((50, 300.0), (100, 250.5), (150, 260.0)):
      f.write(json.dumps({"step": step, "fd_shapes": value}) + "\n")
  config = Config.of(workdir=workdir, train_steps=150, quality_every=50)
  assert records.summary(config) == [
    f"done: step 150 of 150 in {workdir}",
    "  best fd_shapes 250.5000 at step 100 (one run's lowest)",
    f"  samples: {workdir}/samples",
    f"  curves: tensorboard --logdir {workdir}",
  ]


def test_a_value_whose_higher_is_better_is_best_at_its_highest(
  tmp_path, monkeypatch
):
  """An entry's `maximize` turns every best around: the closing summary,
  compare's paper statistic and each seed's best, sweep's ranking."""
  import dataclasses

  from tf_ttur import evals
  from tf_ttur import records
  from tf_ttur.config import Config
  from tf_ttur.experiments import curves
  from tf_ttur.experiments import sweep

  quality = dataclasses.replace(evals.EVALS["quality"], maximize=("fd_shapes",))
  monkeypatch.setitem(evals.EVALS, "quality", quality)
  assert evals.direction("fd_shapes") == "max"
  assert evals.direction("fid") == "min"
  with pytest.raises(KeyError):
    evals.direction("no_such_value")
  runs = []
  for lr, values in (
    (1e-4, (300.0, 250.5, 260.0)),
    (2e-4, (100.0, 400.0, 90.0)),
  ):
    workdir = str(tmp_path / f"run_{lr:g}")
    os.makedirs(workdir)
    with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
      for step, value in zip((50, 100, 150), values):
        f.write(
          json.dumps({"step": step, "fd_shapes": value, "steps_per_sec": 10.0})
          + "\n"
        )
    runs.append((lr, lr, 0, workdir, None))
  config = Config.of(workdir=runs[0][3], train_steps=150, quality_every=50)
  assert records.summary(config)[1] == (
    "  best fd_shapes 300.0000 at step 50 (one run's highest)"
  )
  summary = curves.summarize("x", [runs[0][3]], "fd_shapes")
  assert summary["paper_statistic"]["value"] == 300.0
  assert summary["best_per_seed"] == [300.0]
  metric, ranked = sweep.rank(runs, "fd_shapes")
  assert [s["paper_statistic"]["value"] for s in ranked] == [400.0, 300.0]


def test_progress_lines_come_after_the_first_step_and_by_time(
  tmp_path, monkeypatch, log
):
  """Between --log_every intervals the run speaks once its first step is
  done and then whenever PROGRESS_SECONDS have passed since its last line
  (a paper run's first interval takes minutes)."""
  import tensorflow as tf

  from tf_ttur import callbacks

  clock = [1000.0]
  monkeypatch.setattr(callbacks.time, "time", lambda: clock[0])

  class Model:
    step = tf.Variable(0)

  logger = callbacks.MetricsLogger(
    rundir.RunDir(str(tmp_path)), 1000, None, None, log_every=100
  )
  logger.set_model(Model())
  monkeypatch.setattr(logger, "_write_rates", lambda step: None)
  logger.on_train_begin()
  logger.on_epoch_begin(0)
  clock[0] += 4.0
  logger.on_train_batch_end(0)
  assert log["info"] == [
    "step 1/1000: the first step took 4.0 s (tracing "
    "it included); then a line every 100 steps and at "
    "least every 60 s"
  ]
  for batch in range(1, 30):  # 29 steps of 1 s: no line yet.
    clock[0] += 1.0
    logger.on_train_batch_end(batch)
  assert len(log["info"]) == 1
  clock[0] += callbacks.PROGRESS_SECONDS
  logger.on_train_batch_end(30)
  assert log["info"][1].startswith("step 31/1000 | ")
  assert "left" in log["info"][1]
