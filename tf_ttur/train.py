"""train(config): builds the run from a validated Config and calls fit()."""

from __future__ import annotations

import contextlib
import os
import shutil

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from tf_ttur import callbacks as callbacks_lib
from tf_ttur import checkpointing
from tf_ttur import export as export_lib
from tf_ttur import gan as gan_lib
from tf_ttur import preemption
from tf_ttur import records
from tf_ttur import rundir
from tf_ttur import runtime
from tf_ttur.config import Config
from tf_ttur.errors import DatasetError, NonFiniteLossError, Preempted
from tf_ttur.data import images as images_lib
from tf_ttur.data import noise as noise_lib
from tf_ttur.data import text as text_lib
from tf_ttur.networks import NETWORKS, dtype_policy

EXPORT_DIR = "saved_model"


def build_model(config: Config, precision: str, jit_compile: bool = False,
                vocab_size: int | None = None,
                sync_batch_norm: bool = False) -> gan_lib.GAN:
  """The compiled GAN of `config` (both optimizers built).

  vocab_size is required for text models (their first dimension).
  sync_batch_norm makes batch norm use the global batch's statistics under
  a multi-replica strategy, so that the step equals the one-device step.
  """
  spec = NETWORKS[config.model]
  first = vocab_size if spec.kind == "text" else config.image_size
  if first is None:
    raise ValueError("a text model needs the vocabulary size")
  with dtype_policy(precision):
    generator = spec.make_generator(first, config.z_dim, config.width,
                                    seed=config.seed)
    discriminator = spec.make_discriminator(first, config.width,
                                            config.z_dim, seed=config.seed)
  if sync_batch_norm:
    for layer in generator.layers + discriminator.layers:
      if isinstance(layer, keras.layers.BatchNormalization):
        layer.synchronized = True
  model = gan_lib.GAN(generator, discriminator, loss=spec.loss,
                      z_dim=config.z_dim, z_distribution=spec.z_distribution,
                      n_critic=config.n_critic, seed=config.seed)
  loss_scaling = precision == "mixed_float16"
  adam = dict(beta_1=config.beta_1, beta_2=config.beta_2,
              epsilon=config.adam_epsilon, loss_scaling=loss_scaling,
              halve_every=config.lr_halve_every)
  model.compile(
      d_optimizer=gan_lib.make_adam(config.d_lr, name="d_adam", **adam),
      g_optimizer=gan_lib.make_adam(config.g_lr, name="g_adam", **adam),
      jit_compile=jit_compile)
  return model


def make_dataset(config: Config) -> tf.data.Dataset:
  """Batches [batch_size, n_critic, H, W, 3] of real images (no noise yet)."""
  images = images_lib.load_images(config.dataset, config.image_size,
                                  data_dir=config.data_dir)
  cache = images_lib.fits_in_memory(images, config.image_size,
                                    config.cache_mb)
  logging.info("Input pipeline: %s the decoded images in memory "
               "(--cache_mb=%d).", "caching" if cache else "not caching",
               config.cache_mb)
  return images_lib.make_pipeline(
      images, config.batch_size, seed=config.seed,
      shuffle_buffer=config.shuffle_buffer, cache=cache,
      n_critic=config.n_critic)


def fixed_z(config: Config, distribution: str) -> np.ndarray:
  return noise_lib.draw_z(np.random.default_rng(config.seed),
                          config.grid_size**2, config.z_dim, distribution)


def export(model: gan_lib.GAN, config: Config, workdir: str,
           training_precision: str, vocabulary: list[str] | None = None,
           export_dir: str = EXPORT_DIR) -> str:
  """Exports the generator to workdir/export_dir (text: with vocabulary),
  described by the run's config and last scores (tf_ttur.export)."""
  path = export_lib.export_generator(
      model, config, os.path.join(workdir, export_dir), training_precision,
      vocabulary=vocabulary, history=records.read(workdir))
  logging.info("Exported the generator to %s", path)
  return path


def train(config: Config) -> gan_lib.GAN:
  """Trains (or resumes) the run of `config` in config.workdir.

  Returns:
    The trained model, restored to the last step.

  Raises:
    Preempted: SIGTERM or SIGINT arrived; the step in progress
      was finished and checkpointed with its metrics.
  """
  with preemption.SignalCatcher() as catcher, contextlib.ExitStack() as held:
    return _train(config, catcher, held)


