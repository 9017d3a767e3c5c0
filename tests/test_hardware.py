"""--precision=auto and --jit_compile=auto from CPU flags and GPU compute
capabilities that this machine need not have, and their log lines."""

import pytest

from tf_ttur import hardware
from tf_ttur.hardware import Gpu
from tf_ttur.hardware import Machine

AVX2_EPYC = Machine("AMD EPYC 7B12", frozenset({"avx2", "fma", "sse4_2"}))
AVX512_BF16 = Machine(
  "AMD EPYC 9B14",
  frozenset({"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"}),
)
SAPPHIRE_RAPIDS = Machine(
  "Intel Xeon Platinum 8481C",
  frozenset({"avx2", "fma", "avx512f", "amx_bf16", "amx_tile"}),
)
H100 = Machine(
  "Intel Xeon",
  frozenset({"avx2"}),
  gpus=(Gpu("NVIDIA H100 80GB HBM3", (9, 0)),),
)
A100 = Machine(gpus=(Gpu("NVIDIA A100-SXM4-40GB", (8, 0)),))
V100 = Machine(gpus=(Gpu("Tesla V100-SXM2-16GB", (7, 0)),))
T4 = Machine(gpus=(Gpu("Tesla T4", (7, 5)),))


@pytest.mark.parametrize(
  "machine, expected",
  [
    (AVX2_EPYC, "float32"),
    (AVX512_BF16, "mixed_bfloat16"),
    (SAPPHIRE_RAPIDS, "mixed_bfloat16"),
    (Machine(), "float32"),  # No /proc/cpuinfo (macOS, Windows).
    (H100, "mixed_bfloat16"),
    (A100, "mixed_bfloat16"),
    (V100, "mixed_float16"),
    (T4, "mixed_float16"),
  ],
)
def test_auto_precision(machine, expected):
  precision, why, warning = hardware.resolve_precision("auto", machine)
  assert precision == expected
  assert why and warning is None


def test_auto_precision_reasons_name_the_hardware():
  assert "AVX512_BF16" in hardware.resolve_precision("auto", AVX512_BF16)[1]
  assert "AMX_BF16" in hardware.resolve_precision("auto", SAPPHIRE_RAPIDS)[1]
  why = hardware.resolve_precision("auto", AVX2_EPYC)[1]
  assert "no AVX512_BF16 or AMX-BF16" in why
  why = hardware.resolve_precision("auto", H100)[1]
  assert "H100" in why and "9.0" in why and "no loss scaling" in why
  why = hardware.resolve_precision("auto", T4)[1]
  assert "7.5" in why and "loss scaling" in why


@pytest.mark.parametrize(
  "changes",
  [
    dict(onednn_max_isa="AVX2"),  # oneDNN capped below bfloat16.
    dict(onednn_max_isa="avx512_core"),  # Case-insensitive, still below.
    dict(onednn=False),  # TF_ENABLE_ONEDNN_OPTS=0: Eigen.
  ],
)
def test_bf16_cpu_that_cannot_use_it_gets_float32(changes):
  import dataclasses

  machine = dataclasses.replace(AVX512_BF16, **changes)
  precision, why, _ = hardware.resolve_precision("auto", machine)
  assert precision == "float32"
  assert ("ONEDNN_MAX_CPU_ISA" in why) or ("oneDNN is off" in why)


def test_uncapped_onednn_isa_keeps_bf16():
  import dataclasses

  for isa in ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "ALL"):
    machine = dataclasses.replace(AVX512_BF16, onednn_max_isa=isa)
    assert hardware.resolve_precision("auto", machine)[0] == "mixed_bfloat16"


def test_explicit_choices_are_kept_with_warnings_where_slow():
  precision, why, warning = hardware.resolve_precision(
    "mixed_bfloat16", AVX2_EPYC
  )
  assert precision == "mixed_bfloat16" and why == "--precision"
  assert "5x slower" in warning and "float32" in warning
  assert hardware.resolve_precision("mixed_bfloat16", AVX512_BF16)[2] is None
  warning = hardware.resolve_precision("mixed_float16", AVX512_BF16)[2]
  assert "without a GPU" in warning
  warning = hardware.resolve_precision("mixed_bfloat16", V100)[2]
  assert "emulated" in warning and "7.0" in warning
  assert hardware.resolve_precision("mixed_bfloat16", H100)[2] is None
  assert hardware.resolve_precision("float32", H100) == (
    "float32",
    "--precision",
    None,
  )


