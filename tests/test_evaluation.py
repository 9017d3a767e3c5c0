"""The one evaluation path: evaluators return {name: value}; Evaluation
runs each every its N steps, saves the checkpoint its records name, writes
each record once and exports the generator of the lowest FID."""

import json
import os

import numpy as np
import tensorflow as tf

from tf_ttur import evaluation
from tf_ttur import evaluators
from tf_ttur import generated
from tf_ttur import records
from tf_ttur import rundir


class _Model:
  def __init__(self):
    self.step = tf.Variable(0, dtype=tf.int64)


class _Evaluator:
  """An Evaluator (tf_ttur.evaluators) of a tf_ttur.evals entry (name),
  returning its one value (value) from a list."""

  def __init__(self, name, values, keep_best=False, value=None):
    self.name, self.value = name, value or name
    self.samples, self.keep_best = 10, keep_best
    self.values = iter(values)
    self.calls = []

  def __call__(self, model, step):
    self.calls.append(step)
    return {self.value: next(self.values)}

  def line(self, values):
    return f"{self.value} {values[self.value]}"


def _run(workdir, schedule, steps, exported):
  model = _Model()
  manager = tf.train.CheckpointManager(
    tf.train.Checkpoint(step=model.step), os.path.join(workdir, "ckpt"), 5
  )
  callback = evaluation.Evaluation(
    schedule,
    rundir.RunDir(workdir),
    tf.summary.create_noop_writer(),
    manager,
    export_best=exported.append,
  )
  callback.set_model(model)
  for step in steps:
    model.step.assign(step)
    callback.on_epoch_end(0)
  return manager


def test_each_evaluator_runs_at_its_steps_and_the_lowest_fid_is_exported(
  tmp_path,
):
  workdir = str(tmp_path)
  fid = _Evaluator("fid", [30.0, 20.0, 25.0], keep_best=True)
  other = _Evaluator("quality", [5.0, 4.0], value="fd_shapes")
  exported = []
  manager = _run(workdir, [(2, fid), (3, other)], [1, 2, 3, 4, 5, 6], exported)
  assert fid.calls == [2, 4, 6] and other.calls == [3, 6]
  saved = sorted(int(p.rsplit("-", 1)[1]) for p in manager.checkpoints)
  assert saved == [2, 3, 4, 6]  # Every evaluated step, once.
  rows = records.read(workdir)
  assert [(r["step"], "fid" in r) for r in rows] == [
    (2, True),
    (3, False),
    (4, True),
    (6, True),
    (6, False),
  ]
  assert all(r["checkpoint"] == f"ckpt-{r['step']}" for r in rows)
  assert rows[0]["fid_samples"] == 10
  # Exported at 30 (the first) and 20 (lower), not at 25.
  assert exported == [rundir.BEST_DIR] * 2
  with open(os.path.join(workdir, rundir.BEST_FILE)) as f:
    assert json.load(f)["fid"] == 20.0


def test_a_non_chief_worker_only_saves_and_a_damaged_best_is_replaced(tmp_path):
  workdir = str(tmp_path)
  manager = _run(workdir, [(2, None)], [2, 4], [])
  assert len(manager.checkpoints) == 2
  assert not os.path.exists(os.path.join(workdir, rundir.METRICS_FILE))
  (tmp_path / rundir.BEST_FILE).write_text('{"fid": 1')  # Cut short.
  exported = []
  _run(
    workdir, [(2, _Evaluator("fid", [np.float64(40.0)], True))], [2], exported
  )
  assert exported == [rundir.BEST_DIR]
  with open(os.path.join(workdir, rundir.BEST_FILE)) as f:
    assert json.load(f)["fid"] == 40.0
  # The damaged file is kept, not overwritten.
  with open(os.path.join(workdir, rundir.BEST_FILE + ".damaged")) as f:
    assert f.read() == '{"fid": 1'


