"""The files that say what a run is: config.json (the run's resolved
config, read strictly before any checkpoint is opened; `check_resume`:
the flags that define the model or its data must equal the recorded
ones, compared before anything is written) and the language model's
vocab.json."""

from __future__ import annotations

import json
import os

from fid.errors import clipped
from fid.files import atomic_write
from fid.files import read_json
from tf_ttur.config import PARTS
from tf_ttur.config import Config
from tf_ttur.config import flatten
from tf_ttur.discovery import checkpoints_on_disk
from tf_ttur.errors import ConfigError
from tf_ttur.rundir import CONFIG_FILE
from tf_ttur.rundir import DEFINING_FLAGS
from tf_ttur.rundir import RunDir


def _read_run_file(path: str, what: str) -> dict | None:
  """A JSON object the run directory keeps, or None when there is none;
  ConfigError naming the file when it is damaged or not `what`."""
  try:
    recorded = read_json(path)
  except ValueError as e:
    raise ConfigError(
      f"{path} cannot be read ({e}); the run directory is "
      "damaged (--restart moves it aside)"
    ) from None
  if recorded is not None and not isinstance(recorded, dict):
    raise ConfigError(f"{path} is not {what} (--restart moves the run aside)")
  return recorded


_TYPES = {
  "int": (int,),
  "float": (int, float),
  "bool": (bool,),
  "str": (str,),
  "str | None": (str, type(None)),
}
_TYPE_NAMES = {
  "int": "an integer",
  "float": "a number",
  "bool": "true or false",
  "str": "a string",
  "str | None": "a string or null",
}


def recorded_config(run: RunDir, log=None) -> dict | None:
  """The run's config.json as {flag: value} (nested by part, or flat as
  runs before the nested config wrote it), or None for a new run
  directory (no config.json).

  Read strictly: a file that holds `null` or lacks one of the config's
  parts, or a value of the wrong type, is a ConfigError naming the file,
  the field and what it should be, before any checkpoint is opened. Keys
  this version does not know are named in one warning through `log`
  (they are not written again).
  """
  path = run.config
  if not os.path.exists(path):
    return None
  recorded = _read_run_file(path, "a config")
  if recorded is None:
    raise ConfigError(
      f"{path} holds null, not the run's config; the run "
      "directory is damaged (--restart moves it aside)"
    )
  nested = _check_parts(path, recorded)
  flat = flatten(recorded)
  fields = {name: field for name, _, field in Config().flags()}
  absent = [name for name in fields if nested and name not in flat]
  lost = [name for name in absent if name in DEFINING_FLAGS]
  if lost:
    raise ConfigError(
      f"{path} lacks {', '.join(lost)}, which define the "
      "run's model or data; the file was edited or damaged "
      "(fix it, or --restart moves the run aside)"
    )
  if absent and log is not None:
    log(
      f"{path} does not record {', '.join(absent)}: taken from the "
      "command line or their defaults"
    )
  _check_types(path, flat, fields)
  unknown = sorted(set(flat) - set(fields))
  if unknown and log is not None:
    log(
      f"{path} has keys this version does not know, which are not "
      f"written again: {', '.join(unknown)}"
    )
  return flat


def _check_parts(path: str, recorded: dict) -> list[str]:
  """The parts config.json is nested by ([]: a flat file of an older
  version); ConfigError when it lacks some, or one is not an object."""
  nested = [name for name in PARTS if name in recorded]
  if nested and len(nested) < len(PARTS):
    missing = [name for name in PARTS if name not in recorded]
    raise ConfigError(
      f"{path} lacks the part(s) {', '.join(missing)} of "
      "the run's config; the run directory is damaged "
      "(--restart moves it aside)"
    )
  for part in nested:
    if not isinstance(recorded[part], dict):
      raise ConfigError(
        f"{path}: the part {part} is "
        f"{clipped(json.dumps(recorded[part]))}, not an "
        "object of its flags; the file was edited or "
        "damaged (fix it, or --restart moves the run aside)"
      )
  return nested


def _check_types(path: str, flat: dict, fields: dict) -> None:
  """ConfigError naming the first recorded flag of the wrong type."""
  for name, value in flat.items():
    if name not in fields:
      continue
    kind = fields[name].type
    if not isinstance(value, _TYPES[kind]) or (
      kind in ("int", "float") and isinstance(value, bool)
    ):
      raise ConfigError(
        f"{path}: {name} is {json.dumps(value)}, not "
        f"{_TYPE_NAMES[kind]}; the file was edited or "
        "damaged (fix it, or --restart moves the run aside)"
      )


def check_resume(config: Config, recorded: dict | None) -> list[str]:
  """Raises ConfigError listing every defining flag that differs from the
  run's recorded config; returns the other changed flags (to be logged)."""
  if recorded is None:
    return []
  current = config.flat()
  defining = [
    f"--{name}: {recorded[name]!r} in {CONFIG_FILE}, now {current[name]!r}"
    for name in DEFINING_FLAGS
    if name in recorded and recorded[name] != current[name]
  ]
  if defining:
    raise ConfigError(
      f"{config.run.workdir} holds a run with other model or data settings ("
      + "; ".join(defining)
      + "). Nothing was changed. Use another "
      "--workdir, drop these flags to resume, or pass --restart to move "
      "the old run aside"
    )
  ignored = {"precision", "mode", "workdir", "restart"}
  return [
    f"--{name}: {recorded[name]!r} -> {current[name]!r}"
    for name in sorted(current)
    if name in recorded
    and name not in ignored
    and recorded[name] != current[name]
  ]


def write_config(config: Config, run: RunDir) -> None:
  """config.json: the run's resolved config."""
  atomic_write(run.config, config.to_json() + "\n")


def load_vocabulary(run: RunDir):
  """The run's vocabulary (tf_ttur.data.text.Vocabulary), from vocab.json;
  ConfigError when it is missing or damaged (read as config.json is)."""
  from tf_ttur.data import text

  path = run.vocabulary
  recorded = _read_run_file(path, "a vocabulary")
  if recorded is None:
    raise ConfigError(
      f"{path}: no such file; the language model's run "
      "directory keeps its vocabulary there"
    )
  if not isinstance(recorded.get("chars"), list):
    raise ConfigError(f"{path} is not a vocabulary (no list of chars)")
  try:
    return text.Vocabulary(recorded["chars"])
  except ValueError as e:
    raise ConfigError(f"{path} is not a vocabulary ({e})") from None


def write_vocabulary(vocab, run: RunDir) -> None:
  """Writes vocab.json once; a run directory of another corpus is an error."""
  path = run.vocabulary
  if os.path.exists(path):
    if load_vocabulary(run).chars != vocab.chars:
      raise ConfigError(
        f"{path} differs from the vocabulary of this corpus: "
        "the run directory belongs to another dataset"
      )
    return
  if checkpoints_on_disk(run.checkpoints):
    from absl import logging

    logging.warning(
      "%s is missing beside the checkpoints; written again "
      "from the corpus (the checkpoints' vocabulary cannot be "
      "checked).",
      path,
    )
  atomic_write(path, vocab.to_json())