def test_a_resumed_run_keeps_its_recorded_precision():
  precision, why, _ = hardware.precision_for_run(
    "auto", "mixed_float16", AVX2_EPYC
  )
  assert precision == "mixed_float16" and "config.json" in why
  precision, why, _ = hardware.precision_for_run(
    "float32", "mixed_float16", H100
  )
  assert precision == "float32"
  assert "changed from the run's recorded mixed_float16" in why
  # An old run directory that recorded "auto" (or none) resolves afresh.
  assert hardware.precision_for_run("auto", "auto", H100)[0] == (
    "mixed_bfloat16"
  )
  assert hardware.precision_for_run("auto", None, AVX2_EPYC)[0] == "float32"


def test_auto_jit():
  assert hardware.resolve_jit("auto", H100)[0] is True
  on, why, warning = hardware.resolve_jit("auto", AVX2_EPYC)
  assert on is False and "no GPU" in why and warning is None
  on, _, warning = hardware.resolve_jit("true", AVX2_EPYC)
  assert on is True and "slower" in warning
  assert hardware.resolve_jit("false", H100)[0] is False


def test_cpu_info_reads_model_and_flags(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(
    "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
    "model name\t: AMD EPYC 7B12\n"
    "flags\t\t: fpu sse4_2 avx2 fma\n\n"
    "processor\t: 1\nmodel name\t: other\nflags\t: x\n"
  )
  model, flags = hardware.cpu_info(str(path))
  assert model == "AMD EPYC 7B12"
  assert flags == {"fpu", "sse4_2", "avx2", "fma"}
  model, flags = hardware.cpu_info(str(tmp_path / "missing"))
  assert flags == frozenset() and model


def test_describe_names_cpu_flags_and_gpu():
  text = SAPPHIRE_RAPIDS.describe()
  assert "Intel Xeon Platinum 8481C" in text
  assert "AVX2" in text and "AVX512F" in text and "AMX_BF16" in text
  assert "no GPU" in text
  text = H100.describe()
  assert "NVIDIA H100 80GB HBM3" in text and "compute capability 9.0" in text


def test_detect_describes_this_machine():
  machine = hardware.detect()
  assert machine.describe()
  # tf_ttur turns TensorFlow's oneDNN on, also where TF would not (AVX2).
  assert machine.onednn


class _Log:
  """Records absl's info and warning lines (whatever absl's verbosity)."""

  def __init__(self, monkeypatch, module):
    self.info, self.warnings = [], []
    monkeypatch.setattr(
      module.logging, "info", lambda msg, *a: self.info.append(msg % a)
    )
    monkeypatch.setattr(
      module.logging, "warning", lambda msg, *a: self.warnings.append(msg % a)
    )


def test_runtime_logs_each_choice_once_with_its_reason(tmp_path, monkeypatch):
  from tf_ttur import runtime
  from tf_ttur.config import Config

  config = Config.of(workdir=str(tmp_path / "run"))
  log = _Log(monkeypatch, runtime)
  assert runtime.resolve_runtime(config, AVX2_EPYC) == ("float32", False)
  assert (
    sum(
      m.startswith(
        "precision=auto: float32 (no GPU; the CPU has no AVX512_BF16"
      )
      for m in log.info
    )
    == 1
  )
  assert sum(m.startswith("jit_compile=auto: XLA off") for m in log.info) == 1
  assert sum(m.startswith("Machine: AMD EPYC 7B12") for m in log.info) == 1
  assert not log.warnings
  log = _Log(monkeypatch, runtime)
  runtime.resolve_runtime(config.replace(precision="mixed_bfloat16"), AVX2_EPYC)
  assert len(log.warnings) == 1 and "5x slower" in log.warnings[0]
  assert runtime.resolve_runtime(config, H100) == ("mixed_bfloat16", True)
