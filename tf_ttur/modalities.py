"""Images and text: everything a run does differently for the two.

A family's modality (tf_ttur.families) answers, before anything runs, which
datasets it takes and which flags do not apply to it; `load(config)` (for
training) or `restore(config, workdir)` (for an export) then give the run's
data, whose methods say the rest: the networks' first dimension (`size`),
what the run directory keeps of it, how samples are written, which
evaluators score the generator and what its SavedModel serves.

Importing this module does not import TensorFlow (configuration checks use
it); each method imports what it runs.
"""

from __future__ import annotations

from absl import logging

from tf_ttur import data as data_names
from tf_ttur.errors import ConfigError

# The evaluators of a run: (every N steps, a function building the
# evaluator), built by the chief only (tf_ttur.callbacks.assemble).
Schedule = list[tuple[int, object]]


class Images:
  """Image runs: [B, n_critic, H, W, 3] batches in [-1, 1]."""

  name = "image"
  noun = "images"
  datasets = f"{', '.join(data_names.IMAGE_DATASETS)}, folder:PATH"
  # What serving_default returns (assets/model.json).
  outputs = "uint8 images [n, H, W, 3]"

  def __init__(self, config, dataset=None):
    self.size = self.size_of(config)
    self.dataset = dataset

  @staticmethod
  def accepts(dataset: str) -> bool:
    return data_names.is_image_dataset(dataset)

  @staticmethod
  def check(config, family) -> None:
    if config.image_size not in family.image_sizes:
      raise ConfigError(
          f"--image_size={config.image_size} is not supported by "
          f"--model={config.model}; use one of {family.image_sizes}")

  @staticmethod
  def size_of(config) -> int:
    return config.image_size

  @classmethod
  def load(cls, config) -> Images:
    """The training images of config.dataset, cached in memory when they
    fit in --cache_mb (no noise attached yet)."""
    from tf_ttur.data import images
    real = images.load_images(config.dataset, config.image_size,
                              data_dir=config.data_dir)
    count = int(real.cardinality())
    per_step = config.batch_size * config.n_critic
    if 0 <= count < per_step:
      logging.warning("%s has %d images, fewer than one step takes "
                      "(--batch_size=%d x --n_critic=%d): each step repeats "
                      "them.", config.dataset, count, config.batch_size,
                      config.n_critic)
    cache = images.fits_in_memory(real, config.image_size, config.cache_mb)
    logging.info("Input pipeline: %s the decoded images in memory "
                 "(--cache_mb=%d).", "caching" if cache else "not caching",
                 config.cache_mb)
    return cls(config, images.make_pipeline(
        real, config.batch_size, seed=config.seed,
        shuffle_buffer=config.shuffle_buffer, cache=cache,
        n_critic=config.n_critic))

  @classmethod
  def restore(cls, config, workdir: str) -> Images:
    del workdir  # An image run keeps nothing of its data.
    return cls(config)

  def save(self, workdir: str) -> None:
    del workdir

  def sample_callback(self, config, write_dir: str, z, writer):
    from tf_ttur import callbacks
    return callbacks.SampleGrid(write_dir, z, config.sample_every, writer)

  def evaluators(self, config, family, fid_strategy=None) -> Schedule:
    """FID (--fid_every) and the offline fd_shapes (--quality_every)."""
    from tf_ttur import evaluation

    def shapes():
      from tf_ttur.data import images
      real = images.load_images(config.dataset, config.image_size,
                                data_dir=config.data_dir)
      return evaluation.ShapesEvaluator(config, family.fid_pixels, real)

    return [
        (config.fid_every, lambda: evaluation.FIDEvaluator(
            config, family.fid_pixels, strategy=fid_strategy)),
        (config.quality_every, shapes),
    ]

  def explain(self, config, error, latest: str | None):
    """A DatasetError naming the file when `error` (a pipeline error) came
    from a corrupt image of a folder dataset, else None."""
    from tf_ttur.data import images
    from tf_ttur.errors import DatasetError
    if not config.dataset.startswith(data_names.FOLDER_PREFIX):
      return None
    found = images.first_unreadable(
        config.dataset[len(data_names.FOLDER_PREFIX):])
    if found is None:
      return None
    path, reason = found
    kept = (f"the last checkpoint ({latest}) is intact" if latest else
            "no checkpoint was written yet")
    return DatasetError(f"{path}: cannot decode the image ({reason}); remove "
                        f"or replace it and rerun the same command; {kept}")

  def serve(self, generator):
    """serving_default's function: z -> {"images": uint8 [n, H, W, 3]}."""
    from tf_ttur import export

    def serve(z):
      return {"images": export.to_uint8(generator(z, training=False))}
    return serve

  def describe(self, model, config) -> dict:
    del model
    return {"image_size": config.image_size, "channels": 3,
            "pixels": "uint8 round((x + 1) * 127.5) clipped to [0, 255]"}


