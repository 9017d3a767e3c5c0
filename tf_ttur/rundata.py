"""The run's data: what training reads and what the run directory keeps.

DATA = {modality name: class}. `load(config)` gives the training pipeline
(before anything is written, so a missing dataset fails first);
`restore(config)` gives what an export needs from the run directory alone.
Either has `size` (the networks' first dimension: the image side or the
vocabulary size), `save(workdir)` (what the run directory keeps of it) and
`explain(config, error, latest)` (a pipeline error in the user's words).
"""

from __future__ import annotations

from absl import logging

from tf_ttur import runconfig
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.errors import DatasetError


class ImageData:
  """Image runs: [B, n_critic, H, W, 3] batches in [-1, 1]."""

  def __init__(self, config: Config, dataset=None):
    self.size = config.data.image_size
    self.dataset = dataset

  @classmethod
  def load(cls, config: Config) -> ImageData:
    """The training images of config.data.dataset, cached in memory when they
    fit in --cache_mb (no noise attached yet)."""
    from tf_ttur.data import images

    data, batch_size = config.data, config.optimization.batch_size
    from tf_ttur import gan

    n_critic = gan.real_batches_per_step(
      config.optimization.n_critic, config.optimization.kt_update == "original"
    )
    real = images.load_images(
      data.dataset, data.image_size, data_dir=data.data_dir
    )
    count = int(real.cardinality())
    if 0 <= count < batch_size * n_critic:
      logging.warning(
        "%s has %d images, fewer than one step takes "
        "(--batch_size=%d x %d real batches): each step "
        "repeats them.",
        data.dataset,
        count,
        batch_size,
        n_critic,
      )
    cache = images.fits_in_memory(real, data.image_size, data.cache_mb)
    logging.info(
      "Input pipeline: %s the decoded images in memory (--cache_mb=%d).",
      "caching" if cache else "not caching",
      data.cache_mb,
    )
    return cls(
      config,
      images.make_pipeline(
        real,
        config.optimization.batch_size,
        seed=config.run.seed,
        shuffle_buffer=config.data.shuffle_buffer,
        cache=cache,
        n_critic=n_critic,
      ),
    )

  @classmethod
  def restore(cls, config: Config) -> ImageData:
    """An image run keeps nothing of its data."""
    return cls(config)

  def save(self, run: rundir.RunDir) -> None:
    del run

  def explain(
    self, config: Config, error, latest: str | None
  ) -> DatasetError | None:
    """A DatasetError naming the file when `error` (a pipeline error) came
    from a corrupt image of a folder dataset, else None."""
    del error
    from fid import datasources
    from tf_ttur.data import images

    source = datasources.parse(config.data.dataset)
    if source.kind.name != "folder":
      return None
    found = images.first_unreadable(source.path)
    if found is None:
      return None
    path, reason = found
    kept = (
      f"the last checkpoint ({latest}) is intact"
      if latest
      else "no checkpoint was written yet"
    )
    return DatasetError(
      f"{path}: cannot decode the image ({reason}); remove "
      f"or replace it and rerun the same command; {kept}"
    )


class TextData:
  """Language runs: one-hot [B, n_critic, 32, V] lines of characters over
  the run's vocabulary (kept in the run directory as vocab.json)."""

  def __init__(self, vocabulary, lines=None, dataset=None):
    self.vocabulary = vocabulary
    self.size = len(vocabulary)
    self.lines = lines  # The padded corpus lines, in file order.
    self.dataset = dataset

  @classmethod
  def load(cls, config: Config) -> TextData:
    from tf_ttur.data import text

    ids, vocabulary, lines = text.load_corpus(
      config.data.dataset,
      config.data.max_lines,
      config.run.seed,
      config.data.data_dir,
    )
    return cls(
      vocabulary,
      lines,
      text.make_pipeline(
        ids,
        len(vocabulary),
        config.optimization.batch_size,
        config.run.seed,
        n_critic=config.optimization.n_critic,
      ),
    )

  @classmethod
  def restore(cls, config: Config) -> TextData:
    return cls(runconfig.load_vocabulary(rundir.RunDir(config.run.workdir)))

  def save(self, run: rundir.RunDir) -> None:
    runconfig.write_vocabulary(self.vocabulary, run)

  def explain(self, config: Config, error, latest: str | None) -> None:
    del config, error, latest  # The corpus is read before training.
    return None


DATA = {"image": ImageData, "text": TextData}


def load(config: Config) -> ImageData | TextData:
  """The training data of config's dataset."""
  return DATA[config.family.modality.name].load(config)


def restore(config: Config) -> ImageData | TextData:
  """What an export needs of the data, from config.run.workdir."""
  return DATA[config.family.modality.name].restore(config)
