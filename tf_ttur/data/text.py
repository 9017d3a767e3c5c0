"""Character-level text for the language GAN, exactly as docs/paper.md A.4.

Lines are read in order until `max_lines`, split into characters (Unicode
code points, as the Python 3 original), truncated to 32 characters (not
filtered out) and right-padded with the backtick to exactly 32, then
shuffled. The vocabulary is the unknown token plus the most common
characters (capped at 2048 entries); unknown characters map to it. Sources:
TFDS `lm1b`, a local text file (`textfile:PATH`), and `english`, a small
corpus of public-domain English shipped with the package (its sentences cut
at punctuation so that short lines carry whole phrases).
"""

from __future__ import annotations

import collections
import json
import os
import re

import numpy as np

from tf_ttur.errors import DatasetError

SEQ_LEN = 32
PAD = "`"
UNK = "unk"
MAX_VOCAB = 2048
CORPUS = os.path.join(os.path.dirname(__file__), "corpus", "english.txt")


def pad_line(line: str, seq_len: int = SEQ_LEN) -> list[str]:
  """Characters of line, truncated to seq_len and padded with the backtick."""
  chars = list(line[:seq_len])
  return chars + [PAD] * (seq_len - len(chars))


def read_lines(
  name: str, max_lines: int, data_dir: str | None = None
) -> list[str]:
  """The first max_lines raw lines of a source, in order."""
  from fid import datasources

  try:
    source = datasources.parse(name)
  except datasources.SourceSpecError as e:
    raise DatasetError(str(e)) from None
  if source.kind.name == "tfds":
    name = source.name  # tfds:lm1b is lm1b.
  if name == "english":
    with open(CORPUS, encoding="utf-8") as f:
      text = f.read()
    phrases = [p.strip() for p in re.split(r"(?<=[,;:.?!])\s+", text)]
    return [p for p in phrases if p][:max_lines]
  if source.kind.name == "textfile":
    path = source.path
    if not os.path.isfile(path):
      raise FileNotFoundError(f"text file not found: {path}")
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
      for line in f:
        lines.append(line.rstrip("\n"))
        if len(lines) >= max_lines:
          break
    if not lines:
      raise DatasetError(f"{path} holds no lines")
    return lines
  if name == "lm1b":
    import tensorflow_datasets as tfds

    from fid import sources

    try:
      # Offline and not prepared: one line in seconds, not TFDS's retries.
      sources.tfds_builder("lm1b", data_dir)
    except sources.SourceError as e:
      raise DatasetError(str(e)) from None
    ds = tfds.load(
      "lm1b", split="train", data_dir=data_dir, shuffle_files=False
    )
    lines = []
    for example in tfds.as_numpy(ds):
      lines.append(example["text"].decode("utf-8", errors="replace"))
      if len(lines) >= max_lines:
        break
    return lines
  raise DatasetError(f"unknown text dataset {name!r}")


class Vocabulary:
  """Characters <-> ids; id 0 is the unknown token."""

  def __init__(self, chars: list[str]):
    if not chars or chars[0] != UNK:
      raise ValueError("the vocabulary must start with the unknown token")
    self.chars = list(chars)
    self.index = {c: i for i, c in enumerate(self.chars)}

  @classmethod
  def from_lines(
    cls, padded: list[list[str]], max_size: int = MAX_VOCAB
  ) -> Vocabulary:
    counts = collections.Counter(c for line in padded for c in line)
    # Most common first; ties by character, so the order is reproducible.
    ordered = sorted(counts, key=lambda c: (-counts[c], c))
    return cls([UNK] + ordered[: max_size - 1])

  def __len__(self) -> int:
    return len(self.chars)

  def encode(self, padded: list[str]) -> list[int]:
    return [self.index.get(c, 0) for c in padded]

  def decode(self, ids) -> list[str]:
    return [self.chars[int(i)] for i in ids]

  def to_json(self) -> str:
    return json.dumps(
      {"chars": self.chars, "pad": PAD, "unk": UNK}, ensure_ascii=False
    )

  @classmethod
  def from_json(cls, text: str) -> Vocabulary:
    return cls(json.loads(text)["chars"])


def load_corpus(
  name: str, max_lines: int, seed: int, data_dir: str | None = None
) -> tuple[np.ndarray, Vocabulary, list[list[str]]]:
  """(ids [N, 32] int32 shuffled, vocabulary, padded lines in file order)."""
  padded = [pad_line(line) for line in read_lines(name, max_lines, data_dir)]
  if len(padded) < 2:
    raise DatasetError(f"{name}: need at least 2 lines, got {len(padded)}")
  vocab = Vocabulary.from_lines(padded)
  ids = np.array([vocab.encode(line) for line in padded], np.int32)
  np.random.default_rng(seed).shuffle(ids)
  return ids, vocab, padded


def make_pipeline(
  ids: np.ndarray,
  vocab_size: int,
  batch_size: int,
  seed: int,
  n_critic: int = 1,
):
  """Shuffle, repeat, one-hot [B, n_critic, 32, V] float32, batch, prefetch."""
  import tensorflow as tf

  ds = tf.data.Dataset.from_tensor_slices(ids).cache()
  ds = ds.shuffle(
    min(len(ids), 100_000), seed=seed, reshuffle_each_iteration=True
  ).repeat()
  ds = ds.batch(n_critic, drop_remainder=True)
  ds = ds.batch(batch_size, drop_remainder=True)
  ds = ds.map(
    lambda x: tf.one_hot(x, vocab_size, dtype=tf.float32),
    num_parallel_calls=tf.data.AUTOTUNE,
  )
  return ds.prefetch(tf.data.AUTOTUNE)
