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

import os
import sys

from absl import app
from absl import flags
from absl import logging

from fid.stats import StatsError
from tf_ttur import flags as tf_ttur_flags
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError, DatasetError, NonFiniteLossError
from tf_ttur.errors import PREEMPTED_EXIT_CODE, Preempted, StorageError
from tf_ttur.errors import fail

FLAGS = tf_ttur_flags.define(flags.FLAGS)


def main(argv):
  if len(argv) > 1:
    fail(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    config = Config.from_flags(FLAGS).validate()
  except ConfigError as e:
    fail(str(e))
  if config.mode == "dry_run":
    print(config.to_json())
    return
  # The training stack is only needed past validation and dry_run.
  from tf_ttur import train as train_lib  # pylint: disable=g-import-not-at-top
  try:
    if config.mode == "export":
      _export_latest(config, train_lib)
    else:
      train_lib.train(config)
  except (ConfigError, DatasetError, StatsError, FileNotFoundError,
          StorageError) as e:
    # What a user can fix; anything else is a bug and keeps its traceback.
    fail(str(e))
  except NonFiniteLossError as e:
    fail(str(e), code=3)
  except Preempted as e:
    print(str(e), file=sys.stderr)
    sys.exit(PREEMPTED_EXIT_CODE)


def _export_latest(config: Config, train_lib) -> None:
  from tf_ttur import checkpointing  # pylint: disable=g-import-not-at-top
  from tf_ttur import rundir  # pylint: disable=g-import-not-at-top
  from tf_ttur import runtime  # pylint: disable=g-import-not-at-top
  from tf_ttur.networks import NETWORKS  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(os.path.join(config.workdir, "checkpoints")):
    raise ConfigError(f"no checkpoint in {config.workdir}/checkpoints to "
                      "export")
  with rundir.RunLock(config.workdir):
    vocabulary = None
    if NETWORKS[config.model].kind == "text":
      vocabulary = rundir.load_vocabulary(config.workdir).chars
    precision, _ = runtime.resolve_runtime(config)
    model = train_lib.build_model(
        config, precision, vocab_size=len(vocabulary) if vocabulary else None)
    # The same discovery as training (files on disk, newest readable).
    latest = rundir.find_checkpoint(
        os.path.join(config.workdir, "checkpoints"), log=logging.warning,
        repair=False)
    if latest is None:
      raise ConfigError(f"no checkpoint in {config.workdir}/checkpoints to "
                        "export")
    # The generator's weights are all an export needs: a checkpoint made
    # under any precision exports under any other.
    step = checkpointing.restore(model, latest, generator_only=True)
    logging.info("Exporting the generator of %s (step %d).", latest, step)
    # model.json names the precision that trained it, not this process's.
    recorded = rundir.recorded_config(config.workdir) or {}
    trained = recorded.get("precision", precision)
    train_lib.export(model, config.replace(precision=trained),
                     config.workdir, trained, vocabulary)


def run():
  logging.set_verbosity(logging.INFO)
  app.run(main, flags_parser=tf_ttur_flags.parse_or_exit(FLAGS))


if __name__ == "__main__":
  run()