def test_without_best_fid_json_the_metrics_best_is_the_one_to_beat(tmp_path):
  workdir = str(tmp_path)
  records.append(rundir.RunDir(workdir), {"step": 2, "fid": 30.0})
  exported = []
  _run(
    workdir,
    [(2, _Evaluator("fid", [np.float64(40.0), np.float64(25.0)], True))],
    [4, 6],
    exported,
  )
  # 40 is worse than the 30 in metrics.jsonl: saved_model_best stays.
  assert exported == [rundir.BEST_DIR]
  with open(os.path.join(workdir, rundir.BEST_FILE)) as f:
    assert json.load(f)["fid"] == 25.0


class _Batched:
  """An evaluator over 5 batches that checks its `stop` between them, as
  the generated-sample evaluators do (generated.abandonable)."""

  name = value = "fid"
  samples, keep_best = 50, False

  def __init__(self, on_batch=lambda i: None):
    self.on_batch = on_batch
    self.calls = []

  def __call__(self, model, step):
    self.calls.append(step)
    for i, _ in enumerate(generated.abandonable(range(5), self.stop)):
      self.on_batch(i)
    return {"fid": 10.0}

  def line(self, values):
    return "fid"


def test_a_signal_abandons_an_evaluation_which_a_resume_does_again(tmp_path):
  workdir = str(tmp_path)
  signalled = []
  evaluator = _Batched(
    on_batch=lambda i: signalled.append(i) if i == 1 else None
  )
  model = _Model()
  manager = tf.train.CheckpointManager(
    tf.train.Checkpoint(step=model.step), os.path.join(workdir, "ckpt"), 5
  )
  callback = evaluation.Evaluation(
    [(2, evaluator)],
    rundir.RunDir(workdir),
    tf.summary.create_noop_writer(),
    manager,
    stop_requested=lambda: bool(signalled),
  )
  callback.set_model(model)
  model.stop_training = False
  model.step.assign(2)
  callback.on_epoch_end(0)
  # Stopped after the second batch: no record, training told to stop, the
  # step's checkpoint saved before the evaluation began.
  assert records.read(workdir) == []
  assert model.stop_training
  assert manager.latest_checkpoint.endswith("-2")
  # The resumed session does it first.
  again = _Batched()
  resumed = evaluation.Evaluation(
    [(2, again)],
    rundir.RunDir(workdir),
    tf.summary.create_noop_writer(),
    manager,
  )
  resumed.set_model(model)
  resumed.on_train_begin()
  assert again.calls == [2]
  assert [r["step"] for r in records.read(workdir)] == [2]
  # A step whose evaluation is recorded is not done twice.
  third = _Batched()
  resumed = evaluation.Evaluation(
    [(2, third)],
    rundir.RunDir(workdir),
    tf.summary.create_noop_writer(),
    manager,
  )
  resumed.set_model(model)
  resumed.on_train_begin()
  assert third.calls == []


def test_kid_hears_a_signal_within_one_subset_whatever_kid_subsets(monkeypatch):
  """--kid_subsets=1000000000 is bounded: the subset loop checks the stop
  signal before each subset (a signal abandons the evaluation)."""
  import pytest

  from tf_ttur import kernel_evaluators

  rng = np.random.default_rng(0)
  kid = evaluators.KIDEvaluator.__new__(evaluators.KIDEvaluator)
  kid.reference = rng.normal(size=(8, 4))
  kid.extractor = lambda batch: (rng.normal(size=(len(batch), 4)), None)
  kid.samples, kid.batch_size, kid.pixels, kid.seed = 8, 4, "clip", 0
  kid.subsets, kid.subset_size = 1_000_000_000, 4
  monkeypatch.setattr(
    kernel_evaluators,
    "samples_of",
    lambda *args, **kwargs: [np.zeros((4, 2, 2, 3))] * 2,
  )
  calls = []
  kid.stop = lambda: len(calls) > 2 or calls.append(1) or False
  with pytest.raises(kernel_evaluators.Abandoned):
    kid(model=None)
  assert len(calls) == 3  # Three subsets, then the signal was heard.
  # Without a signal the same evaluator gives its values.
  kid.subsets, kid.stop = 5, lambda: False
  kid.reference = kid.reference[:3]  # A folder of 3 training images.
  values = kid(model=None)
  assert set(values) == {"kid", "kid_std"} and np.isfinite(values["kid"])
  assert kid.line(values).endswith("(8 generated, 3 training images)")
