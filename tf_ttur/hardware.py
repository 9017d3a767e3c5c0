"""What the machine is, and what runs fastest on it: precision and XLA.

The choices are pure functions of a `Machine` description, so that they are
tested with CPU-flag sets and GPU compute capabilities that the test machine
does not have; `detect()` describes the machine at hand.

Measured facts the choices rest on (docs/measurements.md has the tables
and commands):
- bfloat16 on a CPU is fast only with native bfloat16 instructions
  (AVX512_BF16 or AMX-BF16): DCGAN steps ~1.1-1.9x faster than float32
  there, ~5x slower on a CPU with AVX2 + FMA only (AMD EPYC, 2 cores), where
  oneDNN and Eigen emulate it.
- On NVIDIA GPUs of compute capability 8.0 and later (A100, H100) bfloat16
  is native and needs no loss scaling; on an H100, DCGAN-64 with XLA ran
  143.8 steps/s in mixed_bfloat16 against 128.5 in mixed_float16. Below 8.0
  bfloat16 is emulated and float16 with loss scaling is the fast choice.
- XLA on CPU is ~7-14x slower than plain graphs for the DCGANs
  (conv2d_transpose); on a GPU it is 2.8-3.6x faster.
"""

from __future__ import annotations

import dataclasses
import os
import platform

# CPU flags (as /proc/cpuinfo spells them) that mean native bfloat16 math.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# The flags worth naming beside a timing.
NAMED_CPU_FLAGS = (
  "avx2",
  "fma",
  "avx512f",
  "avx512_vnni",
  "avx512_bf16",
  "amx_bf16",
)
# ONEDNN_MAX_CPU_ISA values that still allow oneDNN's bfloat16 kernels; any
# other value (AVX2, AVX512_CORE, ...) caps it below them.
BF16_ONEDNN_ISAS = (
  "AVX512_CORE_BF16",
  "AVX10_1_512",
  "AVX512_CORE_AMX",
  "AVX512_CORE_AMX_FP16",
  "AVX10_1_512_AMX",
  "AVX10_1_512_AMX_FP16",
  "ALL",
  "DEFAULT",
)
# Compute capability from which NVIDIA GPUs have native bfloat16.
BF16_GPU_CAPABILITY = (8, 0)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Gpu:
  name: str
  compute_capability: tuple[int, int] | None


@dataclasses.dataclass(frozen=True)
class Machine:
  """What decides precision and XLA: the CPU's flags and the GPUs."""

  cpu_model: str = "unknown CPU"
  cpu_flags: frozenset[str] = frozenset()
  onednn_max_isa: str | None = None  # ONEDNN_MAX_CPU_ISA, if set.
  onednn: bool = True  # Whether TensorFlow runs its CPU ops through oneDNN.
  gpus: tuple[Gpu, ...] = ()

  @property
  def cpu_bf16(self) -> tuple[bool, str]:
    """(native bfloat16 on this CPU, why) as TensorFlow will run it."""
    native = [f for f in BF16_CPU_FLAGS if f in self.cpu_flags]
    if not native:
      return False, "the CPU has no AVX512_BF16 or AMX-BF16"
    if not self.onednn:
      return False, (
        "oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0), so bfloat16 is emulated"
      )
    isa = (self.onednn_max_isa or "DEFAULT").upper()
    if isa not in BF16_ONEDNN_ISAS:
      return False, (
        f"ONEDNN_MAX_CPU_ISA={self.onednn_max_isa} caps oneDNN "
        "below its bfloat16 kernels"
      )
    return True, f"the CPU has {' and '.join(f.upper() for f in native)}"

  def describe(self) -> str:
    """One line naming the machine, for logs and benchmark tables."""
    flags = [f.upper() for f in NAMED_CPU_FLAGS if f in self.cpu_flags]
    cpu = f"{self.cpu_model} [{' '.join(flags) or 'flags unknown'}]"
    cpu += f", {os.cpu_count()} logical cores"
    if self.onednn_max_isa:
      cpu += f", ONEDNN_MAX_CPU_ISA={self.onednn_max_isa}"
    cpu += f", oneDNN {'on' if self.onednn else 'off'}"
    gpus = "; ".join(
      f"GPU {g.name}"
      + (
        f" (compute capability "
        f"{g.compute_capability[0]}.{g.compute_capability[1]})"
        if g.compute_capability
        else ""
      )
      for g in self.gpus
    )
    return cpu + (f"; {gpus}" if gpus else "; no GPU")


