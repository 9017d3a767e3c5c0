"""The one-line form of an error, for fid's messages (tf_ttur.errors has
the same for the trainer, which must not import fid's TensorFlow at
start-up)."""

import re

# A word (a path, a flag's value) longer than this is cut in an error line.
LONGEST_WORD = 300


def clipped(text: str, limit: int = LONGEST_WORD) -> str:
  """`text` with each run of over `limit` non-space characters cut to its
  start and end and its length between: a 10 MB flag value stays one
  readable error line."""

  def cut(match):
    word = match.group(0)
    return f"{word[: limit // 2]}...[{len(word):,} characters]...{word[-40:]}"

  return re.sub(rf"\S{{{limit + 1},}}", cut, text)


def first_line(error: BaseException) -> str:
  """An exception's message cut to its first line (TensorFlow's OpError
  message without its traceback-like tail), or its type's name."""
  text = (getattr(error, "message", None) or str(error)).strip()
  return text.splitlines()[0] if text else type(error).__name__


class FIDWarning(UserWarning):
  """A warning of the fid package: the numbers it goes with are not
  comparable (a graph other than the 2015 one, too few images)."""


class ForeignGraphWarning(FIDWarning):
  """The Inception graph is not the 2015-12-05 one (its MD5)."""


class SampleSizeWarning(FIDWarning, RuntimeWarning):
  """Too few images for a full-rank covariance or an unbiased-enough FID,
  or a singular covariance product."""
