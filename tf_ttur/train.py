"""The two stories of a run, side by side: train(config) opens the run
(tf_ttur.run), builds the model and calls fit(); export(config) opens it
for --mode=export and exports the generator of its newest checkpoint."""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import dataclasses
import os
import shutil

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from tf_ttur import builder
from tf_ttur import callbacks as callbacks_lib
from tf_ttur import checkpointing
from tf_ttur import evaluation
from tf_ttur import evaluators
from tf_ttur import export as export_lib
from tf_ttur import gan as gan_lib
from tf_ttur import preemption
from tf_ttur import records
from tf_ttur import run as run_lib
from tf_ttur import runconfig
from tf_ttur import runtime
from tf_ttur import summaries
from tf_ttur.config import Config
from tf_ttur.data import noise as noise_lib
from tf_ttur.errors import NonFiniteLossError
from tf_ttur.errors import Preempted


def fixed_z(config: Config, distribution: str) -> np.ndarray:
  """The z of the sample grids: the same at every step and on resume."""
  return noise_lib.draw_z(
    np.random.default_rng(config.run.seed),
    config.schedule.grid_size**2,
    config.network.z_dim,
    distribution,
  )


def train(config: Config) -> gan_lib.GAN:
  """Trains (or resumes) the run of `config` in config.run.workdir.

  Returns:
    The trained model, restored to the last step.

  Raises:
    Preempted: SIGTERM or SIGINT arrived; the step in progress
      was finished and checkpointed with its metrics.
  """
  with preemption.SignalCatcher() as catcher, contextlib.ExitStack() as held:
    # The strategy first: multi-worker collectives must be configured
    # before TensorFlow runs anything.
    if config.runtime.cpu_replicas:
      runtime.split_cpu(config.runtime.cpu_replicas)
    strategy = runtime.make_strategy(config.runtime.strategy)
    keras.utils.set_random_seed(config.run.seed)
    # Every worker runs the same steps and saves at the same steps (saving
    # may use collectives); only the chief writes into the workdir, the
    # others into a scratch folder removed at the end (TensorFlow's
    # multi-worker convention). All restore from the chief's checkpoints.
    chief, role = runtime.worker_role(strategy)
    run = run_lib.open_for_training(config, held, None if chief else role)
    try:
      return _train(run, strategy, catcher)
    finally:
      if not run.chief:
        shutil.rmtree(run.out.root, ignore_errors=True)


def export(config: Config) -> str:
  """--mode=export: the generator of the newest readable checkpoint of
  config.run.workdir, exported under the precision that trained it.
  Returns the export's folder."""
  with contextlib.ExitStack() as held:
    run = run_lib.open_for_export(config, held)
    precision, _ = runtime.resolve_runtime(config, recorded=run.recorded or {})
    model = builder.build_model(config, precision, size=run.data.size)
    # The generator's weights are all an export needs: a checkpoint made
    # under any precision exports under any other.
    step = checkpointing.restore(model, run.latest, generator_only=True)
    logging.info("Exporting the generator of %s (step %d).", run.latest, step)
    # model.json names the precision that trained it, not this process's.
    trained = (run.recorded or {}).get("precision", precision)
    return export_lib.export_run(
      model, dataclasses.replace(run, config=config.replace(precision=trained))
    )


def _train(
  run: run_lib.Run, strategy, catcher: preemption.SignalCatcher
) -> gan_lib.GAN:
  config = run.config
  precision, jit_compile = runtime.resolve_runtime(
    config, recorded=run.recorded
  )
  model, manager, step = _build(run, strategy, precision, jit_compile)
  os.makedirs(run.out.root, exist_ok=True)
  # What config.json and TensorBoard record: precision as auto resolved.
  resolved = config.replace(precision=precision, restart=False)
  run = dataclasses.replace(run, config=resolved)
  if run.chief:
    # Only now that the run is restored: what auto resolved to, so that a
    # resume on another machine keeps it. The data's files first: a
    # vocab.json of another corpus is refused before config.json is
    # written.
    run.data.save(run.home)
    runconfig.write_config(resolved, run.home)
  model.debug_nan_at_step.assign(config.runtime.debug_nan_at_step)
  if step >= config.schedule.train_steps:
    logging.info(
      "Already at step %d of %d; nothing to train.",
      step,
      config.schedule.train_steps,
    )
  else:
    # The event files at the run directory's top: `tensorboard --logdir
    # runs/` names the run by its folder.
    writer = tf.summary.create_file_writer(run.out.events)
    summaries.write_run_info(writer, resolved, step)
    callbacks = assemble(
      run,
      manager,
      catcher,
      writer,
      fid_strategy=runtime.fid_strategy(strategy),
      export_best=lambda directory: export_lib.export_run(
        model, run, export_dir=directory
      ),
    )
    _fit(model, manager, run, callbacks, step, catcher)
    with records.event_files():
      writer.close()
  if catcher.received is not None:
    _stop_preempted(model, manager, catcher)
  if config.output.export:
    export_lib.export_run(model, run)
  return model


def _build(run: run_lib.Run, strategy, precision: str, jit_compile: bool):
  """(model, its CheckpointManager, the step restored: 0 for a new run)."""
  config = run.config
  with strategy.scope():
    model = builder.build_model(
      config,
      precision,
      size=run.data.size,
      jit_compile=jit_compile,
      sync_batch_norm=strategy.num_replicas_in_sync > 1,
    )
    manager = checkpointing.make_manager(
      model, run.out.checkpoints, config.schedule.keep_checkpoints
    )
  if run.latest is None:
    return model, manager, 0
  step = checkpointing.restore(model, run.latest)
  logging.info("Resumed from %s at step %d.", run.latest, step)
  return model, manager, step