def _lock_run(config: Config, held: contextlib.ExitStack) -> None:
  """Takes the run directory for this process (after moving an old run
  aside with --restart) and checks this config against the run's recorded
  one, before anything is written."""
  workdir = config.workdir
  if config.restart:
    with rundir.RunLock(workdir):  # Not while another process runs there.
      moved = rundir.move_aside(workdir)
    if moved:
      logging.warning("--restart: moved the previous run to %s.", moved)
  held.enter_context(rundir.RunLock(workdir))
  for change in rundir.check_resume(config, rundir.recorded_config(workdir)):
    logging.info("Resuming with a changed flag: %s.", change)


def _train(config: Config, catcher: preemption.SignalCatcher,
           held: contextlib.ExitStack) -> gan_lib.GAN:
  precision, jit_compile = runtime.resolve_runtime(config)
  # The strategy first: multi-worker collectives must be configured before
  # TensorFlow runs anything.
  if config.cpu_replicas:
    runtime.split_cpu(config.cpu_replicas)
  strategy = runtime.make_strategy(config.strategy)
  keras.utils.set_random_seed(config.seed)
  workdir = config.workdir
  spec = NETWORKS[config.model]
  vocab = padded = None
  # Data first: a missing dataset fails before anything is written.
  if spec.kind == "text":
    ids, vocab, padded = text_lib.load_corpus(
        config.dataset, config.max_lines, config.seed, config.data_dir)
    dataset = text_lib.make_pipeline(ids, len(vocab), config.batch_size,
                                     config.seed, n_critic=config.n_critic)
  else:
    dataset = make_dataset(config)
  chief, role = runtime.worker_role(strategy)
  # Every worker runs the same steps and saves at the same steps (saving may
  # use collectives); only the chief writes into the workdir, the others
  # into a scratch folder removed at the end (TensorFlow's multi-worker
  # convention). All restore from the chief's checkpoints.
  write_dir = workdir if chief else os.path.join(workdir, f".scratch-{role}")
  checkpoints = os.path.join(workdir, "checkpoints")
  if chief:
    _lock_run(config, held)
    for path in checkpointing.remove_leftovers(workdir):
      logging.info("Removed %s (left by an interrupted run).", path)
    # From the files on disk; damaged newer ones are moved aside, named.
    latest = rundir.find_checkpoint(checkpoints, log=logging.warning)
  else:
    latest = tf.train.latest_checkpoint(checkpoints)
  with strategy.scope():
    model = build_model(config, precision, jit_compile,
                        vocab_size=len(vocab) if vocab else None,
                        sync_batch_norm=strategy.num_replicas_in_sync > 1)
    manager = checkpointing.make_manager(
        model, os.path.join(write_dir, "checkpoints"), config.keep_checkpoints)
  step = 0
  if latest is not None:
    step = checkpointing.restore(model, latest)
    logging.info("Resumed from %s at step %d.", latest, step)
  os.makedirs(write_dir, exist_ok=True)
  if chief:
    # Only now that the run is restored: what auto resolved to, so that a
    # resume on another machine keeps it.
    rundir.write_config(config.replace(precision=precision, restart=False),
                        workdir)
    if vocab is not None:
      rundir.write_vocabulary(vocab, workdir)
  model.debug_nan_at_step.assign(config.debug_nan_at_step)
  if step >= config.train_steps:
    logging.info("Already at step %d of %d; nothing to train.", step,
                 config.train_steps)
  else:
    writer = tf.summary.create_file_writer(
        os.path.join(write_dir, "tensorboard"))
    callbacks = callbacks_lib.assemble(
        config, model, manager, catcher, writer, write_dir,
        fixed_z(config, spec.z_distribution), chief=chief,
        fid_strategy=runtime.fid_strategy(strategy), vocab=vocab,
        padded=padded,
        export_best=lambda directory: export(model, config, write_dir,
                                             precision, export_dir=directory))
    _fit(model, manager, dataset, callbacks, config, spec.z_distribution,
         step, chief, catcher)
    writer.close()
  if catcher.received is not None:
    _stop_preempted(model, manager, catcher)
  if config.export:
    export(model, config, write_dir, precision,
           vocab.chars if vocab is not None else None)
  if not chief:
    shutil.rmtree(write_dir, ignore_errors=True)
  return model