def resolve_precision(
  requested: str, machine: Machine
) -> tuple[str, str, str | None]:
  """(dtype policy, why, warning or None) for --precision=requested.

  auto: on a GPU, mixed_bfloat16 from compute capability 8.0 (native, no
  loss scaling), mixed_float16 with loss scaling below; on a CPU,
  mixed_bfloat16 only with native bfloat16, float32 otherwise. An explicit
  choice is kept, with a warning where it is known to be slow.
  """
  if machine.gpus:
    gpu = machine.gpus[0]
    capability = gpu.compute_capability or (0, 0)
    native = capability >= BF16_GPU_CAPABILITY
    where = (
      f"GPU {gpu.name}, compute capability {capability[0]}.{capability[1]}"
    )
    if requested == "auto":
      if native:
        return (
          "mixed_bfloat16",
          (f"{where}: native bfloat16, no loss scaling needed"),
          None,
        )
      return (
        "mixed_float16",
        (f"{where}: no native bfloat16 below 8.0, float16 with loss scaling"),
        None,
      )
    warning = None
    if requested == "mixed_bfloat16" and not native:
      warning = (
        f"mixed_bfloat16 on {where}: bfloat16 is emulated below "
        "compute capability 8.0; mixed_float16 is the fast choice"
      )
    return requested, "--precision", warning
  native, why = machine.cpu_bf16
  if requested == "auto":
    if native:
      return "mixed_bfloat16", f"no GPU; {why} (native bfloat16)", None
    return "float32", f"no GPU; {why}, so bfloat16 would be slower", None
  warning = None
  if requested == "mixed_bfloat16" and not native:
    warning = (
      f"mixed_bfloat16 on this CPU: {why}; bfloat16 is emulated, "
      "about 5x slower than float32 (measured on an AVX2-only AMD "
      "EPYC); --precision=auto picks float32 here"
    )
  elif requested == "mixed_float16":
    warning = (
      "mixed_float16 on a machine without a GPU: it runs, with loss "
      "scaling, but ~6x slower than float32 (no float16 kernels on "
      "CPU)"
    )
  return requested, "--precision", warning


def precision_for_run(
  requested: str, recorded: str | None, machine: Machine
) -> tuple[str, str, str | None]:
  """resolve_precision, where a resumed run keeps the precision recorded in
  its config.json unless --precision names another one explicitly."""
  if recorded in PRECISIONS:
    if requested == "auto":
      precision, _, warning = resolve_precision(recorded, machine)
      return (
        precision,
        (
          "as recorded in the run's config.json (pass --precision to change it)"
        ),
        warning,
      )
    if requested != recorded:
      precision, _, warning = resolve_precision(requested, machine)
      return (
        precision,
        (f"--precision, changed from the run's recorded {recorded}"),
        warning,
      )
  return resolve_precision(requested, machine)


def resolve_jit(
  requested: str, machine: Machine
) -> tuple[bool, str, str | None]:
  """(XLA on, why, warning or None) for --jit_compile=requested."""
  if requested == "auto":
    if machine.gpus:
      return True, "GPU found: XLA on", None
    return (
      False,
      (
        "no GPU: XLA off (it is ~7-14x slower than plain graphs "
        "on CPU for the DCGANs)"
      ),
      None,
    )
  if requested == "true" and not machine.gpus:
    return (
      True,
      "--jit_compile",
      (
        "XLA on CPU: it runs, but ~7-14x slower "
        "than plain graphs for the DCGANs "
        "(conv2d_transpose)"
      ),
    )
  return requested == "true", "--jit_compile", None


def cpu_info(path: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
  """(model name, flags) of the first CPU; the flags are empty where the
  file does not exist (macOS, Windows), which makes auto pick float32."""
  model, flags = None, None
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      for line in f:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
          model = value.strip()
        elif key in ("flags", "Features") and flags is None:
          flags = frozenset(value.split())
        if model is not None and flags is not None:
          break
  except OSError:
    pass
  model = model or platform.processor() or platform.machine()
  return model or "unknown CPU", flags or frozenset()


def detect() -> Machine:
  """The machine at hand (imports TensorFlow)."""
  import tensorflow as tf
  from tensorflow.python.util import _pywrap_util_port

  gpus = []
  for device in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(device)
    gpus.append(
      Gpu(
        details.get("device_name", device.name),
        details.get("compute_capability"),
      )
    )
  model, flags = cpu_info()
  return Machine(
    cpu_model=model,
    cpu_flags=flags,
    onednn_max_isa=os.environ.get("ONEDNN_MAX_CPU_ISA") or None,
    onednn=bool(_pywrap_util_port.IsMklEnabled()),
    gpus=tuple(gpus),
  )
