"""A run as a value: its directory, its config, the config it recorded, its
data and this process's role, opened once (by the chief under the run's
lock), then handed to training, export, the callbacks and the records.

Training and export are two ways of opening the same run:
`open_for_training` locks the directory (moving an old run aside with
--restart), checks the flags against config.json, removes what a killed
run left and finds the checkpoint to resume from; `open_for_export` does
the same without --restart and without repairing damaged checkpoints, and
restores the data's recorded files (a language run's vocabulary).
"""

from __future__ import annotations

import contextlib
import dataclasses

from absl import logging

from tf_ttur import discovery
from tf_ttur import runconfig
from tf_ttur import rundata
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Run:
  """One run, opened.

  home: the run directory (--workdir); out: where this process writes
  (home for the chief, its own scratch folder for another multi-worker
  worker, removed at its end); recorded: config.json as {flag: value}, or
  None for a new run; latest: the checkpoint to resume from, or None.
  """

  config: Config
  home: rundir.RunDir
  out: rundir.RunDir
  recorded: dict | None
  data: rundata.ImageData | rundata.TextData
  chief: bool = True
  latest: str | None = None


def open_for_training(
  config: Config, held: contextlib.ExitStack, role: str | None = None
) -> Run:
  """The run of `config`, for training. role: None for the chief (or the
  only process), else this worker's name (it reads the chief's files and
  writes into its own scratch folder). The data first: a missing dataset
  fails before anything is written."""
  data = rundata.load(config)
  home = rundir.RunDir(config.run.workdir)
  if role is not None:
    import tensorflow as tf

    return Run(
      config,
      home,
      home.scratch(role),
      runconfig.recorded_config(home),
      data,
      chief=False,
      latest=tf.train.latest_checkpoint(home.checkpoints),
    )
  if config.run.restart:
    with rundir.RunLock(home):  # Not while another process runs there.
      moved = rundir.move_aside(home)
    if moved:
      logging.warning("--restart: moved the previous run to %s.", moved)
  recorded = _lock(home, held)
  for change in runconfig.check_resume(config, recorded):
    logging.info("Resuming with a changed flag: %s.", change)
  # From the files on disk; damaged newer ones are moved aside, named.
  latest = discovery.find_checkpoint(home.checkpoints, log=logging.warning)
  if latest is not None and recorded is None:
    logging.warning(
      "%s is missing beside the checkpoints: the resume cannot check the "
      "model and data flags against the run's; it is written again from "
      "these flags.",
      home.config,
    )
  return Run(config, home, home, recorded, data, latest=latest)


def open_for_export(config: Config, held: contextlib.ExitStack) -> Run:
  """The run of `config` for --mode=export: its newest readable
  checkpoint (damaged newer ones are named and left in place) and its
  recorded data files. ConfigError where there is no checkpoint."""
  home = rundir.RunDir(config.run.workdir)
  missing = ConfigError(f"no checkpoint in {home.checkpoints} to export")
  if not discovery.checkpoints_on_disk(home.checkpoints):
    raise missing
  recorded = _lock(home, held)
  data = rundata.restore(config)
  # The same discovery as training (files on disk, newest readable).
  latest = discovery.find_checkpoint(
    home.checkpoints, log=logging.warning, repair=False
  )
  if latest is None:
    raise missing
  return Run(config, home, home, recorded, data, latest=latest)


def _lock(home: rundir.RunDir, held: contextlib.ExitStack) -> dict | None:
  """Takes the run directory for this process's life (held), reads
  config.json under the lock and removes what a killed run left (nothing
  else writes there while the lock is held)."""
  held.enter_context(rundir.RunLock(home))
  recorded = runconfig.recorded_config(home, log=logging.warning)
  for path in rundir.remove_leftovers(home):
    logging.info("Removed %s (left by an interrupted run).", path)
  return recorded
