"""TensorFlow's start-up lines and its libraries' INFO/WARNING lines,
hidden by default in every program.

Importing TensorFlow prints about eight lines of its C++ log (oneDNN, CPU
features, CUDA stubs) and, on a machine without a GPU, an error-level
"failed call to cuInit" at its first op. Unless the user set
TF_CPP_MIN_LOG_LEVEL (theirs wins) or passed --show_tf_logs, `setup()`
sets the level to 3 and silences the process's stderr (file descriptor 2)
while `tensorflow` itself is imported: the lines that TensorFlow's logging
prints before it reads the level come from there. Python's own errors
during that import are still raised, after stderr is back.

The same switch hides the INFO and WARNING records that TensorFlow, TFDS,
Keras and TensorBoard log through Python's logging ("Load dataset info",
"Sharding callback duration", "Assets written to", "Function `serve`
contains input name(s)"): a filter on the `absl` and `tensorflow` loggers
drops a record below ERROR whose source file lies inside one of those
packages (unless --show_tf_logs or TF_CPP_MIN_LOG_LEVEL=0). The programs'
own lines, and every error, still pass.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys

SHOW_FLAG = "--show_tf_logs"
_state = {"quiet": None}


def _shown_by_argv(argv: list[str]) -> bool:
  for arg in argv[1:]:
    if arg == SHOW_FLAG:
      return True
    if arg.startswith(SHOW_FLAG + "="):
      return arg.split("=", 1)[1].lower() in ("1", "true", "yes")
  return False


@contextlib.contextmanager
def silenced_stderr():
  """File descriptor 2 to /dev/null inside (what C++ code writes too)."""
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


class _QuietImport(importlib.abc.MetaPathFinder):
  """Finds `tensorflow` as usual, and runs its import with stderr
  silenced. It stays in place until TensorFlow is actually imported: a
  library that only asks whether TensorFlow is installed
  (importlib.util.find_spec, as TFDS's lazy imports do) does not use it
  up."""

  def find_spec(self, name, path=None, target=None):
    if name != "tensorflow":
      return None
    index = sys.meta_path.index(self)
    sys.meta_path.remove(self)
    try:
      spec = importlib.util.find_spec(name)
    finally:
      sys.meta_path.insert(index, self)
    if spec is None or spec.loader is None:
      return spec
    run = spec.loader.exec_module
    finder = self

    def exec_module(module):
      if finder in sys.meta_path:
        sys.meta_path.remove(finder)
      with silenced_stderr():
        run(module)

    spec.loader.exec_module = exec_module
    return spec


# The packages whose INFO/WARNING records are internals to a user.
LIBRARIES = (
  "tensorflow",
  "tensorflow_datasets",
  "keras",
  "tf_keras",
  "tensorboard",
  "etils",
)


def _package_dirs(names=LIBRARIES) -> tuple[str, ...]:
  """The installed folders of these packages (found, not imported)."""
  dirs = []
  for name in names:
    try:
      spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
      continue
    for location in (spec and spec.submodule_search_locations) or ():
      dirs.append(os.path.join(os.path.realpath(location), ""))
  return tuple(dirs)


class LibraryFilter(logging.Filter):
  """Drops records below ERROR logged from inside the libraries' folders."""

  def __init__(self, dirs: tuple[str, ...] | None = None):
    super().__init__()
    self.dirs = _package_dirs() if dirs is None else dirs

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno >= logging.ERROR:
      return True
    return not os.path.realpath(record.pathname).startswith(self.dirs)


def libraries_hidden() -> bool:
  """Whether the libraries' INFO/WARNING lines are hidden in this process
  (then their progress bars and chatter should be too)."""
  return any(
    isinstance(f, LibraryFilter) for f in logging.getLogger("absl").filters
  )


def _hide_library_logs() -> None:
  # absl's logger must be absl's own class: import it before naming it.
  from absl import logging as absl_logging  # noqa: F401

  if libraries_hidden():
    return
  library = LibraryFilter()
  for name in ("absl", "tensorflow"):
    logging.getLogger(name).addFilter(library)


def setup(argv: list[str] | None = None) -> bool:
  """Decides once per process whether TensorFlow's start-up lines are
  hidden (True) and arranges it; returns the decision. The libraries'
  Python log lines are hidden unless --show_tf_logs is given or the user
  set TF_CPP_MIN_LOG_LEVEL=0 (a level you set to quiet TensorFlow keeps
  them hidden too)."""
  if _state["quiet"] is None:
    argv = sys.argv if argv is None else argv
    shown = _shown_by_argv(argv)
    quiet = "TF_CPP_MIN_LOG_LEVEL" not in os.environ and not shown
    if not shown and os.environ.get("TF_CPP_MIN_LOG_LEVEL", "") != "0":
      _hide_library_logs()  # Before the finder below: it finds, once.
    if quiet:
      os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
      if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietImport())
    _state["quiet"] = quiet
  return _state["quiet"]
