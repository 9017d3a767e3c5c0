"""Checkpoints (tf.train.CheckpointManager) and the generator's SavedModel.

The checkpoint holds the generator, the discriminator, both optimizers and the
step; the subclassed GAN itself is never `save()`d (keras-io #729). The export
is a plain tf.Module around the generator saved with `tf.saved_model.save`, so
every variable is stored once (`model.export` stores them twice, SPEC Part C)
and the result loads with TensorFlow alone.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

from absl import logging
import keras
import tensorflow as tf

from tf_ttur import gan as gan_lib
from tf_ttur.errors import ConfigError, StorageError, first_line


def _adam(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
  """The Adam itself, also when wrapped for float16 loss scaling."""
  return getattr(optimizer, "inner_optimizer", optimizer)


def _loss_scale(optimizer) -> tf.train.Checkpoint | None:
  """The float16 loss scale's state, or None without loss scaling."""
  if not hasattr(optimizer, "inner_optimizer"):
    return None
  return tf.train.Checkpoint(dynamic_scale=optimizer.dynamic_scale,
                             step_counter=optimizer.step_counter)


def _core(model: gan_lib.GAN) -> dict:
  """What every checkpoint holds and every restore requires, the same under
  every precision: the Adams are tracked themselves, not the float16
  LossScaleOptimizer around them (whose object graph differs), so that a
  run moves between float32, mixed_float16 and mixed_bfloat16."""
  return dict(generator=model.generator, discriminator=model.discriminator,
              g_optimizer=_adam(model.g_optimizer),
              d_optimizer=_adam(model.d_optimizer), step=model.step)


def _extras(model: gan_lib.GAN) -> dict:
  """Saved when present, restored when the checkpoint has them: BEGAN's
  k_t and, under mixed_float16, each optimizer's loss scale."""
  extras = {"k_t": model.k_t}
  for name in ("g", "d"):
    state = _loss_scale(getattr(model, f"{name}_optimizer"))
    if state is not None:
      extras[f"{name}_loss_scale"] = state
  return extras


def make_manager(model: gan_lib.GAN, directory: str,
                 max_to_keep: int) -> tf.train.CheckpointManager:
  checkpoint = tf.train.Checkpoint(**_core(model), **_extras(model))
  manager = tf.train.CheckpointManager(checkpoint, directory,
                                       max_to_keep=max_to_keep)
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
        path).assert_existing_objects_matched().expect_partial()
  except (AssertionError, ValueError) as e:
    raise ConfigError(
        f"{path} does not fit the model of these flags "
        f"({first_line(e)[:200]}); "
        "resume with the flags the run was trained with (its config.json), "
        "or use another --workdir") from None
  if generator_only:
    return int(model.step.numpy())
  found = {}
  for name, obj in _extras(model).items():
    where = _where_saved(name, saved)
    if where is None:
      logging.info("%s starts at its initial value: %s does not hold it "
                   "(made under another precision or an earlier version).",
                   name, path)
    else:
      found[where] = obj
  if found:
    tf.train.Checkpoint(**found).restore(path).expect_partial()
  return int(model.step.numpy())


def restore_or_initialize(manager: tf.train.CheckpointManager) -> int:
  """Restores the manager's latest checkpoint if there is one; returns the
  step (the restore after a non-finite loss; a run's first restore goes
  through rundir.find_checkpoint)."""
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
          "permissions and rerun to resume.") from None
  return latest


def remove_leftovers(workdir: str) -> list[str]:
  """Deletes what a killed run can leave half-written: temporary exports,
  files being renamed into place, TensorFlow's temporary checkpoint
  folders. None of them is ever read; returns what was removed."""
  patterns = [".export-*", "*.tmp", "*.tmp[0-9]*", "samples/*.tmp*",
              "checkpoints/*_temp*", ".classifier-*"]
  removed = []
  for pattern in patterns:
    for path in glob.glob(os.path.join(workdir, pattern)):
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)
      removed.append(path)
  return removed


