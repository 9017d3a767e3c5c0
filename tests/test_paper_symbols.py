"""docs/paper.md names the project's code by symbol (module.name), never by
line number: every symbol it names exists, and no reference into the
project's files carries a line number."""

import importlib
import os
import re

import pytest

from tests.helpers import REPO

with open(os.path.join(REPO, "docs", "paper.md"), encoding="utf-8") as _f:
  PAPER = _f.read()

# `tf_ttur.x.y`, `fid.x.y`, optionally indexed (`FAMILIES["dcgan"]`); file
# names of the original (`fid.py`) are not symbols.
SYMBOL = re.compile(r'`((?:tf_ttur|fid)(?:\.\w+)+)(?:\["(\w+)"\])?`')
SYMBOLS = sorted(
  s for s in set(SYMBOL.findall(PAPER)) if not s[0].endswith(".py")
)


def _resolve(dotted: str):
  """The object a dotted name names: the longest importable module, then
  attributes."""
  parts = dotted.split(".")
  for cut in range(len(parts), 0, -1):
    try:
      target = importlib.import_module(".".join(parts[:cut]))
    except ModuleNotFoundError:
      continue
    for name in parts[cut:]:
      target = getattr(target, name)
    return target
  raise ModuleNotFoundError(dotted)


def test_paper_md_names_symbols():
  assert len(SYMBOLS) >= 30  # The fidelity tables' project column.


@pytest.mark.parametrize(
  "symbol, key", SYMBOLS, ids=[s + (f"[{k}]" if k else "") for s, k in SYMBOLS]
)
def test_every_symbol_paper_md_names_exists(symbol, key):
  target = _resolve(symbol)
  if key:
    assert key in target


def test_no_line_numbers_into_the_project():
  assert not re.findall(r"`(?:tf_ttur|fid)/[\w/]+\.py:\d+", PAPER)
