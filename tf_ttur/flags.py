"""How the programs of tf_ttur read their command lines.

The flags of `python -m tf_ttur.main` and their defaults are written once,
as the fields of tf_ttur.config's parts (config.define_flags generates
them); flagfiles under configs/ hold only what differs. Library code never
reads FLAGS: main.py turns them into one frozen `config.Config`. Here:
flagfiles that include themselves, and the one way a program starts and
fails on a usage error (run_program).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from absl import app
from absl import flags as absl_flags

from tf_ttur.errors import ConfigError
from tf_ttur.errors import fail


@dataclasses.dataclass(frozen=True)
class Flag:
  """One flag of python -m tf_ttur.main: its default, help and rule.

  rule: "positive" (an integer >= 1), "off_or_positive" (0: off),
    "positive_finite" (a number > 0), "unit" (in [0, 1)), or None.
  multiple_of: the flag whose multiple the value must be ("log_every").
  choices: the values allowed, or None.
  """

  default: Any
  help: str
  choices: tuple[str, ...] | None = None
  rule: str | None = None
  multiple_of: str | None = None


def field(flag: Flag) -> Any:
  """A dataclass field holding its flag (tf_ttur.config's parts)."""
  return dataclasses.field(default=flag.default, metadata={"flag": flag})


def flag(
  default: Any,
  help_text: str,
  choices: tuple[str, ...] | None = None,
  rule: str | None = None,
  multiple_of: str | None = None,
) -> Any:
  """A field of a config part and its flag: default, help and rule."""
  return field(Flag(default, help_text, choices, rule, multiple_of))


def count(default: int, help_text: str) -> Any:
  """An integer flag of at least 1."""
  return flag(default, help_text, rule="positive")


def off(default: int, help_text: str) -> Any:
  """An integer flag that is 0 (off) or positive."""
  return flag(default, help_text, rule="off_or_positive")


def rate(default: float, help_text: str) -> Any:
  """A positive, finite number."""
  return flag(default, help_text, rule="positive_finite")


def every(default: int, help_text: str) -> Any:
  """A number of steps, a multiple of --log_every."""
  return flag(default, help_text, rule="positive", multiple_of="log_every")


_DEFINE = {
  "bool": "DEFINE_bool",
  "int": "DEFINE_integer",
  "float": "DEFINE_float",
  "str": "DEFINE_string",
  "str | None": "DEFINE_string",
}


def define_fields(cls, flag_values: absl_flags.FlagValues) -> None:
  """absl's DEFINE_* of each field of the dataclass cls (its Flag)."""
  for item in dataclasses.fields(cls):
    spec = item.metadata["flag"]
    if spec.choices:
      absl_flags.DEFINE_enum(
        item.name,
        item.default,
        list(spec.choices),
        spec.help,
        flag_values=flag_values,
      )
    else:
      getattr(absl_flags, _DEFINE[item.type])(
        item.name, item.default, spec.help, flag_values=flag_values
      )


_RULES = {
  "positive": (lambda v: v >= 1, "must be a positive integer"),
  "off_or_positive": (lambda v: v >= 0, "must be 0 (off) or positive"),
  "positive_finite": (
    lambda v: 0 < v < math.inf,  # Also rejects NaN.
    "must be positive and finite",
  ),
  "unit": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
}


def check_field(
  name: str, value: Any, kind: str, spec: Flag, values: dict[str, Any]
) -> None:
  """One flag's type, choices, rule and multiple (ConfigError naming it)."""
  if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
    raise ConfigError(f"--{name} must be an integer, got {value!r}")
  if kind == "float" and (
    isinstance(value, bool) or not isinstance(value, (int, float))
  ):
    raise ConfigError(f"--{name} must be a number, got {value!r}")
  if spec.choices and value not in spec.choices:
    raise ConfigError(f"--{name}={value!r}: use {', '.join(spec.choices)}")
  if spec.rule:
    holds, says = _RULES[spec.rule]
    if not holds(value):
      raise ConfigError(f"--{name} {says}, got {value}")
  if spec.multiple_of and value % values[spec.multiple_of]:
    raise ConfigError(
      f"--{name}={value} must be a multiple of "
      f"--{spec.multiple_of}={values[spec.multiple_of]}"
    )


def flagfile_cycle(argv: list[str]) -> str | None:
  """The message for a --flagfile that includes itself, directly or through
  others (absl only warns and goes on), or None."""

  def visit(path: str, chain: list[str]) -> str | None:
    real = os.path.realpath(path)
    if real in chain:
      names = " -> ".join([*chain[chain.index(real) :], real])
      return f"--flagfile={path} includes itself ({names})"
    try:
      with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f]
    except OSError:
      return None  # absl names a missing flagfile.
    for line in lines:
      if line.startswith("--flagfile="):
        found = visit(line.split("=", 1)[1], [*chain, real])
        if found:
          return found
    return None

  for arg in argv[1:]:
    if arg.startswith("--flagfile="):
      found = visit(arg.split("=", 1)[1], [])
      if found:
        return found
  return None


