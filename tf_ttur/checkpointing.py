"""Checkpoints (tf.train.CheckpointManager).

The checkpoint holds the generator, the discriminator, both optimizers and the
step; the subclassed GAN itself is never `save()`d (keras-io #729). The
generator's SavedModel is made by tf_ttur.export.
"""

from __future__ import annotations

from absl import logging
import keras
import tensorflow as tf

from tf_ttur import gan as gan_lib
from tf_ttur.errors import ConfigError
from tf_ttur.errors import StorageError
from tf_ttur.errors import first_line


def _adam(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
  """The Adam itself, also when wrapped for float16 loss scaling."""
  return getattr(optimizer, "inner_optimizer", optimizer)


def _loss_scale(optimizer) -> tf.train.Checkpoint | None:
  """The float16 loss scale's state, or None without loss scaling."""
  if not hasattr(optimizer, "inner_optimizer"):
    return None
  return tf.train.Checkpoint(
    dynamic_scale=optimizer.dynamic_scale, step_counter=optimizer.step_counter
  )


def _core(model: gan_lib.GAN) -> dict:
  """What every checkpoint holds and every restore requires, the same under
  every precision: the Adams are tracked themselves, not the float16
  LossScaleOptimizer around them (whose object graph differs), so that a
  run moves between float32, mixed_float16 and mixed_bfloat16."""
  return dict(
    generator=model.generator,
    discriminator=model.discriminator,
    g_optimizer=_adam(model.g_optimizer),
    d_optimizer=_adam(model.d_optimizer),
    step=model.step,
  )


def _extras(model: gan_lib.GAN) -> dict:
  """Saved when present, restored when the checkpoint has them: BEGAN's
  k_t and, under mixed_float16, each optimizer's loss scale."""
  extras = {"k_t": model.k_t}
  for name in ("g", "d"):
    state = _loss_scale(getattr(model, f"{name}_optimizer"))
    if state is not None:
      extras[f"{name}_loss_scale"] = state
  return extras


def make_manager(
  model: gan_lib.GAN, directory: str, max_to_keep: int
) -> tf.train.CheckpointManager:
  checkpoint = tf.train.Checkpoint(**_core(model), **_extras(model))
  manager = tf.train.CheckpointManager(
    checkpoint, directory, max_to_keep=max_to_keep
  )
  manager.model = model  # What restore_or_initialize restores into.
  return manager


def _legacy_layout(core: dict, saved: set[str]) -> dict:
  """Checkpoints of earlier versions tracked a float16 run's optimizers as
  the LossScaleOptimizer (the Adam under `inner_optimizer`)."""
  core = dict(core)
  for name in ("g_optimizer", "d_optimizer"):
    if any(key.startswith(f"{name}/inner_optimizer/") for key in saved):
      core[name] = tf.train.Checkpoint(inner_optimizer=core[name])
  return core


def _where_saved(name: str, saved: set[str]) -> str | None:
  """The name under which the checkpoint holds extra `name`, if it does."""
  if any(key.startswith(f"{name}/") for key in saved):
    return name
  if name.endswith("_loss_scale"):  # Earlier versions: inside the wrapper.
    wrapper = f"{name[0]}_optimizer"
    if f"{wrapper}/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in saved:
      return wrapper
  return None


def restore(model: gan_lib.GAN, path: str, generator_only: bool = False) -> int:
  """Restores checkpoint `path` into `model`, made under any precision;
  returns its step.

  Everything of _core must be in the checkpoint
  (assert_existing_objects_matched: another architecture is an error);
  the extras are restored where present and otherwise keep their initial
  values, which is said in the log. generator_only restores the generator
  and the step alone (export and sampling need nothing else).
  """
  saved = {name for name, _ in tf.train.list_variables(path)}
  core = _legacy_layout(_core(model), saved)
  if generator_only:
    core = {"generator": core["generator"], "step": core["step"]}
  # What the checkpoint has beyond core (the extras, the other network when
  # generator_only) is expected to stay unread here.
  try:
    tf.train.Checkpoint(**core).restore(
      path
    ).assert_existing_objects_matched().expect_partial()
  except (AssertionError, ValueError) as e:
    raise ConfigError(
      f"{path} does not fit the model of these flags "
      f"({first_line(e)[:200]}); "
      "resume with the flags the run was trained with (its config.json), "
      "or use another --workdir"
    ) from None
  if generator_only:
    return int(model.step.numpy())
  found = {}
  for name, obj in _extras(model).items():
    where = _where_saved(name, saved)
    if where is None:
      logging.info(
        "%s starts at its initial value: %s does not hold it "
        "(made under another precision or an earlier version).",
        name,
        path,
      )
    else:
      found[where] = obj
  if found:
    tf.train.Checkpoint(**found).restore(path).expect_partial()
  return int(model.step.numpy())


def restore_or_initialize(manager: tf.train.CheckpointManager) -> int:
  """Restores the manager's latest checkpoint if there is one; returns the
  step (the restore after a non-finite loss; a run's first restore goes
  through discovery.find_checkpoint)."""
  path = manager.latest_checkpoint
  if path is None:
    return 0
  step = restore(manager.model, path)
  logging.info("Resumed from %s at step %d.", path, step)
  return step


def save_step(manager: tf.train.CheckpointManager, step: int) -> str:
  """Saves checkpoint `step` unless it is already the latest; returns its path.

  Raises:
    StorageError: the checkpoint could not be written (disk full, read-only
      or vanished directory). TensorFlow writes a checkpoint under temporary
      names and updates the `checkpoint` index file last, so the earlier
      checkpoints stay intact and the latest one stays the latest.
  """
  latest = manager.latest_checkpoint
  if latest is None or not latest.endswith(f"-{step}"):
    try:
      latest = manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as e:
      raise StorageError(
        f"cannot write checkpoint {step} in {manager.directory}: "
        f"{first_line(e)}. "
        f"The earlier checkpoints are intact (latest: "
        f"{manager.latest_checkpoint or 'none'}); free space or fix the "
        "permissions and rerun to resume."
      ) from None
  return latest
