"""The errors a user can fix: main prints their message and exits 2."""

import sys


class DatasetError(ValueError):
  """A dataset that cannot be loaded; the message says what to do."""


class ConfigError(ValueError):
  """A configuration value that cannot run; the message names the flag."""


class StorageError(OSError):
  """A file of the run could not be written (disk full, read-only, gone);
  the message names it. Earlier checkpoints are intact."""


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or infinite; the message names the step."""


# EX_TEMPFAIL of sysexits.h: a temporary failure, the command can be rerun.
PREEMPTED_EXIT_CODE = 75


def fail(message: str, code: int = 2) -> None:
  """The command lines' way out for a user's error: one `error:` line on
  stderr and exit code 2 (or `code`)."""
  from fid.errors import clipped

  print(f"error: {clipped(message)}", file=sys.stderr)
  sys.exit(code)


def first_line(error: BaseException) -> str:
  """An exception's message cut to its first line (TensorFlow's OpError
  message without its traceback-like tail), or its type's name."""
  text = (getattr(error, "message", None) or str(error)).strip()
  return text.splitlines()[0] if text else type(error).__name__


class Preempted(Exception):
  """SIGTERM or SIGINT stopped training at a step boundary; the message
  names the step and its checkpoint (exit code PREEMPTED_EXIT_CODE)."""
