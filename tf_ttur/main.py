"""python -m tf_ttur.main --flagfile=configs/X.flags [--flag=value ...]

The thin binary: flags -> one validated Config -> train / dry_run / export.
A bad value prints one `error:` line and exits with code 2, before anything
is written; so does a missing dataset or a file that cannot be written
(disk full, read-only workdir; the earlier checkpoints stay intact). A NaN
or infinite loss prints one `error:` line naming the step and the last good
checkpoint and exits with code 3 (or, with --on_nonfinite=restore, training
goes on from that checkpoint with a fresh noise seed). SIGTERM or SIGINT
finishes the step in progress, checkpoints it with its metrics, prints one
line and exits with code 75; the same command resumes at that step.
"""

from __future__ import annotations

import sys

from absl import flags
from absl import logging

from tf_ttur import config as config_lib
from tf_ttur import flags as tf_ttur_flags
from tf_ttur.config import Config
from tf_ttur.errors import PREEMPTED_EXIT_CODE
from tf_ttur.errors import ConfigError
from tf_ttur.errors import DatasetError
from tf_ttur.errors import NonFiniteLossError
from tf_ttur.errors import Preempted
from tf_ttur.errors import StorageError
from tf_ttur.errors import fail

FLAGS = config_lib.define_flags(flags.FLAGS)


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  try:
    config = Config.from_flags(FLAGS)
    if config.run.mode == "export":
      config = _export_config(config)
    config = config.validate()
  except ConfigError as e:
    fail(str(e))
  if config.run.mode == "dry_run":
    print(config.to_json())
    return
  if config.run.mode in ("prepare", "train"):
    _check_needs(config)
    if config.run.mode == "prepare":
      return
  # The training stack (and TensorFlow) is only needed past validation and
  # dry_run.
  from fid.stats import StatsError
  from tf_ttur import train

  try:
    if config.run.mode == "export":
      train.export(config)
    else:
      train.train(config)
      from tf_ttur import records

      for line in records.summary(config):
        logging.info("%s", line)
  except (
    ConfigError,
    DatasetError,
    StatsError,
    FileNotFoundError,
    StorageError,
  ) as e:
    # What a user can fix; anything else is a bug and keeps its traceback.
    fail(str(e))
  except NonFiniteLossError as e:
    fail(str(e), code=3)
  except Preempted as e:
    print(str(e), file=sys.stderr)
    sys.exit(PREEMPTED_EXIT_CODE)


def _export_config(config: Config) -> Config:
  """--mode=export needs only --workdir: the run's config.json gives every
  setting, and the flags given on the command line (or in a flagfile)
  replace the recorded ones; a model- or data-defining flag that differs
  from the record is refused (runconfig.check_resume)."""
  from tf_ttur import runconfig
  from tf_ttur import rundir

  workdir = config.run.workdir
  # No log: train.export reads config.json again under the run's lock
  # and says its warnings there, once.
  recorded = runconfig.recorded_config(rundir.RunDir(workdir))
  if recorded is None:
    return config
  given = {
    name: getattr(FLAGS, name)
    for name in config_lib.PART_OF
    if FLAGS[name].present
  }
  known = {
    name: value
    for name, value in recorded.items()
    if name in config_lib.PART_OF
  }
  exported = (
    Config.of(**known).replace(**given).replace(mode="export", workdir=workdir)
  )
  runconfig.check_resume(exported, recorded)
  return exported


def _check_needs(config: Config) -> None:
  """--mode=prepare: fetch what can be fetched, list everything, say
  "ready"; training: refuse with the whole list of what is missing, before
  anything is written (tf_ttur.prepare)."""
  from fid import sources
  from tf_ttur import prepare

  fetch = config.run.mode == "prepare" and sources.download_reachable()
  try:
    pieces = prepare.check(
      config, fetch=fetch, build_offline=config.run.mode == "prepare"
    )
    warnings = [warning for piece in pieces for warning in piece.warnings]
    if config.run.mode == "train":
      for warning in warnings:
        logging.warning("%s", warning)
    prepare.refuse_if_missing(
      pieces, offline=config.run.mode == "prepare" and not fetch
    )
  except ConfigError as e:
    fail(str(e))
  if config.run.mode == "prepare":
    # The listing, then what to know about it, then the verdict.
    print(prepare.report(pieces))
    for warning in warnings:
      print(f"warning: {warning}")
    print(
      "ready: the same command without --mode=prepare trains it"
      + (f", with the {len(warnings)} warning(s) above" if warnings else "")
      + ("" if fetch else " (no internet here: nothing was fetched)")
    )


def run():
  logging.set_verbosity(logging.INFO)
  tf_ttur_flags.run_program(main, FLAGS, flag_modules=(tf_ttur_flags.__name__,))


if __name__ == "__main__":
  run()
