"""The paper's language metric: Jensen-Shannon divergence of character
n-gram models, exactly as `language_helpers.py` (docs/paper.md A.4).

Every contiguous n-gram inside each padded 32-character line counts, padding
and unknown included (32 - n + 1 per line); p(g) = count / total. With
m = (p + q) / 2 computed in log space, KL(p || m) sums over the n-grams of
the real model and KL(q || m) over those of the generated one, and
JSD = (KL(p || m) + KL(q || m)) / 2 / ln 2, in bits, in [0, 1]. The values
depend on the number of generated lines (640 in the paper).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
import hashlib
import math
import os
import pickle

from fid.files import atomic_write


def ngram_counts(lines: Iterable[Sequence[str]], n: int) -> collections.Counter:
  counts = collections.Counter()
  for line in lines:
    line = tuple(line)
    for i in range(len(line) - n + 1):
      counts[line[i : i + n]] += 1
  return counts


def log_probabilities(counts: collections.Counter) -> dict:
  total = sum(counts.values())
  if total == 0:
    raise ValueError("no n-grams: lines shorter than n?")
  log_total = math.log(total)
  return {g: math.log(c) - log_total for g, c in counts.items()}


def _kl_to_mixture(log_p: dict, log_q: dict) -> float:
  """sum over p's n-grams of p (log p - log m), m = (p + q) / 2."""
  kl = 0.0
  for g, lp in log_p.items():
    lq = log_q.get(g)
    if lq is None:
      log_m = lp - math.log(2.0)
    else:
      hi, lo = max(lp, lq), min(lp, lq)
      log_m = hi + math.log1p(math.exp(lo - hi)) - math.log(2.0)
    kl += math.exp(lp) * (lp - log_m)
  return kl


def js_divergence(log_p: dict, log_q: dict) -> float:
  """The normalised JSD of two n-gram models, in bits."""
  return (
    0.5
    * (_kl_to_mixture(log_p, log_q) + _kl_to_mixture(log_q, log_p))
    / math.log(2.0)
  )


class ReferenceModels:
  """The real corpus's n-gram models for n = 1..max_n, computed once."""

  def __init__(self, lines: Sequence[Sequence[str]], max_n: int = 6):
    self.models = {
      n: log_probabilities(ngram_counts(lines, n)) for n in range(1, max_n + 1)
    }

  def jsd(self, generated: Sequence[Sequence[str]]) -> dict[int, float]:
    return {
      n: js_divergence(model, log_probabilities(ngram_counts(generated, n)))
      for n, model in self.models.items()
    }


def default_cache_dir() -> str:
  return os.environ.get("TF_TTUR_CACHE_DIR") or os.path.join(
    os.path.expanduser("~"), ".cache", "tf_ttur"
  )


def cached_reference(
  lines: Sequence[Sequence[str]], max_n: int = 6, cache_dir: str | None = None
) -> ReferenceModels:
  """ReferenceModels of lines, computed once per corpus and kept on disk.

  The key is a SHA-256 of the padded lines in order, so the same corpus
  (same source, max_lines and vocabulary mapping) reuses the file and any
  other corpus gets its own; 10M lines take minutes to count in Python.
  """
  digest = hashlib.sha256()
  for line in lines:
    digest.update("\x00".join(line).encode("utf-8"))
    digest.update(b"\x01")
  cache_dir = cache_dir or default_cache_dir()
  path = os.path.join(
    cache_dir, f"jsd_reference_{max_n}_{digest.hexdigest()[:32]}.pkl"
  )
  if os.path.exists(path):
    try:
      with open(path, "rb") as f:
        return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError):
      pass  # A damaged cache file is recomputed and replaced.
  reference = ReferenceModels(lines, max_n)
  os.makedirs(cache_dir, exist_ok=True)
  atomic_write(path, pickle.dumps(reference))
  return reference
