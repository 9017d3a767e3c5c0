"""The errors a user can fix: main prints their message and exits 2."""


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


class Preempted(Exception):
  """SIGTERM or SIGINT stopped training at a step boundary; the message
  names the step and its checkpoint (exit code PREEMPTED_EXIT_CODE)."""
