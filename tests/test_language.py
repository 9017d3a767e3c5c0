"""The language GAN: JSD, vocabulary, the TFDS path, training and export."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tests.helpers import run_module
from tf_ttur import jsd
from tf_ttur import runconfig
from tf_ttur import rundir
from tf_ttur import train as train_lib
from tf_ttur.config import Config
from tf_ttur.data import text
from tf_ttur.errors import ConfigError
from tf_ttur.networks import language


def _model(lines, n):
  return jsd.log_probabilities(jsd.ngram_counts(lines, n))


def test_jsd_identical_models_is_zero():
  lines = [text.pad_line("the cat sat on the mat")] * 3
  for n in range(1, 7):
    assert jsd.js_divergence(_model(lines, n), _model(lines, n)) == 0.0


def test_jsd_disjoint_models_is_one():
  p = _model([list("aaaa")], 2)
  q = _model([list("bbbb")], 2)
  assert jsd.js_divergence(p, q) == pytest.approx(1.0, abs=1e-15)


def test_jsd_worked_example():
  # Unigrams: p = (a 2/3, b 1/3), q = (a 1/3, b 2/3), m = (1/2, 1/2):
  # KL(p||m) = KL(q||m) = 2/3 log2(4/3) + 1/3 log2(2/3).
  p = _model([list("aab")], 1)
  q = _model([list("abb")], 1)
  expected = 2 / 3 * math.log2(4 / 3) + 1 / 3 * math.log2(2 / 3)
  assert jsd.js_divergence(p, q) == pytest.approx(expected, rel=1e-13)
  assert jsd.js_divergence(p, q) == pytest.approx(
    0.08170416594551044, rel=1e-12
  )


def test_ngrams_count_padding_and_every_position():
  line = text.pad_line("ab")
  counts = jsd.ngram_counts([line], 4)
  assert sum(counts.values()) == 32 - 4 + 1
  assert counts[("`", "`", "`", "`")] == 32 - 2 - 4 + 1


def test_vocabulary_round_trip_and_unknown():
  padded = [text.pad_line(s) for s in ["hello world", "held"]]
  vocab = text.Vocabulary.from_lines(padded)
  assert vocab.chars[0] == text.UNK and vocab.chars[1] == "`"
  for line in padded:
    assert vocab.decode(vocab.encode(line)) == line
    assert len(line) == 32
  assert vocab.encode(list("hz")) == [vocab.index["h"], 0]
  assert text.Vocabulary.from_json(vocab.to_json()).chars == vocab.chars


def test_lines_are_truncated_not_dropped():
  long = "x" * 50
  assert "".join(text.pad_line(long)) == "x" * 32


def test_lm1b_through_tfds_mock_data(monkeypatch):
  from fid import sources

  # mock_data stands in for the download, the probe for the network.
  monkeypatch.setattr(sources, "download_reachable", lambda timeout=3.0: True)
  with tfds.testing.mock_data(num_examples=7):
    lines = text.read_lines("lm1b", 5)
  assert len(lines) == 5 and all(isinstance(line, str) for line in lines)


def test_english_corpus_is_real_text():
  ids, vocab, padded = text.load_corpus("english", 10**7, seed=0)
  assert ids.shape == (len(padded), 32) and len(padded) > 150
  words = " ".join("".join(line).strip("`") for line in padded).split()
  assert {"the", "and", "was"} <= set(words)
  assert len(vocab) < 80


def test_language_networks_match_spec():
  g = language.make_generator(40, z_dim=128, width=512, seed=0)
  d = language.make_discriminator(40, width=512, seed=0)
  assert g.output_shape == (None, 32, 40) and d.output_shape == (None, 1)
  block = 2 * (5 * 512 * 512 + 512)
  assert g.count_params() == (
    128 * 32 * 512 + 32 * 512 + 5 * block + 512 * 40 + 40
  )
  assert d.count_params() == (40 * 512 + 512 + 5 * block + 32 * 512 + 1)
  probs = g(np.random.default_rng(0).normal(size=(2, 128)).astype("float32"))
  np.testing.assert_allclose(np.sum(probs, -1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_train_log_jsd_export_and_sample(tmp_path, monkeypatch):
  monkeypatch.setenv("TF_TTUR_CACHE_DIR", str(tmp_path / "cache"))
  workdir = str(tmp_path / "run")
  config = Config.of(
    workdir=workdir,
    model="language",
    dataset="english",
    z_dim=16,
    width=8,
    batch_size=8,
    train_steps=2,
    log_every=1,
    checkpoint_every=2,
    sample_every=2,
    d_lr=3e-4,
    g_lr=1e-4,
    beta_1=0.5,
    beta_2=0.9,
    jsd_every=2,
    jsd_samples=16,
    precision="float32",
    jit_compile="false",
  ).validate()
  train_lib.train(config)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  jsds = [r for r in records if "jsd_4" in r]
  assert len(jsds) == 1 and jsds[0]["step"] == 2
  values = [jsds[0][f"jsd_{n}"] for n in range(1, 7)]
  assert all(-1e-12 <= v <= 1.0 + 1e-12 for v in values), values
  assert {"wasserstein", "gp"} <= set(records[0])
  assert os.path.exists(os.path.join(workdir, "vocab.json"))
  assert os.path.exists(os.path.join(workdir, "samples", "step_00000002.txt"))
  loaded = tf.saved_model.load(os.path.join(workdir, "saved_model"))
  out = loaded.signatures["sample"](
    num=tf.constant(3), seed=tf.constant([0, 1])
  )
  lines = [t.decode() for t in out["text"].numpy()]
  assert len(lines) == 3 and all(len(line) == 32 for line in lines)
  proc = run_module(
    "tf_ttur.sample",
    f"--saved_model={os.path.join(workdir, 'saved_model')}",
    "--num=4",
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert len(proc.stdout.strip("\n").split("\n")) == 4


def test_text_model_rejects_image_data_and_fid():
  with pytest.raises(Exception, match="does not fit --model=language"):
    Config.of(workdir="/tmp/x", model="language", dataset="shapes").validate()
  with pytest.raises(Exception, match="--jsd_every"):
    Config.of(
      workdir="/tmp/x",
      model="language",
      dataset="english",
      fid_every=100,
      fid_stats="x.npz",
    ).validate()


def test_reference_models_are_cached_per_corpus(tmp_path):
  lines = [text.pad_line(s) for s in ["one line", "another line"]]
  first = jsd.cached_reference(lines, cache_dir=str(tmp_path))
  files = os.listdir(tmp_path)
  assert len(files) == 1
  again = jsd.cached_reference(lines, cache_dir=str(tmp_path))
  assert again.models == first.models and os.listdir(tmp_path) == files
  jsd.cached_reference(lines[:1], cache_dir=str(tmp_path))
  assert len(os.listdir(tmp_path)) == 2  # another corpus, another file


def test_a_damaged_vocabulary_file_is_one_clear_error(tmp_path):
  vocab = text.Vocabulary.from_lines([text.pad_line("one line")])
  runconfig.write_vocabulary(vocab, rundir.RunDir(str(tmp_path)))
  assert (
    runconfig.load_vocabulary(rundir.RunDir(str(tmp_path))).chars == vocab.chars
  )
  (tmp_path / rundir.VOCAB_FILE).write_text('{"chars": ["unk", "a"')  # Cut.
  for call in (
    lambda: runconfig.load_vocabulary(rundir.RunDir(str(tmp_path))),
    lambda: runconfig.write_vocabulary(vocab, rundir.RunDir(str(tmp_path))),
  ):
    with pytest.raises(ConfigError, match="vocab.json cannot be read"):
      call()
  with pytest.raises(ConfigError, match="vocab.json: no such file"):
    runconfig.load_vocabulary(rundir.RunDir(str(tmp_path / "elsewhere")))