def to_uint8(images: tf.Tensor) -> tf.Tensor:
  # [-1, 1] -> [0, 255], rounded and clipped (SPEC B.3 lists the choices).
  images = (tf.cast(images, tf.float32) + 1.0) * 127.5
  return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


class ExportedGenerator(tf.Module):
  """What the SavedModel holds: the generator and two signatures."""

  def __init__(self, generator: tf.keras.Model, z_dim: int,
               z_distribution: str):
    super().__init__(name="exported_generator")
    self.generator = generator
    # Variables, so that they are saved: what a user needs to draw z.
    self.z_dim = tf.Variable(z_dim, dtype=tf.int32, trainable=False,
                             name="z_dim")
    self.z_distribution = tf.Variable(z_distribution, dtype=tf.string,
                                      trainable=False, name="z_distribution")
    self._z_dim = z_dim
    self._uniform = z_distribution == "uniform"
    self.serve = tf.function(
        self._serve,
        input_signature=[tf.TensorSpec([None, z_dim], tf.float32, name="z")])
    self.sample = tf.function(
        self._sample,
        input_signature=[tf.TensorSpec([], tf.int32, name="num"),
                         tf.TensorSpec([2], tf.int32, name="seed")])

  def _serve(self, z):
    return {"images": to_uint8(self.generator(z, training=False))}


  def _sample(self, num, seed):
    shape = tf.stack([num, self._z_dim])
    if self._uniform:
      z = tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
    else:
      z = tf.random.stateless_normal(shape, seed)
    return {"z": z, **self._serve(z)}


class ExportedTextGenerator(ExportedGenerator):
  """A language generator: z -> strings (argmax per position, decoded)."""

  def __init__(self, generator, z_dim: int, z_distribution: str,
               vocabulary: list[str]):
    # The table the serving function decodes with; saved with the model.
    # The unknown token (id 0, "unk") decodes to U+FFFD, so that every
    # position is one character and every line has exactly 32.
    table = ["\ufffd"] + list(vocabulary[1:])
    self.vocabulary = tf.Variable(table, dtype=tf.string, trainable=False,
                                  name="vocabulary")
    super().__init__(generator, z_dim, z_distribution)

  def _serve(self, z):
    probs = self.generator(z, training=False)
    ids = tf.argmax(probs, axis=-1, output_type=tf.int32)
    chars = tf.gather(self.vocabulary, ids)
    return {"text": tf.strings.reduce_join(chars, axis=-1), "ids": ids}


def export_generator(generator: tf.keras.Model, z_dim: int,
                     z_distribution: str, export_dir: str,
                     vocabulary: list[str] | None = None) -> str:
  """Saves the generator as a SavedModel at export_dir, atomically.

  Signatures: `serving_default` maps float32 z [None, z_dim] to uint8 images
  [None, H, W, 3]; `sample` maps (num, seed[2]) to z and images. The model is
  written to a temporary sibling folder and renamed into place, so a crash
  never leaves a half-written export under export_dir. With a vocabulary
  (the language model) the outputs are `text` (strings of 32 characters,
  padding included) and `ids` instead of `images`.

  Returns:
    export_dir.
  """
  if vocabulary is None:
    module = ExportedGenerator(generator, z_dim, z_distribution)
  else:
    module = ExportedTextGenerator(generator, z_dim, z_distribution,
                                   vocabulary)
  parent = os.path.dirname(os.path.abspath(export_dir))
  try:
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
  except OSError as e:
    raise StorageError(f"cannot export to {export_dir}: {e}") from None
  try:
    tf.saved_model.save(module, tmp, signatures={
        "serving_default": module.serve, "sample": module.sample})
    old = None
    if os.path.exists(export_dir):
      old = tmp + ".old"
      os.rename(export_dir, old)
    os.rename(tmp, export_dir)
    if old:
      shutil.rmtree(old)
  except (OSError, tf.errors.OpError) as e:
    shutil.rmtree(tmp, ignore_errors=True)
    raise StorageError(f"cannot export to {export_dir}: "
                       f"{getattr(e, 'message', None) or e}") from None
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return export_dir
