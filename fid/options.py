"""The options of `python -m fid` besides its paths, one field per flag
(fid.api.compute takes them; fid.inputs reads the ones an input needs)."""

from __future__ import annotations

import dataclasses

from fid import generator as generator_lib
from fid import preprocess


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
  """What `python -m fid` takes besides its paths (its flags, one field
  each; `python -m fid --help` says what each does).

  image_size (and crop) bring every image input to that side as training
  does (fid.preprocess.crop_and_resize; a folder's or an array's crop is
  training's for folders, preprocess.FOLDER_CROP, a TFDS split's the
  paper's rule for it); without it images are read as stored.

  metric: "fid" (the Frechet distance of `extractor`'s features) or
  "cmmd" (CMMD: the clip extractor, chosen by fid.api.compute where
  `extractor` is left at its default).

  mirrored: every batch split across the local GPUs (or, without one,
  the logical CPU devices) by a tf.distribute.MirroredStrategy, each
  device's features summed in float64 and merged (fid.core.run_pass)."""

  inception_path: str | None = None
  batch_size: int = 50
  extractor: str = "fast"
  metric: str = "fid"
  method: str = "eigh"
  recursive: bool = False
  drop_last_partial_batch: bool = False
  extra_metrics: bool = False
  save_stats: str | None = None
  cache_dir: str | None = None
  data_dir: str | None = None
  progress: bool = False
  num: int = generator_lib.DEFAULT_NUM
  seed: int = 0
  workers: int | None = None
  image_size: int | None = None
  crop: str | None = None
  overwrite: bool = False
  mirrored: bool = False

  @property
  def preprocessing(self) -> tuple[str, int] | None:
    """(crop, size) for folders and arrays, or None: read as stored."""
    if self.image_size is None:
      return None
    return (self.crop or preprocess.FOLDER_CROP, self.image_size)
