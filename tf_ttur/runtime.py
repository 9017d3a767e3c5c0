"""Where and how a run computes: precision and XLA for this machine, the
tf.distribute strategy, and this process's role among the workers."""

from __future__ import annotations

from absl import logging
import tensorflow as tf

from fid.exact import local_devices
from tf_ttur import hardware
from tf_ttur.config import Config
from tf_ttur.config import ConfigError


def resolve_runtime(
  config: Config,
  machine: hardware.Machine | None = None,
  recorded: dict | None = None,
) -> tuple[str, bool]:
  """(dtype policy, XLA) for this run on this machine, each logged once
  with its reason. A resumed run keeps the precision its config.json
  records (`recorded`, as the caller read it) unless --precision names
  another."""
  machine = machine or hardware.detect()
  logging.info("Machine: %s", machine.describe())
  precision, why, warning = hardware.precision_for_run(
    config.runtime.precision, (recorded or {}).get("precision"), machine
  )
  logging.info(
    "precision=%s: %s (%s).", config.runtime.precision, precision, why
  )
  if warning:
    logging.warning("%s.", warning)
  jit_compile, why, warning = hardware.resolve_jit(
    config.runtime.jit_compile, machine
  )
  logging.info(
    "jit_compile=%s: %s (%s).",
    config.runtime.jit_compile,
    "XLA on" if jit_compile else "XLA off",
    why,
  )
  if warning:
    logging.warning("%s.", warning)
  tf32, why = resolve_tf32(config.runtime.tf32)
  logging.info("tf32=%s: %s.", config.runtime.tf32, why)
  if tf32 is not None:
    tf.config.experimental.enable_tensor_float_32_execution(tf32)
  if not machine.onednn and not machine.gpus:
    logging.warning(
      "oneDNN is off: CPU steps are ~3x slower. Unset "
      "TF_ENABLE_ONEDNN_OPTS=0, or import tf_ttur before "
      "TensorFlow."
    )
  return precision, jit_compile


def resolve_tf32(requested: str) -> tuple[bool | None, str]:
  """(TF32 setting to make, or None to keep TensorFlow's; why)."""
  if requested == "false":
    return False, (
      "TF32 off: float32 matmuls and convolutions are exact "
      "float32, the paper's arithmetic"
    )
  if requested == "true":
    return True, "TF32 on for float32 matmuls and convolutions on Ampere+"
  return None, (
    "TensorFlow's default (TF32 on for float32 matmuls and "
    "convolutions on Ampere and later GPUs)"
  )


def split_cpu(n: int) -> None:
  """Makes the first CPU n logical devices (before TensorFlow starts)."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  try:
    tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * n
    )
  except RuntimeError as e:
    raise ConfigError(f"--cpu_replicas={n}: {e}") from e


def make_strategy(name: str) -> tf.distribute.Strategy:
  """The tf.distribute strategy of --strategy; ValueError if not possible.

  mirrored: all local GPUs, or, without GPUs, all logical CPU devices (how
  the tests run it); it needs at least two. multi_worker: TF_CONFIG's
  cluster with MultiWorkerMirroredStrategy.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    devices = local_devices()
    if len(devices) < 2:
      raise ConfigError(
        "--strategy=mirrored needs at least two devices; this machine has "
        f"{len(devices)} ({', '.join(devices)}). Use "
        "--strategy=default here."
      )
    return tf.distribute.MirroredStrategy(devices)
  if name == "multi_worker":
    # Config.validate has checked that TF_CONFIG is set (without it,
    # TensorFlow would quietly make a one-worker cluster).
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ConfigError(f"unknown strategy {name!r}")


def worker_role(strategy: tf.distribute.Strategy) -> tuple[bool, str]:
  """(is_chief, name) of this process; one process without multi-worker.

  Under MultiWorkerMirroredStrategy the chief is task "chief", or worker 0
  of a cluster without one (TensorFlow's convention).
  """
  resolver = getattr(strategy, "cluster_resolver", None)
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or (
    resolver is None
  ):
    return True, "chief"
  task_type, task_id = resolver.task_type, resolver.task_id
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  chief = task_type == "chief" or (
    not has_chief and task_type == "worker" and task_id == 0
  )
  return chief, f"{task_type}-{task_id}"


def fid_strategy(strategy: tf.distribute.Strategy):
  """The strategy the FID pass runs under: the local replicas, if several."""
  if isinstance(strategy, tf.distribute.MirroredStrategy):
    return strategy
  return None
