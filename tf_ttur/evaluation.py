"""The one callback that runs a run's evaluators (tf_ttur.evaluators).

Evaluation runs each evaluator of the schedule every its N steps, saves the
checkpoint of each step it evaluates, sends each record to metrics.jsonl,
TensorBoard and the log (records.publish), keeps each value's best so far
(TensorBoard's best/ tags) and exports the generator of the best FID.
"""

from __future__ import annotations

from collections.abc import Callable
import json
import os

from absl import logging
import keras
import tensorflow as tf

from fid.files import atomic_write
from fid.files import free_name
from fid.files import read_json
from tf_ttur import checkpointing
from tf_ttur import evals
from tf_ttur import records
from tf_ttur import rundir
from tf_ttur import summaries
from tf_ttur.evaluators import check_values
from tf_ttur.generated import Abandoned

# What best_fid.json's value is, and is not.
ONE_RUN = (
  "this run's lowest FID: one run's minimum, lower and noisier "
  "than the paper's statistic as this project reads it (the best "
  "point of the mean curve over 8 runs: python -m "
  "tf_ttur.experiments.compare --seeds=8)"
)


def _best_so_far(run: rundir.RunDir) -> float | None:
  """The lowest FID of the run: best_fid.json's, or, when that is missing
  or damaged (set aside, named), the lowest in metrics.jsonl, so that a
  worse generator never replaces saved_model_best."""
  path = run.best_file
  try:
    kept = read_json(path)
  except ValueError as e:
    aside = free_name(f"{path}.damaged")
    os.replace(path, aside)
    logging.warning("%s cannot be read (%s); kept as %s.", path, e, aside)
    kept = None
  best = kept.get("fid") if isinstance(kept, dict) else None
  if isinstance(best, (int, float)) and not isinstance(best, bool):
    return float(best)
  fids = [
    r["fid"]
    for r in records.read(run)
    if isinstance(r.get("fid"), (int, float))
  ]
  if fids:
    logging.warning(
      "%s has no best FID; the lowest in %s, %.4f, is the one to beat.",
      path,
      rundir.METRICS_FILE,
      min(fids),
    )
    return float(min(fids))
  return None


class Evaluation(keras.callbacks.Callback):
  """Runs each evaluator of `schedule` every its N steps, and all of them
  at `last_step` (the run's last) whatever it is.

  schedule: [(every, evaluator)]; evaluator None on a multi-worker worker
  other than the chief, which only saves the checkpoint at the same steps
  as the chief. At a step where any is due, the checkpoint is saved first
  and each record names it. export_best(directory) exports the generator
  to workdir/BEST_DIR when a keep_best evaluator (the FID) gives its lowest
  value yet, which best_fid.json keeps across restarts.
  """

  def __init__(
    self,
    schedule,
    run: rundir.RunDir,
    writer: tf.summary.SummaryWriter,
    manager: tf.train.CheckpointManager,
    export_best: Callable[[str], object] | None = None,
    last_step: int | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
  ):
    super().__init__()
    self.schedule = schedule
    # A signal abandons an evaluation between two batches; the run stops
    # at that step and the evaluation is done again when it resumes.
    for _, evaluator in schedule:
      if evaluator is not None:
        evaluator.stop = stop_requested
    self.run = run
    self.writer = writer
    self.manager = manager
    self.export_best = export_best
    self.last_step = last_step
    self.best_path = run.best_file
    self.best = _best_so_far(run)
    # The best of each evaluation's values so far, by its direction
    # (TensorBoard's best/... tags, the HParams metrics), from the records
    # of earlier sessions too.
    self.best_values = {}
    for record in records.read(run):
      for name in summaries.BEST:
        if name in record:
          self.best_values[name] = evals.best(
            name, record[name], self.best_values.get(name, record[name])
          )

  def _due(self, step: int) -> list:
    return [
      evaluator
      for every, evaluator in self.schedule
      if step % every == 0 or step == self.last_step
    ]

  def on_train_begin(self, logs=None):
    """A resume at a step whose evaluation was abandoned (a signal came
    during it) does it first: the step's checkpoint is the one resumed."""
    step = int(self.model.step.numpy())
    if step == 0:
      return
    done = {
      key
      for record in records.read(self.run)
      if record.get("step") == step
      for key in record
    }
    missing = [
      evaluator
      for evaluator in self._due(step)
      if evaluator is not None and f"{evaluator.name}_samples" not in done
    ]
    if missing:
      logging.info(
        "Step %d: doing the evaluation the last session did not finish.", step
      )
      self._evaluate(step, missing)

  def on_epoch_end(self, epoch, logs=None):
    step = int(self.model.step.numpy())
    due = self._due(step)
    if due:
      self._evaluate(step, due)

  def _evaluate(self, step: int, due: list) -> None:
    checkpoint = os.path.basename(checkpointing.save_step(self.manager, step))
    best = None  # The keep_best value and its record, once all are in.
    for evaluator in due:
      if evaluator is None:
        continue
      try:
        values = evaluator(self.model, step)
      except Abandoned:
        logging.warning(
          "Step %d: the %s evaluation was abandoned (a signal "
          "arrived); it is done again when the run resumes.",
          step,
          evaluator.name,
        )
        self.model.stop_training = True
        return
      check_values(evaluator, values)
      record = {
        "step": step,
        **values,
        f"{evaluator.name}_samples": evaluator.samples,
        "checkpoint": checkpoint,
      }
      shown = {f"eval/{name}": value for name, value in values.items()}
      # best/: the running best, at every evaluation (a line that stays
      # flat between improvements, not dots at the improvements only).
      for name, value in values.items():
        if name in summaries.BEST:
          self.best_values[name] = evals.best(
            name, value, self.best_values.get(name, value)
          )
          shown[f"best/{name}"] = self.best_values[name]
      records.publish(
        self.run,
        self.writer,
        record,
        shown,
        f"step {step} {evaluator.line(values)}",
      )
      if evaluator.keep_best:
        best = values[evaluator.value], record
    if best is not None:  # After the step's other values: model.json's.
      self._keep_best(*best)

  def _keep_best(self, value: float, record: dict) -> None:
    if self.best is not None and value >= self.best:
      return
    self.best = value
    if self.export_best is not None:
      self.export_best(rundir.BEST_DIR)
    atomic_write(self.best_path, json.dumps({**record, "scope": ONE_RUN}))