def parse_or_exit(flag_values: absl_flags.FlagValues):
  """A flags_parser for absl's app.run with the project's convention for
  usage errors: one `error:` line on stderr and exit code 2 (absl itself
  prints "FATAL Flags parsing error" and exits 1)."""

  def parse(argv: list[str]) -> list[str]:
    cycle = flagfile_cycle(argv)
    if cycle:
      fail(cycle)
    try:
      return flag_values(argv)
    except absl_flags.Error as e:
      # absl prefixes some messages with its own "ERROR:: ".
      message = str(e).removeprefix("ERROR::").strip()
      fail(f"{message} (--helpfull lists the flags)")

  return parse


# Every program's: read by fid.quiet from the command line before TensorFlow
# loads; defined here so that absl accepts it.
absl_flags.DEFINE_bool(
  "show_tf_logs",
  False,
  "Show TensorFlow's C++ log lines at start-up "
  "and the INFO/WARNING lines of TensorFlow, TFDS and Keras (hidden by "
  "default; a TF_CPP_MIN_LOG_LEVEL you set is kept).",
)


HELP_ARGS = ("--help", "-h", "-?", "--helpshort")


def program_help(
  flag_values: absl_flags.FlagValues, doc: str, modules: tuple[str, ...] = ()
) -> str:
  """What --help prints: the program's docstring, then its own flags (those
  its main module defines, and those of `modules`), then where the rest
  are."""
  parts = [(doc or "").strip(), "", "Flags:"]
  own = flag_values.main_module_help().strip()
  for module in modules:
    own += "\n" + flag_values.module_help(module).strip()
  parts += [
    own,
    "",
    "--helpfull lists every flag (absl's and TensorFlow's too); "
    "--version prints the version.",
  ]
  return "\n".join(parts)


def run_program(
  main,
  flag_values: absl_flags.FlagValues = absl_flags.FLAGS,
  flag_modules: tuple[str, ...] = (),
) -> None:
  """How every program of tf_ttur starts (main, sample, quality and the
  experiments): --help (its own flags, exit 0) and --version answered
  before anything else; then absl's app.run with parse_or_exit, and
  positional arguments refused, so that a usage error is always one
  `error:` line and exit code 2 (tf_ttur.errors.fail). flag_modules: the
  modules that define the program's flags when its main module does not
  (tf_ttur.main's come from tf_ttur.config through this module)."""
  import sys

  args = sys.argv[1:]
  if any(arg in HELP_ARGS for arg in args):
    doc = getattr(sys.modules.get("__main__"), "__doc__", "")
    print(program_help(flag_values, doc, flag_modules))
    sys.exit(0)
  if "--version" in args:
    from fid.version import __version__

    print(f"tf-ttur {__version__}")
    sys.exit(0)

  def checked(argv: list[str]):
    if len(argv) > 1:
      fail(f"unexpected arguments: {' '.join(argv[1:])}")
    return main(argv)

  app.run(checked, flags_parser=parse_or_exit(flag_values))
