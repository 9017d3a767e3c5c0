"""Input pipelines: images (TFDS, folders, the offline `shapes`) and text.

The names a --dataset flag may take live here, without TensorFlow, so that
a configuration is checked without importing it; the pipelines are in
images.py and text.py.
"""

# TFDS names of the image datasets (the paper's four and the offline one);
# their crop and size are fid.preprocess.PAPER's.
IMAGE_DATASETS = ("shapes", "svhn_cropped", "cifar10", "celeb_a",
                  "lsun/bedroom")
FOLDER_PREFIX = "folder:"
# `english` ships with the package; `lm1b` is TFDS's One Billion Word.
TEXT_DATASETS = ("english", "lm1b")
TEXTFILE_PREFIX = "textfile:"


def _named_or_prefixed(name: str, names: tuple[str, ...], prefix: str) -> bool:
  return name in names or (name.startswith(prefix) and len(name) > len(prefix))


def is_image_dataset(name: str) -> bool:
  return _named_or_prefixed(name, IMAGE_DATASETS, FOLDER_PREFIX)


def is_text_dataset(name: str) -> bool:
  return _named_or_prefixed(name, TEXT_DATASETS, TEXTFILE_PREFIX)