MAX_RESTORES = 3
RESEED = 1_000_003  # Noise seed offset per restore after a non-finite loss.


def _stop_preempted(model, manager, catcher) -> None:
  """Makes sure the step reached is checkpointed, then raises Preempted."""
  step = int(model.step.numpy())
  if step == 0 and manager.latest_checkpoint is None:
    kept = "no step was trained, nothing to save"
  else:
    kept = (f"{checkpointing.save_step(manager, step)} and the metrics up "
            "to it are written")
  raise Preempted(
      f"stopped by {catcher.name} at step {step}: {kept}; run the same "
      f"command to resume at step {step}")


def _fit(model, manager, dataset, callbacks, config: Config,
         z_distribution: str, step: int, chief: bool,
         catcher: preemption.SignalCatcher) -> None:
  """fit() from `step`; after a non-finite loss, stops, or (with
  --on_nonfinite=restore) restores the last checkpoint and continues with
  a fresh noise seed, at most MAX_RESTORES times. Returns early once the
  catcher has received a signal."""
  for attempt in range(MAX_RESTORES + 1):
    if chief:
      # Records of steps after the checkpoint will be logged again.
      dropped = records.truncate_after(config.workdir, step)
      if dropped:
        logging.info("metrics.jsonl: dropped %d records after step %d.",
                     dropped, step)
    seed = config.seed + attempt * RESEED
    try:
      _fit_from(model, dataset, callbacks, config, z_distribution, seed,
                step, catcher)
      return
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
      _raise_if_unreadable_image(config, manager, e)
      raise
    except NonFiniteLossError as e:
      if (config.on_nonfinite == "stop" or attempt == MAX_RESTORES or
          manager.latest_checkpoint is None):
        raise
      logging.warning("%s Restoring %s with noise seed %d (restore %d of "
                      "%d).", e, manager.latest_checkpoint,
                      config.seed + (attempt + 1) * RESEED, attempt + 1,
                      MAX_RESTORES)
      step = checkpointing.restore_or_initialize(manager)
      model.nonfinite_step.assign(-1)
      model.debug_nan_at_step.assign(0)  # The test hook fires once.


def _fit_from(model, dataset, callbacks, config: Config, z_distribution: str,
              seed: int, step: int, catcher) -> None:
  """fit() from `step` to config.train_steps in intervals of log_every
  steps; a run preempted inside an interval first finishes that interval,
  so that logs, checkpoints and samples stay at the same steps."""
  # Every worker builds the same stream and keeps its part of each global
  # batch (the sources are not files that could be split between workers).
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  # No autotuning thread: deleting fit()'s iterator at the end of training
  # waited for it, 35-60 s in 4 of 8 demo runs (the thread was in
  # tf.data's Model::OptimizeLoop, BUILD.md "Offline demo"). The pipeline
  # is 17x-1,000x faster than the models without it (AUTOTUNE then means
  # one parallel call per core and tf.data's default prefetching).
  options.autotune.enabled = False
  every = config.log_every
  while step < config.train_steps and catcher.received is None:
    # The noise of each step is keyed by the step (data/noise.py).
    noisy = noise_lib.attach_noise(dataset, config.z_dim, z_distribution,
                                   seed, start_step=step).with_options(options)
    partial = -step % every
    if partial:
      model.fit(noisy, epochs=1, steps_per_epoch=partial,
                callbacks=callbacks, verbose=0, shuffle=False)
    else:
      model.fit(noisy, epochs=config.train_steps // every,
                initial_epoch=step // every, steps_per_epoch=every,
                callbacks=callbacks, verbose=0, shuffle=False)
    step = int(model.step.numpy())


def _raise_if_unreadable_image(config: Config, manager, error) -> None:
  """A DatasetError naming the file, if `error` came from a corrupt image of
  a folder dataset (the pipeline's own error names no file)."""
  if not config.dataset.startswith(images_lib.FOLDER_PREFIX):
    return
  found = images_lib.first_unreadable(
      config.dataset[len(images_lib.FOLDER_PREFIX):])
  if found is None:
    return
  path, reason = found
  latest = manager.latest_checkpoint
  kept = (f"the last checkpoint ({latest}) is intact" if latest else
          "no checkpoint was written yet")
  raise DatasetError(
      f"{path}: cannot decode the image ({reason}); remove "
      f"or replace it and rerun the same command; {kept}") from error
