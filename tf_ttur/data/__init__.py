"""Input pipelines: images (TFDS, folders, LMDB, CelebA's aligned images,
the offline `shapes`) and text.

Which spellings a --dataset flag may take is fid.datasources' registry
(without TensorFlow), so that a configuration is checked without
importing it; the pipelines are in images.py and text.py.
"""

from fid import datasources

# Training's bare names: the paper's image datasets and the offline one
# (their crop and size are fid.preprocess.PAPER's), `english` (shipped
# with the package) and TFDS's `lm1b` (fid.datasources.parse).
IMAGE_DATASETS = datasources.BARE_IMAGES
TEXT_DATASETS = datasources.BARE_TEXT
# The spellings beyond the bare names, for help texts.
IMAGE_KINDS = ", ".join(
  kind.prefix + ("NAME[:SPLIT]" if kind.name == "tfds" else "PATH")
  for kind in datasources.KINDS.values()
  if kind.modality == datasources.IMAGES
)
TEXT_KINDS = ", ".join(
  f"{kind.prefix}PATH"
  for kind in datasources.KINDS.values()
  if kind.modality == datasources.TEXT
)


def is_image_dataset(name: str) -> bool:
  return datasources.modality(name) == datasources.IMAGES


def is_text_dataset(name: str) -> bool:
  return datasources.modality(name) == datasources.TEXT
