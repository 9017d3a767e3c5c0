"""CMMD (Jayasumana et al., CVPR 2024, "Rethinking FID"): the maximum mean
discrepancy between CLIP ViT-L/14@336 image embeddings, computed as
google-research's cmmd code computes it.

cmmd's protocol, step by step (google-research/google-research, `cmmd/`:
`io_util.py`, `embedding.py`, `distance.py`; scenic's CLIP): each image
file is read by Pillow (a grayscale one has its channel repeated),
cropped to its centred square (side min(H, W), offsets (H - side) // 2 and
(W - side) // 2), resized to 336x336 by Pillow's bicubic filter from
uint8, divided by 255 in float32, resized again to 336 by
`jax.image.resize` (the identity at that size), normalized with CLIP's
mean and std, and fed to CLIP's vision tower: the CLS token after the
post layer norm, projected (no bias) and divided by its L2 norm. The
distance is the biased (V-statistic) MMD^2 estimate with a Gaussian kernel
exp(-|x - y|^2 / (2 sigma^2)), sigma = 10, times 1000.

The vision tower here is keras-hub's `CLIPVisionEncoder`, from keras-hub's
preset `clip_vit_large_patch14_336` (its `CLIPBackbone`) or from a local
folder: a keras-hub preset, or a Hugging Face `CLIPModel` folder
(openai/clip-vit-large-patch14-336), ported by fid.clip_port (keras-hub
has no converter for CLIP). keras-hub leaves `position_ids` at zeros where
they are not loaded; they are set to 0..N here. The MMD is summed in
float64 over blocks (cmmd's float32 sums are 1e-3 relative off their own
float64 result on the fixture: docs/measurements.md "CMMD").
tests/test_fid_cmmd.py holds the embeddings and the distance to cmmd's
code on random weights (fixtures from tests/scripts/cmmd_reference.py).
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from fid import hub

DEFAULT_WEIGHTS = "clip_vit_large_patch14_336"
IMAGE_SIZE = 336
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
SIGMA = 10.0
SCALE = 1000.0
BLOCK = 4096  # Rows of one block of the kernel matrices (4096^2 float64).


class ClipError(ValueError):
  """CLIP's weights cannot be found or loaded; the message says where to
  put them."""


MODEL = hub.Model(
  "CLIP",
  ClipError,
  "clip",
  "openai/clip-vit-large-patch14-336",
  "CLIPModel folder",
)


PROTOCOL = {
  "metric": "CMMD",
  "protocol": "google-research cmmd",
  "resize": "centred square crop, Pillow bicubic to 336x336 from uint8 RGB",
  "normalize": "/255, then CLIP's mean (0.48145466, 0.4578275, "
  "0.40821073) and std (0.26862954, 0.26130258, 0.27577711)",
  "embedding": "projected CLS token after the post layer norm, L2-normalized",
  "distance": "biased MMD^2, Gaussian kernel sigma 10, times 1000, "
  "summed in float64",
}


def _center_square(image: np.ndarray) -> np.ndarray:
  h, w = image.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return image[top : top + side, left : left + side]


def cmmd_images(images) -> np.ndarray:
  """float32 [n, 336, 336, 3] model inputs of images [n, H, W, 3] in
  [0, 255] (uint8, or floats rounded to uint8 as a file would hold them):
  each cropped to its centred square, resized by Pillow's bicubic filter,
  /255 and normalized with CLIP's mean and std, in float32 as cmmd."""
  images = hub.uint8_images(images)
  out = np.empty((len(images), IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
  for i, image in enumerate(images):
    resized = Image.fromarray(_center_square(image)).resize(
      (IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC
    )
    out[i] = np.asarray(resized, np.float32) / np.float32(255)
  return (out - CLIP_MEAN) / CLIP_STD


def _hf_folder(folder: str) -> bool:
  import json

  path = os.path.join(folder, "config.json")
  if not os.path.isfile(path):
    return False
  with open(path) as f:
    return json.load(f).get("model_type") == "clip"


def load_vision(weights: str | None = None):
  """(keras-hub's CLIPVisionEncoder, the projection kernel [D, E]) in
  float32 from a preset name (clip_vit_large_patch14_336, fetched by
  keras-hub where there is internet) or a local folder (a keras-hub
  preset or a Hugging Face CLIPModel folder), position ids 0..N."""
  source = weights or DEFAULT_WEIGHTS
  with hub.loading(MODEL, source):
    if hub.is_local(source) and _hf_folder(source):
      from fid import clip_port

      encoder, projection = clip_port.from_hf_folder(source)
    else:
      import keras_hub

      # float32 whatever the global Keras policy (a mixed-precision
      # training run builds its evaluators beside its networks).
      backbone = keras_hub.models.CLIPBackbone.from_preset(
        source, dtype="float32"
      )
      encoder = backbone.vision_encoder
      projection = backbone.vision_projection.kernel.numpy()
  embedding = encoder.embedding
  embedding.position_ids.assign(
    np.arange(embedding.num_positions, dtype=np.int64)[None]
  )
  if encoder.image_shape[0] != IMAGE_SIZE:
    raise ClipError(
      f"CLIP's weights {source} take {encoder.image_shape[0]}-pixel "
      f"images; CMMD's ViT-L/14@336 takes {IMAGE_SIZE}"
    )
  return encoder, projection


class ClipExtractor(hub.HubExtractor):
  """images [n, H, W, 3] in [0, 255] -> (L2-normalized CLIP embeddings
  float64 [n, E], no logits [n, 0]), by cmmd's protocol."""

  kind = "clip"

  def __init__(self, encoder, projection, weights: str, strategy=None):
    import tensorflow as tf

    kernel = tf.constant(projection, tf.float32)

    def embed(x):
      cls = encoder({"images": x}, training=False)[:, 0]
      embeddings = tf.matmul(cls, kernel)
      return embeddings / tf.norm(embeddings, axis=-1, keepdims=True)

    super().__init__(
      embed,
      cmmd_images,
      projection.shape[1],
      {
        **PROTOCOL,
        "backbone": f"CLIP ViT, {encoder.num_layers} layers, "
        f"{encoder.hidden_dim} wide, patch {encoder.patch_size}, "
        f"{projection.shape[1]}-d embeddings",
        "weights": weights,
      },
      strategy,
    )


def make_extractor(weights: str | None = None, strategy=None) -> ClipExtractor:
  """The CMMD extractor over `weights` (a keras-hub preset name or a local
  folder; default clip_vit_large_patch14_336); with a tf.distribute
  strategy, built under it and run across its replicas."""
  return hub.build(
    weights or DEFAULT_WEIGHTS,
    load_vision,
    lambda loaded, source, strategy: ClipExtractor(*loaded, source, strategy),
    strategy,
  )


def _kernel_sum(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
  """sum over i, j of exp(-gamma |a_i - b_j|^2) in float64, by blocks of
  BLOCK rows (memory BLOCK^2, not len(a) * len(b))."""
  a_sq = np.einsum("ij,ij->i", a, a)
  b_sq = np.einsum("ij,ij->i", b, b)
  total = 0.0
  for i in range(0, len(a), BLOCK):
    for j in range(0, len(b), BLOCK):
      d2 = (
        a_sq[i : i + BLOCK, None]
        + b_sq[None, j : j + BLOCK]
        - 2 * a[i : i + BLOCK] @ b[j : j + BLOCK].T
      )
      total += float(np.exp(-gamma * d2).sum())
  return total


def cmmd(x, y, sigma: float = SIGMA, scale: float = SCALE) -> float:
  """cmmd's distance of two embedding sets [n, E] and [m, E]: scale times
  the biased MMD^2 estimate (mean k(x, x') + mean k(y, y') - 2 mean
  k(x, y), diagonals included) with the Gaussian kernel of bandwidth
  sigma, as `distance.mmd` writes it (squared distances as |a|^2 + |b|^2
  - 2 a.b), in float64."""
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
    raise ValueError(
      f"CMMD needs two embedding sets [n, E] of one E, got {x.shape} and "
      f"{y.shape}"
    )
  if len(x) < 2 or len(y) < 2:
    raise ValueError(
      f"CMMD needs at least 2 images per set, got {len(x)} and {len(y)}"
    )
  gamma = 1.0 / (2.0 * sigma**2)
  k_xx = _kernel_sum(x, x, gamma) / len(x) ** 2
  k_yy = _kernel_sum(y, y, gamma) / len(y) ** 2
  k_xy = _kernel_sum(x, y, gamma) / (len(x) * len(y))
  return scale * (k_xx + k_yy - 2.0 * k_xy)