class Text:
  """Language runs: one-hot [B, n_critic, 32, V] lines of characters over
  the run's vocabulary (kept in the run directory as vocab.json)."""

  name = "text"
  noun = "text"
  datasets = f"{', '.join(data_names.TEXT_DATASETS)}, textfile:PATH"
  outputs = "string text [n], int32 ids [n, seq_len]"

  def __init__(self, vocabulary, lines=None, dataset=None):
    self.vocabulary = vocabulary
    self.size = len(vocabulary)
    self.lines = lines  # The padded corpus lines, in file order.
    self.dataset = dataset

  @staticmethod
  def accepts(dataset: str) -> bool:
    return data_names.is_text_dataset(dataset)

  @staticmethod
  def check(config, family) -> None:
    del family
    for flag, message in (
        ("fid_every", "is for image models; the language model is scored "
         "with --jsd_every"),
        ("quality_every", "is for image models"),
        ("tflite", "is for image generators (the language model's string "
         "outputs have no TFLite built-in ops)")):
      if getattr(config, flag):
        raise ConfigError(f"--{flag} {message}")

  @staticmethod
  def size_of(config) -> int:
    raise ValueError(f"--model={config.model} needs its vocabulary's size")

  @classmethod
  def load(cls, config) -> Text:
    from tf_ttur.data import text
    ids, vocabulary, lines = text.load_corpus(
        config.dataset, config.max_lines, config.seed, config.data_dir)
    return cls(vocabulary, lines, text.make_pipeline(
        ids, len(vocabulary), config.batch_size, config.seed,
        n_critic=config.n_critic))

  @classmethod
  def restore(cls, config, workdir: str) -> Text:
    del config
    from tf_ttur import rundir
    return cls(rundir.load_vocabulary(workdir))

  def save(self, workdir: str) -> None:
    from tf_ttur import rundir
    rundir.write_vocabulary(self.vocabulary, workdir)

  def sample_callback(self, config, write_dir: str, z, writer):
    del writer
    from tf_ttur import callbacks
    return callbacks.TextSamples(write_dir, z, config.sample_every,
                                 self.vocabulary.decode)

  def evaluators(self, config, family, fid_strategy=None) -> Schedule:
    """The paper's n-gram JSD (--jsd_every)."""
    del family, fid_strategy
    from tf_ttur import evaluation
    return [(config.jsd_every, lambda: evaluation.JSDEvaluator(
        self.lines, self.vocabulary, config))]

  def explain(self, config, error, latest: str | None):
    del config, error, latest  # The corpus is read before training.
    return None

  def serve(self, generator):
    """serving_default's function: z -> {"text": strings, "ids": int32}.
    The unknown token (id 0) decodes to U+FFFD, so that every position is
    one character; the table is a constant of the graph."""
    import tensorflow as tf
    table = tf.constant(["\ufffd"] + list(self.vocabulary.chars[1:]))

    def serve(z):
      ids = tf.argmax(generator(z, training=False), axis=-1,
                      output_type=tf.int32)
      return {"text": tf.strings.reduce_join(tf.gather(table, ids), axis=-1),
              "ids": ids}
    return serve

  def describe(self, model, config) -> dict:
    del config
    return {"seq_len": int(model.generator.output_shape[1]),
            "vocabulary_size": self.size}


MODALITIES = (Images, Text)