def assemble(
  run: run_lib.Run,
  manager: tf.train.CheckpointManager,
  catcher,
  writer: tf.summary.SummaryWriter,
  fid_strategy=None,
  export_best: Callable[[str], object] | None = None,
) -> list[keras.callbacks.Callback]:
  """The callbacks of a run, in the order they act at an interval's end:
  the signal catcher, the non-finite guard, metrics, samples (the
  modality's, callbacks.SAMPLE_WRITERS), checkpoints, then the evaluations
  its flags ask for (tf_ttur.evals), run by the chief alone (the
  other workers only save at the same steps). export_best(directory)
  exports the generator of a best FID."""
  config = run.config
  schedule = config.schedule
  callbacks = [
    catcher,
    callbacks_lib.NonFiniteGuard(manager),
    callbacks_lib.MetricsLogger(
      run.out, schedule.train_steps, writer, config.family, schedule.log_every
    ),
    callbacks_lib.sample_writer(
      run, fixed_z(config, config.family.z_distribution), writer
    ),
    callbacks_lib.Checkpointer(manager, schedule.checkpoint_every),
  ]
  evaluations = [
    (every, make() if run.chief else None)
    for every, make in evaluators.schedule(config, run.data, fid_strategy)
  ]
  if evaluations:
    callbacks.append(
      evaluation.Evaluation(
        evaluations,
        run.out,
        writer,
        manager,
        export_best=export_best,
        last_step=schedule.train_steps,
        stop_requested=lambda: catcher.received is not None,
      )
    )
  return callbacks


MAX_RESTORES = 3
RESEED = 1_000_003  # Noise seed offset per restore after a non-finite loss.


def _stop_preempted(model, manager, catcher) -> None:
  """Makes sure the step reached is checkpointed, then raises Preempted."""
  step = int(model.step.numpy())
  if step == 0 and manager.latest_checkpoint is None:
    kept = "no step was trained, nothing to save"
  else:
    kept = (
      f"{checkpointing.save_step(manager, step)} and the metrics up "
      "to it are written"
    )
  raise Preempted(
    f"stopped by {catcher.name} at step {step}: {kept}; run the same "
    f"command to resume at step {step}"
  )


def _fit(
  model,
  manager,
  run: run_lib.Run,
  callbacks,
  step: int,
  catcher: preemption.SignalCatcher,
) -> None:
  """fit() from `step`; after a non-finite loss, stops, or (with
  --on_nonfinite=restore) restores the last checkpoint and continues with
  a fresh noise seed, at most MAX_RESTORES times. Returns early once the
  catcher has received a signal."""
  config, data = run.config, run.data
  for attempt in range(MAX_RESTORES + 1):
    if run.chief:
      # Records of steps after the checkpoint will be logged again.
      dropped = records.truncate_after(run.home, step)
      if dropped:
        logging.info(
          "metrics.jsonl: dropped %d records after step %d.", dropped, step
        )
    seed = config.run.seed + attempt * RESEED
    try:
      _fit_from(model, data.dataset, callbacks, config, seed, step, catcher)
      return
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
      # A corrupt image of a folder is named (the pipeline's error is not).
      explained = data.explain(config, e, manager.latest_checkpoint)
      if explained is not None:
        raise explained from e
      raise
    except NonFiniteLossError as e:
      if (
        config.runtime.on_nonfinite == "stop"
        or attempt == MAX_RESTORES
        or manager.latest_checkpoint is None
      ):
        raise
      logging.warning(
        "%s Restoring %s with noise seed %d (restore %d of %d).",
        e,
        manager.latest_checkpoint,
        config.run.seed + (attempt + 1) * RESEED,
        attempt + 1,
        MAX_RESTORES,
      )
      step = checkpointing.restore_or_initialize(manager)
      model.nonfinite_step.assign(-1)
      model.debug_nan_at_step.assign(0)  # The test hook fires once.


def _fit_from(
  model, dataset, callbacks, config: Config, seed: int, step: int, catcher
) -> None:
  """fit() from `step` to config.schedule.train_steps in intervals of log_every
  steps; a run preempted inside an interval first finishes that interval,
  so that logs, checkpoints and samples stay at the same steps."""
  # Every worker builds the same stream and keeps its part of each global
  # batch (the sources are not files that could be split between workers).
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.DATA
  )
  # No autotuning thread: deleting fit()'s iterator at the end of training
  # waited for it, 35-60 s in 4 of 8 demo runs (the thread was in
  # tf.data's Model::OptimizeLoop, docs/measurements.md "Offline demo").
  # The pipeline is 17x-1,000x faster than the models without it
  # (AUTOTUNE then means one parallel call per core and tf.data's default
  # prefetching).
  options.autotune.enabled = False
  every = config.schedule.log_every
  while step < config.schedule.train_steps and catcher.received is None:
    # The noise of each step is keyed by the step (data/noise.py).
    noisy = noise_lib.attach_noise(
      dataset,
      config.network.z_dim,
      model.z_distribution,
      seed,
      start_step=step,
      extra_z=int(model.fresh_g_z),
    ).with_options(options)
    # The rest of an interval cut by a preemption, or the last steps when
    # --train_steps is not a multiple of --log_every: one short interval.
    partial = min(-step % every, config.schedule.train_steps - step)
    full = (config.schedule.train_steps - step) // every
    if partial or not full:
      model.fit(
        noisy,
        epochs=1,
        steps_per_epoch=partial or config.schedule.train_steps - step,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,
      )
    else:
      model.fit(
        noisy,
        epochs=step // every + full,
        initial_epoch=step // every,
        steps_per_epoch=every,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,
      )
    step = int(model.step.numpy())
