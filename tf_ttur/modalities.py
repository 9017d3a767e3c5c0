"""Images and text, as data: what a configuration check needs to know.

A family's modality (tf_ttur.families) says which datasets it takes, which
flags do not apply to it and what its SavedModel serves. What each layer
above does differently for the two lives in that layer, in a table keyed by
the modality's `name`: the run's data (tf_ttur.rundata.DATA), sample
writers (tf_ttur.callbacks.SAMPLE_WRITERS) and serving functions
(tf_ttur.export.SERVING). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses

from tf_ttur import data as data_names


@dataclasses.dataclass(frozen=True)
class Modality:
  """Attributes:
  name: the key of the tables above ("image", "text").
  noun: how messages name what it generates.
  datasets: the --dataset values it takes, for messages.
  accepts: whether a --dataset value is one of them.
  inapplicable: (flag, why) pairs: flags that must be 0/False for it.
  outputs: what serving_default returns (assets/model.json).
  scored_by: what a message adds about how its models are evaluated.
  """

  name: str
  noun: str
  datasets: str
  accepts: Callable[[str], bool]
  inapplicable: tuple[tuple[str, str], ...]
  outputs: str
  scored_by: str = ""


IMAGES = Modality(
  name="image",
  noun="images",
  datasets=f"{', '.join(data_names.IMAGE_DATASETS)}, {data_names.IMAGE_KINDS}",
  accepts=data_names.is_image_dataset,
  inapplicable=(),
  outputs="uint8 images [n, H, W, 3]",
)

TEXT = Modality(
  name="text",
  noun="text",
  datasets=f"{', '.join(data_names.TEXT_DATASETS)}, {data_names.TEXT_KINDS}",
  accepts=data_names.is_text_dataset,
  inapplicable=(
    (
      "tflite",
      "is for image generators (the language model's string "
      "outputs have no TFLite built-in ops)",
    ),
  ),
  outputs="string text [n], int32 ids [n, seq_len]",
  scored_by="; the language model is scored with --jsd_every",
)

MODALITIES = (IMAGES, TEXT)
