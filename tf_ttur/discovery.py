"""A run's checkpoints, found from the files on disk.

TensorFlow's `checkpoint` state file is one more file that can be lost or
cut; the checkpoints are found from their `.index` files, newest first,
and the first one that reads completely is used. Those that do not read
are moved aside into `checkpoints/damaged/` (never deleted) and the state
file is rewritten to list the readable ones, so the CheckpointManager
built afterwards continues from the one restored.
"""

from __future__ import annotations

import os
import re

from fid.files import free_name
from tf_ttur.errors import ConfigError
from tf_ttur.errors import first_line
from tf_ttur.rundir import DAMAGED

_CKPT = re.compile(r"^ckpt-(\d+)\.index$")


def checkpoints_on_disk(directory: str) -> list[tuple[int, str]]:
  """(step, prefix) of every `ckpt-N.index` in directory, newest first.

  Raises:
    ConfigError: `directory` is a file (a run's checkpoints are a folder).
  """
  try:
    names = os.listdir(directory)
  except FileNotFoundError:
    return []
  except NotADirectoryError:
    raise ConfigError(
      f"{directory} is a file; a run's checkpoints are a "
      "folder (move the file away)"
    ) from None
  found = [
    (int(m.group(1)), os.path.join(directory, m.group(0)[:-6]))
    for m in map(_CKPT.match, names)
    if m
  ]
  return sorted(found, reverse=True)


def unreadable(prefix: str) -> str | None:
  """Why checkpoint `prefix` cannot be read completely, or None if it can.

  Reads every tensor, so a truncated or missing data shard, a damaged
  index or a wrong checksum is found before anything is restored.
  """
  import tensorflow as tf

  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, OSError, ValueError, IndexError) as e:
    return first_line(e)
  return None


def find_checkpoint(
  directory: str, log=print, repair: bool = True
) -> str | None:
  """The newest checkpoint in directory that reads completely, or None if
  there is no checkpoint at all.

  Damaged ones newer than it are named in one log line each and, with
  repair (a training run holding the run's lock), moved into
  directory/damaged/, and the `checkpoint` state file is rewritten to list
  the readable ones, newest last.

  Raises:
    ConfigError: there are checkpoints, but none reads: the run directory
      is not started over silently.
  """
  import tensorflow as tf

  found = checkpoints_on_disk(directory)
  if not found:
    return None
  chosen, damaged = None, []
  for step, prefix in found:
    reason = unreadable(prefix)
    if reason is None:
      chosen = prefix
      break
    damaged.append((step, prefix, reason))
  if chosen is None:
    raise ConfigError(
      f"none of the {len(found)} checkpoints in {directory} reads "
      f"completely (newest: {os.path.basename(found[0][1])}: "
      f"{damaged[0][2]}); nothing was changed. Restore them from a copy, "
      "or pass --restart to move this run aside and start a new one"
    )
  for step, prefix, reason in damaged:
    where = (
      f"moved to {_move_aside(prefix, os.path.join(directory, DAMAGED))}"
      if repair
      else "left in place"
    )
    log(
      f"Skipped checkpoint {os.path.basename(prefix)} (step {step}): "
      f"{reason}; {where}"
    )
  if not repair:
    return chosen
  # The older ones (oldest first), then the one restored: the manager keeps
  # rotating them as it would have.
  older = [prefix for _, prefix in found[len(damaged) + 1 :]][::-1]
  state = tf.train.get_checkpoint_state(directory)
  if damaged or state is None or state.model_checkpoint_path != chosen:
    tf.compat.v1.train.update_checkpoint_state(
      directory, chosen, all_model_checkpoint_paths=[*older, chosen]
    )
  return chosen


def _move_aside(prefix: str, folder: str) -> str:
  """Moves the files of checkpoint `prefix` into folder, or, where a
  checkpoint of that name was set aside before, into a free subfolder
  (folder/ckpt-N, ckpt-N-2, ...): nothing set aside is replaced. Returns
  where they went."""
  directory, base = os.path.split(prefix)
  names = [
    name
    for name in os.listdir(directory)
    if name == f"{base}.index" or name.startswith(f"{base}.data-")
  ]
  if any(os.path.lexists(os.path.join(folder, name)) for name in names):
    folder = free_name(os.path.join(folder, base))
  os.makedirs(folder, exist_ok=True)
  for name in names:
    os.replace(os.path.join(directory, name), os.path.join(folder, name))
  return folder
