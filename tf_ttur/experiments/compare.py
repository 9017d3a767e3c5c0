"""Runs several configurations over several seeds and draws them the way
the paper's figures do: one curve per configuration, the mean over seeds
with a min-max band, against updates or training minutes.

    python -m tf_ttur.experiments.compare \
        --flagfiles=configs/demo.flags,configs/demo_orig.flags --seeds=3

trains each flagfile with seeds 0..N-1 into OUT/<flagfile name>/seed_<k>
(`python -m tf_ttur.main`, one process per run), reusing every run that is
already finished and resuming any that is not, then writes OUT/compare.png
(the figure), OUT/compare.md (the paper's statistic per configuration)
and OUT/compare.json (the curves). "The paper's statistic" is this
project's reading of the paper's table values: the best point of the mean
curve over seeds. The paper says its curves are means over 8 runs (10 for
the language GAN) and gives each row's best value, but not how that value
was taken from the runs (docs/paper.md A.1). It is reported beside each
seed's own best, which is lower and noisier. The metric is the
first of fid, fd_shapes and jsd_4 that the runs logged, or --metric. With
GPUs and the datasets, the paper's flagfiles (configs/cifar10.flags,
configs/cifar10_orig.flags, ...) give the paper's figures.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import time

from absl import flags

from fid.files import atomic_write
from tf_ttur import discovery
from tf_ttur import evals
from tf_ttur import flags as tf_ttur_flags
from tf_ttur import runconfig
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError
from tf_ttur.errors import fail
from tf_ttur.experiments import curves

METRICS = curves.METRICS
# The run's log line of an interval: "step 250/1000 ... | left 1m02s".
PROGRESS = re.compile(r"step \d+/\d+.*\| left \S+")
PROGRESS_EVERY_S = 10.0


def run_name(flagfile: str) -> str:
  return os.path.splitext(os.path.basename(flagfile))[0]


def final_step(workdir: str) -> int:
  """The step of the run's newest checkpoint (0 if none), found from its
  `ckpt-N.index` files as a resume finds it (discovery.checkpoints_on_disk):
  TensorFlow's `checkpoint` state file, which names paths of any form, is
  not read."""
  found = discovery.checkpoints_on_disk(rundir.RunDir(workdir).checkpoints)
  return found[0][0] if found else 0


# Flags that change where or how fast a run goes, not what it learns or
# logs: a run recorded with other values of these is still the run asked
# for (the length is checked by the step reached).
RUNTIME_FLAGS = frozenset(
  (
    "cache_mb",
    "checkpoint_every",
    "keep_checkpoints",
    "cpu_replicas",
    "data_dir",
    "export",
    "export_dtype",
    "fid_batch_size",
    "fid_inception",
    "grid_size",
    "jit_compile",
    "log_every",
    "mode",
    "on_nonfinite",
    "precision",
    "restart",
    "sample_every",
    "strategy",
    "tf32",
    "tflite",
    "workdir",
    "debug_nan_at_step",
    "train_steps",
  )
)


def check_same_run(config: Config, workdir: str) -> None:
  """ConfigError when `workdir` holds a run recorded (config.json) with
  other values of a flag that changes what it learns or logs than
  `config` asks for: such a run is never reused or resumed as this one."""
  recorded = runconfig.recorded_config(rundir.RunDir(workdir))
  if recorded is None:
    return
  current = config.flat()
  changed = [
    f"--{name}={recorded[name]!r} there, {current[name]!r} asked"
    for name in sorted(current)
    if name in recorded
    and name not in RUNTIME_FLAGS
    and recorded[name] != current[name]
  ]
  if changed:
    raise ConfigError(
      f"{workdir} holds a run made with other flags "
      f"({'; '.join(changed)}); nothing was reused or "
      "trained. Give another --out, or move that run aside"
    )


def ensure_run(
  flagfile: str,
  seed: int,
  workdir: str,
  overrides: list[str],
  log=print,
  env: dict | None = None,
) -> bool:
  """Trains (or resumes) one run unless it is finished; True if it trained.
  A run made with other flags is refused (check_same_run). env: variables
  added for its process (a sweep's CUDA_VISIBLE_DEVICES)."""
  args = [
    f"--flagfile={flagfile}",
    *overrides,
    f"--seed={seed}",
    f"--workdir={workdir}",
  ]
  config = Config.from_args(*args)
  check_same_run(config, workdir)
  if final_step(workdir) >= config.schedule.train_steps:
    log(f"reused   {workdir} (step {config.schedule.train_steps})")
    return False
  log(f"training {workdir} ...")
  proc = subprocess.Popen(
    [sys.executable, "-m", "tf_ttur.main", *args],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
    env={**os.environ, **(env or {})},
  )
  tail = collections.deque(maxlen=5)
  last = time.monotonic()
  for line in proc.stderr:  # The run's log: a progress line every ~10 s.
    tail.append(line.rstrip())
    found = PROGRESS.search(line)
    if found and time.monotonic() - last >= PROGRESS_EVERY_S:
      last = time.monotonic()
      log(f"  {workdir}: {found.group(0)}")
  if proc.wait():
    raise RuntimeError(
      f"{workdir}: training failed (exit "
      f"{proc.returncode}):\n" + "\n".join(tail)
    )
  return True


def compare(
  flagfiles: list[str],
  seeds: int,
  out: str,
  overrides: list[str],
  metric: str | None = None,
  x: str = "step",
  log=print,
) -> list[dict]:
  """Trains what is missing, then writes the figure, table and curves."""
  names = _check_plan(flagfiles, seeds, out, overrides, metric)
  runs = {
    name: [os.path.join(out, name, f"seed_{k}") for k in range(seeds)]
    for name in names
  }
  total = seeds * len(flagfiles)
  done = 0
  for flagfile, name in zip(flagfiles, names):
    for seed, workdir in enumerate(runs[name]):
      done += 1
      log(f"run {done} of {total}:")
      ensure_run(flagfile, seed, workdir, overrides, log)
  all_dirs = [w for ws in runs.values() for w in ws]
  metric = metric or curves.pick_metric(all_dirs)
  summaries = []
  for flagfile, name in zip(flagfiles, names):
    summary = curves.summarize(name, runs[name], metric)
    config = Config.from_args(f"--flagfile={flagfile}", *overrides)
    rates = config.optimization
    summary["lr"] = f"{rates.d_lr:g}, {rates.g_lr:g}"
    summaries.append(summary)
  curves.write_figure(summaries, os.path.join(out, "compare.png"), x)
  table = curves.write_table(summaries, os.path.join(out, "compare.md"))
  atomic_write(
    os.path.join(out, "compare.json"),
    json.dumps(
      {"flagfiles": flagfiles, "overrides": overrides, "summaries": summaries},
      indent=1,
    ),
  )
  log(table)
  log(f"wrote {out}/compare.png, compare.md and compare.json")
  return summaries


def _check_plan(
  flagfiles: list[str],
  seeds: int,
  out: str,
  overrides: list[str],
  metric: str | None,
) -> list[str]:
  """The configurations' names; ConfigError, before any run, for a plan
  that cannot be compared (no seeds, too many runs, a bad --out, two
  flagfiles of one name, a missing flagfile, no metric in common)."""
  if seeds < 1:
    raise ConfigError(f"--seeds must be at least 1, got {seeds}")
  check_run_count(
    seeds * len(flagfiles), f"{len(flagfiles)} flagfiles x --seeds={seeds}"
  )
  check_out(out)
  names = [run_name(f) for f in flagfiles]
  if len(set(names)) != len(names):
    raise ConfigError(f"two flagfiles share a name: {', '.join(names)}")
  for flagfile in flagfiles:
    if not os.path.isfile(flagfile):
      raise ConfigError(f"--flagfiles: {flagfile}: no such file")
  logged = {
    flagfile: check_evaluates(flagfile, overrides, metric)
    for flagfile in flagfiles
  }
  if metric is None and not set.intersection(*logged.values()):
    # Compared on one metric: one that every flagfile's runs log.
    raise ConfigError(
      "the flagfiles evaluate no metric in common ("
      + "; ".join(
        f"{run_name(f)}: {', '.join(sorted(v))}" for f, v in logged.items()
      )
      + "): set the same --fid_every, --kid_every, --quality_every or "
      "--jsd_every on each (e.g. --override=--kid_every=N), or --metric"
    )
  return names


# The most runs a compare or a sweep plans (configurations or pairs times
# seeds), refused before any is validated: each run is a training.
MAX_RUNS = 1_000


def check_run_count(runs: int, what: str) -> None:
  """ConfigError when `runs` is over MAX_RUNS (what: how they were asked
  for), before anything is validated or trained."""
  if runs > MAX_RUNS:
    raise ConfigError(
      f"{what} are {runs:,} runs; at most {MAX_RUNS:,} are "
      "planned at once (each is a training run)"
    )


def check_out(out: str) -> None:
  """ConfigError unless --out is a folder or can be made one (writable)."""
  from tf_ttur import preflight

  if os.path.exists(out) and not os.path.isdir(out):
    raise ConfigError(
      f"--out={out}: a file, not a folder (where the runs and results go)"
    )
  preflight.check_writable(out, flag="--out")


def check_evaluates(
  flagfile: str, overrides: list[str], metric: str | None
) -> set[str]:
  """ConfigError, before any training, unless the flagfile's runs log a
  value that can be compared and ranked (`metric`, or any of METRICS);
  returns the METRICS they log."""
  config = Config.from_args(f"--flagfile={flagfile}", *overrides)
  logged = {
    value
    for entry in evals.enabled(config.evaluation)
    for value in entry.values
  }
  if metric is not None and metric not in logged:
    raise ConfigError(
      f"{flagfile} does not evaluate {metric} (it "
      f"evaluates: {', '.join(sorted(logged)) or 'nothing'})"
      f"; set its --{_eval_of(metric)}_every"
    )
  if metric is None and not logged & set(METRICS):
    raise ConfigError(
      f"{flagfile} evaluates nothing to compare: set one "
      "of --fid_every, --kid_every, --quality_every, "
      "--jsd_every (or --override=--fid_every=N)"
    )
  return logged & set(METRICS)


def _eval_of(value: str) -> str:
  """The evaluation (its flag prefix) that writes `value`."""
  return next(
    entry.name for entry in evals.EVALS.values() if value in entry.values
  )


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  try:
    compare(
      FLAGS.flagfiles,
      FLAGS.seeds,
      FLAGS.out,
      FLAGS.override,
      FLAGS.metric,
      FLAGS.x,
    )
  except (ConfigError, ValueError, RuntimeError) as e:
    fail(str(e))


def define_run_flags(seeds: int, out: str) -> None:
  """The flags of the programs that train many runs (compare, sweep)."""
  flags.DEFINE_integer("seeds", seeds, "Seeds 0..N-1 per configuration.")
  flags.DEFINE_string("out", out, "Output folder.")
  flags.DEFINE_multi_string(
    "override",
    [],
    "A flag given to every run after its flagfile, "
    "e.g. --override=--train_steps=500 (repeatable).",
  )
  flags.DEFINE_enum(
    "metric",
    None,
    list(METRICS),
    "Default: the first of fid, fd_shapes, jsd_4 logged.",
  )


if __name__ == "__main__":
  flags.DEFINE_list("flagfiles", None, "Flagfiles to compare.")
  define_run_flags(3, "runs/compare")
  flags.DEFINE_enum("x", "step", ["step", "minutes"], "The x-axis.")
  flags.mark_flag_as_required("flagfiles")
  FLAGS = flags.FLAGS
  tf_ttur_flags.run_program(main)
