"""How the programs of tf_ttur read their command lines.

The flags of `python -m tf_ttur.main` and their defaults are written once,
as the fields of tf_ttur.config's parts (config.define_flags generates
them); flagfiles under configs/ hold only what differs. Library code never
reads FLAGS: main.py turns them into one frozen `config.Config`. Here:
flagfiles that include themselves, and the one way a program starts and
fails on a usage error (run_program).
"""

import os

from absl import app
from absl import flags as absl_flags

from tf_ttur.errors import fail


def flagfile_cycle(argv: list[str]) -> str | None:
  """The message for a --flagfile that includes itself, directly or through
  others (absl only warns and goes on), or None."""

  def visit(path: str, chain: list[str]) -> str | None:
    real = os.path.realpath(path)
    if real in chain:
      names = " -> ".join([*chain[chain.index(real):], real])
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


def run_program(main, flag_values: absl_flags.FlagValues = absl_flags.FLAGS
                ) -> None:
  """How every program of tf_ttur starts (main, sample, quality and the
  experiments): absl's app.run with parse_or_exit, and positional
  arguments refused, so that a usage error is always one `error:` line and
  exit code 2 (tf_ttur.errors.fail)."""

  def checked(argv: list[str]):
    if len(argv) > 1:
      fail(f"unexpected arguments: {' '.join(argv[1:])}")
    return main(argv)

  app.run(checked, flags_parser=parse_or_exit(flag_values))
