"""FD_DINOv2 (Stein et al., NeurIPS 2023): the Frechet distance in the
features of DINOv2 ViT-L/14, computed as dgm-eval computes them.

dgm-eval's protocol, step by step (layer6ai-labs/dgm-eval,
`dgm_eval/models/dinov2.py` and `dataloaders.py`): each image is read as
uint8 RGB (PIL `convert("RGB")`), resized to 224x224 by Pillow's bicubic
filter (torchvision's `Resize((224, 224), BICUBIC)` on a PIL image is
Pillow's), divided by 255 (`ToTensor`), normalized with ImageNet's mean
and std, and fed to the torch.hub DINOv2 model, whose output is the CLS
token after the final layer norm. torch.hub's model was trained at 518
pixels: its 37x37 table of position embeddings is interpolated at every
forward pass by PyTorch's bicubic (a = -0.75) with the scale factor
(16 + 0.1) / 37 (`interpolate_offset`), not to the output size.

The backbone here is keras-hub's `DINOV2Backbone` (its preset
`dinov2_large`, or a local folder: a keras-hub preset or a Hugging Face
`save_pretrained` folder of `facebook/dinov2-large`); keras-hub
interpolates the table once, with TensorFlow's bicubic (a = -0.5) to the
output size, 1.6e-4 relative off the reference, so the table is
interpolated again here, PyTorch's way (`torch_positions`). The images are
resized by Pillow itself. tests/test_fid_dinov2.py holds the features to
dgm-eval's path on random weights (fixtures from
tests/scripts/dinov2_reference.py).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from fid import hub

# keras-hub's presets of the two backbones dgm-eval offers here.
PRESETS = {"l14": "dinov2_large", "b14": "dinov2_base"}
DEFAULT_WEIGHTS = PRESETS["l14"]
IMAGE_SIZE = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
# torch.hub DINOv2's interpolate_offset and PyTorch's bicubic coefficient.
INTERPOLATE_OFFSET = 0.1
CUBIC_A = -0.75


class DinoV2Error(ValueError):
  """DINOv2's weights cannot be found or loaded; the message says where
  to put them."""


MODEL = hub.Model(
  "DINOv2", DinoV2Error, "dinov2", "facebook/dinov2-large", "DINOv2 folder"
)


PROTOCOL = {
  "metric": "FD_DINOv2",
  "protocol": "dgm-eval",
  "resize": "Pillow bicubic to 224x224 from uint8 RGB",
  "normalize": "/255, then ImageNet mean (0.485, 0.456, 0.406) and std "
  "(0.229, 0.224, 0.225)",
  "token": "CLS after the final layer norm",
  "position_embeddings": "518-px table, PyTorch bicubic (a=-0.75) with "
  "scale (16 + 0.1) / 37, as torch.hub's DINOv2",
}


def dgm_eval_images(images) -> np.ndarray:
  """float32 [n, 224, 224, 3] model inputs of images [n, H, W, 3] in
  [0, 255] (uint8, or floats rounded to uint8 as a file would hold them),
  each resized by Pillow's bicubic filter, /255 and normalized, in float32
  as torchvision's ToTensor and Normalize compute them."""
  images = hub.uint8_images(images)
  out = np.empty((len(images), IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
  for i, image in enumerate(images):
    resized = Image.fromarray(image).resize(
      (IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC
    )
    out[i] = np.asarray(resized, np.float32) / np.float32(255)
  return (out - IMAGENET_MEAN) / IMAGENET_STD


def _cubic(t: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
  """The four weights [..., 4] of the taps at -1, 0, 1, 2 for offsets t
  in [0, 1) (Keys' cubic convolution, PyTorch's a)."""

  def near(x):  # |x| <= 1
    return ((a + 2) * x - (a + 3)) * x * x + 1

  def far(x):  # 1 < |x| < 2
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

  return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _resize_axis(x: np.ndarray, axis: int, size: int, scale: float):
  """PyTorch's bicubic along one axis (align_corners=False) to `size`
  samples, with the source coordinate (i + 0.5) / scale - 0.5 of a given
  scale factor, taps clamped at the borders."""
  source = (np.arange(size) + 0.5) / scale - 0.5
  first = np.floor(source).astype(np.int64)
  weights = _cubic(source - first)  # [size, 4]
  taps = np.clip(first[:, None] + np.arange(-1, 3), 0, x.shape[axis] - 1)
  moved = np.moveaxis(x, axis, 0)  # [n, ...]
  out = np.einsum("sk,sk...->s...", weights, moved[taps])
  return np.moveaxis(out, 0, axis)


def torch_positions(table: np.ndarray, patch_size: int, image_size: int):
  """[1, 1 + g*g, D] position embeddings for image_size of the trained
  table [1, 1 + M*M, D], as torch.hub's DINOv2 interpolates them at every
  forward pass (g = image_size // patch_size; scale (g + 0.1) / M)."""
  table = np.asarray(table, np.float64)
  count = table.shape[1] - 1
  side = math.isqrt(count)
  if side * side != count:
    raise ValueError(f"{count} position embeddings are not a square")
  grid = image_size // patch_size
  if grid == side:
    return table.astype(np.float32)
  patches = table[0, 1:].reshape(side, side, -1)
  scale = (grid + INTERPOLATE_OFFSET) / side
  for axis in (0, 1):
    patches = _resize_axis(patches, axis, int(side * scale), scale)
  if patches.shape[:2] != (grid, grid):
    raise ValueError(f"interpolated to {patches.shape[:2]}, not {grid}")
  flat = patches.reshape(1, grid * grid, -1)
  return np.concatenate([table[:, :1], flat], axis=1).astype(np.float32)


def load_backbone(weights: str | None = None, image_size: int = IMAGE_SIZE):
  """keras-hub's DINOV2Backbone from a preset name (dinov2_large, fetched
  by keras-hub where there is internet) or a local folder, for image_size
  inputs, in float32, its position embeddings interpolated as torch.hub's
  are."""
  import keras_hub

  source = weights or DEFAULT_WEIGHTS
  with hub.loading(MODEL, source):
    # float32 whatever the global Keras policy (a mixed-precision
    # training run builds its evaluators beside its networks).
    backbone = keras_hub.models.DINOV2Backbone.from_preset(
      source, image_shape=(image_size, image_size, 3), dtype="float32"
    )
  embeddings = backbone.embeddings
  table = embeddings.position_embeddings.numpy()
  embeddings.interpolated_position_embeddings.assign(
    torch_positions(table, backbone.patch_size, image_size)
  )
  return backbone


class DinoV2Extractor(hub.HubExtractor):
  """images [n, H, W, 3] in [0, 255] -> (CLS features float64 [n, D],
  no logits [n, 0]), by dgm-eval's protocol."""

  kind = "dinov2"

  def __init__(self, backbone, weights: str, strategy=None):
    super().__init__(
      lambda x: backbone({"images": x}, training=False)[:, 0],
      dgm_eval_images,
      backbone.hidden_dim,
      {
        **PROTOCOL,
        "backbone": f"DINOv2 ViT, {backbone.num_layers} layers, "
        f"{backbone.hidden_dim} wide, patch {backbone.patch_size}",
        "weights": weights,
      },
      strategy,
    )
    self.backbone = backbone


def make_extractor(
  weights: str | None = None, strategy=None
) -> DinoV2Extractor:
  """The FD_DINOv2 extractor over `weights` (a keras-hub preset name or a
  local folder; default dinov2_large, ViT-L/14); with a tf.distribute
  strategy, built under it and run across its replicas."""
  return hub.build(
    weights or DEFAULT_WEIGHTS, load_backbone, DinoV2Extractor, strategy
  )
