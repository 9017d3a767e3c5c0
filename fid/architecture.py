"""The layer structure of the 2015 Inception graph, written once.

`inception_2015(builder, x)` walks the network of
`classify_image_graph_def.pb` from the normalised 299x299 input to pool_3,
calling `builder.conv`, `builder.pool` and `builder.concat` with the graph's
own scope names (docs/paper.md B.1.2 and B.1.3). The fast Keras port
(inception.py)
and the synthetic replica used by the tests (testing.py) are two builders of
this one description; `port.check_graph` verifies it against a real
GraphDef's constant shapes and op attributes, so a mistake here cannot hide
behind the replica.

Differences from torchvision's InceptionV3, all reproduced: average pools
exclude the padding (TF's SAME semantics), the last block's pool branch
(mixed_10/tower_2/pool) is a max pool, and the head has 1008 classes.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
from typing import Any, Protocol

FEATURE_DIM = 2048
NUM_CLASSES = 1008
IMAGE_SIZE = 299
BN_EPSILON = 1e-3


@dataclasses.dataclass(frozen=True)
class ExtractorKind:
  """What a feature extractor is and what it provides (TF-free: the
  command line and the trainer's flags read it without TensorFlow;
  fid.inception builds each kind).

  is_fid: its features are the 2015 graph's pool_3, so its Frechet
    distance is the FID. logits: Inception's 1008 logits (the Inception
    Score needs them). spatial: mixed_6/conv's features (the sFID).
    metric: what its Frechet distance is called in the output.
  """

  name: str
  help: str
  is_fid: bool
  logits: bool
  spatial: bool
  metric: str = "FID"
  distance: str = "frechet"


EXTRACTOR_KINDS = {
  kind.name: kind
  for kind in (
    ExtractorKind(
      "fast",
      "the Keras port of the 2015 graph (default, "
      "proven equal to the graph by the tests)",
      True,
      True,
      True,
    ),
    ExtractorKind(
      "reference",
      "the 2015 graph itself in a tf.compat.v1.Session",
      True,
      True,
      True,
    ),
    ExtractorKind(
      "savedmodel",
      "the `features` of the SavedModel at "
      "--inception (a Frechet distance, not the FID)",
      False,
      False,
      False,
      "FD (SavedModel features, not the FID)",
    ),
    ExtractorKind(
      "dinov2",
      "DINOv2 ViT-L/14's CLS features by dgm-eval's protocol: FD_DINOv2, "
      "not the FID; --inception names the weights, a keras-hub preset "
      "(default dinov2_large, dinov2_base for ViT-B/14) or a local folder",
      False,
      False,
      False,
      "FD_DINOv2",
    ),
    ExtractorKind(
      "clip",
      "CLIP ViT-L/14@336's image embeddings by google-research cmmd's "
      "protocol and their MMD: CMMD, the same as --metric=cmmd; "
      "--inception names the weights, a keras-hub preset (default "
      "clip_vit_large_patch14_336) or a local folder",
      False,
      False,
      False,
      "CMMD",
      "mmd",
    ),
  )
}
# --metric's names: the Frechet distance of --extractor's features, or
# CMMD (the clip extractor's kernel distance).
METRICS = {"fid": None, "cmmd": "clip"}


def extractor_for(metric: str, extractor: str | None) -> str | None:
  """The extractor `metric` computes with, given the one asked for (None:
  not asked): CMMD's clip where none was; ValueError for an unknown
  metric or an extractor that cannot give it."""
  if metric not in METRICS:
    raise ValueError(f"--metric={metric}: one of {', '.join(METRICS)}")
  wanted = METRICS[metric]
  if wanted is None or extractor in (None, wanted):
    return wanted or extractor
  raise ValueError(
    f"--metric={metric} computes {wanted} embeddings; "
    f"--extractor={extractor} cannot give it (leave --extractor out)"
  )


# The feature extractors by name (fid.inception builds them; the command
# line offers these without loading TensorFlow).
EXTRACTORS = tuple(EXTRACTOR_KINDS)


class Builder(Protocol):
  """What inception_2015 needs from a builder."""

  def conv(
    self,
    scope: str,
    x: Any,
    kernel: tuple[int, int],
    filters: int,
    stride: int = 1,
    padding: str = "SAME",
  ) -> Any:
    """Conv2D (no bias) -> BatchNormWithGlobalNormalization -> ReLU."""

  def pool(
    self, name: str, x: Any, kind: str, size: int, stride: int, padding: str
  ) -> Any:
    """A max or average pool ("max" / "avg")."""

  def concat(self, name: str, xs: Sequence[Any]) -> Any:
    """Concatenation along channels."""


def _block_a(b: Builder, n: str, x, pool_filters: int):
  branch = b.conv(f"{n}/conv", x, (1, 1), 64)
  tower = b.conv(f"{n}/tower/conv", x, (1, 1), 48)
  tower = b.conv(f"{n}/tower/conv_1", tower, (5, 5), 64)
  tower_1 = b.conv(f"{n}/tower_1/conv", x, (1, 1), 64)
  tower_1 = b.conv(f"{n}/tower_1/conv_1", tower_1, (3, 3), 96)
  tower_1 = b.conv(f"{n}/tower_1/conv_2", tower_1, (3, 3), 96)
  pool = b.pool(f"{n}/tower_2/pool", x, "avg", 3, 1, "SAME")
  pool = b.conv(f"{n}/tower_2/conv", pool, (1, 1), pool_filters)
  return b.concat(f"{n}/join", [branch, tower, tower_1, pool])


def _block_b(b: Builder, n: str, x):
  branch = b.conv(f"{n}/conv", x, (3, 3), 384, 2, "VALID")
  tower = b.conv(f"{n}/tower/conv", x, (1, 1), 64)
  tower = b.conv(f"{n}/tower/conv_1", tower, (3, 3), 96)
  tower = b.conv(f"{n}/tower/conv_2", tower, (3, 3), 96, 2, "VALID")
  pool = b.pool(f"{n}/pool", x, "max", 3, 2, "VALID")
  return b.concat(f"{n}/join", [branch, tower, pool])


def _block_c(b: Builder, n: str, x, c7: int):
  branch = b.conv(f"{n}/conv", x, (1, 1), 192)
  tower = b.conv(f"{n}/tower/conv", x, (1, 1), c7)
  tower = b.conv(f"{n}/tower/conv_1", tower, (1, 7), c7)
  tower = b.conv(f"{n}/tower/conv_2", tower, (7, 1), 192)
  tower_1 = b.conv(f"{n}/tower_1/conv", x, (1, 1), c7)
  tower_1 = b.conv(f"{n}/tower_1/conv_1", tower_1, (7, 1), c7)
  tower_1 = b.conv(f"{n}/tower_1/conv_2", tower_1, (1, 7), c7)
  tower_1 = b.conv(f"{n}/tower_1/conv_3", tower_1, (7, 1), c7)
  tower_1 = b.conv(f"{n}/tower_1/conv_4", tower_1, (1, 7), 192)
  pool = b.pool(f"{n}/tower_2/pool", x, "avg", 3, 1, "SAME")
  pool = b.conv(f"{n}/tower_2/conv", pool, (1, 1), 192)
  return b.concat(f"{n}/join", [branch, tower, tower_1, pool])


def _block_d(b: Builder, n: str, x):
  tower = b.conv(f"{n}/tower/conv", x, (1, 1), 192)
  tower = b.conv(f"{n}/tower/conv_1", tower, (3, 3), 320, 2, "VALID")
  tower_1 = b.conv(f"{n}/tower_1/conv", x, (1, 1), 192)
  tower_1 = b.conv(f"{n}/tower_1/conv_1", tower_1, (1, 7), 192)
  tower_1 = b.conv(f"{n}/tower_1/conv_2", tower_1, (7, 1), 192)
  tower_1 = b.conv(f"{n}/tower_1/conv_3", tower_1, (3, 3), 192, 2, "VALID")
  pool = b.pool(f"{n}/pool", x, "max", 3, 2, "VALID")
  return b.concat(f"{n}/join", [tower, tower_1, pool])


def _block_e(b: Builder, n: str, x, pool_kind: str):
  branch = b.conv(f"{n}/conv", x, (1, 1), 320)
  tower = b.conv(f"{n}/tower/conv", x, (1, 1), 384)
  tower = b.concat(
    f"{n}/tower/mixed/join",
    [
      b.conv(f"{n}/tower/mixed/conv", tower, (1, 3), 384),
      b.conv(f"{n}/tower/mixed/conv_1", tower, (3, 1), 384),
    ],
  )
  tower_1 = b.conv(f"{n}/tower_1/conv", x, (1, 1), 448)
  tower_1 = b.conv(f"{n}/tower_1/conv_1", tower_1, (3, 3), 384)
  tower_1 = b.concat(
    f"{n}/tower_1/mixed/join",
    [
      b.conv(f"{n}/tower_1/mixed/conv", tower_1, (1, 3), 384),
      b.conv(f"{n}/tower_1/mixed/conv_1", tower_1, (3, 1), 384),
    ],
  )
  pool = b.pool(f"{n}/tower_2/pool", x, pool_kind, 3, 1, "SAME")
  pool = b.conv(f"{n}/tower_2/conv", pool, (1, 1), 192)
  return b.concat(f"{n}/join", [branch, tower, tower_1, pool])


def inception_2015(b: Builder, x):
  """Normalised input [N, 299, 299, 3] -> mixed_10/join [N, 8, 8, 2048]."""
  x = b.conv("conv", x, (3, 3), 32, 2, "VALID")
  x = b.conv("conv_1", x, (3, 3), 32, 1, "VALID")
  x = b.conv("conv_2", x, (3, 3), 64, 1, "SAME")
  x = b.pool("pool", x, "max", 3, 2, "VALID")
  x = b.conv("conv_3", x, (1, 1), 80, 1, "VALID")
  x = b.conv("conv_4", x, (3, 3), 192, 1, "VALID")
  x = b.pool("pool_1", x, "max", 3, 2, "VALID")
  x = _block_a(b, "mixed", x, 32)
  x = _block_a(b, "mixed_1", x, 64)
  x = _block_a(b, "mixed_2", x, 64)
  x = _block_b(b, "mixed_3", x)
  for name, c7 in (
    ("mixed_4", 128),
    ("mixed_5", 160),
    ("mixed_6", 160),
    ("mixed_7", 192),
  ):
    x = _block_c(b, name, x, c7)
  x = _block_d(b, "mixed_8", x)
  x = _block_e(b, "mixed_9", x, "avg")
  # A max pool here, where torchvision's InceptionV3 averages (docs/paper.md
  # B.1.3).
  return _block_e(b, "mixed_10", x, "max")
