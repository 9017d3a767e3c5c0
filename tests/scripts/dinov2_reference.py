"""Reference outputs of dgm-eval's DINOv2 path on random weights, for
tests/test_fid_dinov2.py. Run once, in an environment with PyTorch and
torchvision (never this project's: PyTorch stays out of requirements.txt),
beside checkouts of the two reference repositories:

    python tests/scripts/dinov2_reference.py \
        --dinov2_repo=PATH/facebookresearch/dinov2 \
        --dgm_eval_repo=PATH/layer6ai-labs/dgm-eval \
        --out=tests/fixtures/dinov2

It builds torch.hub's DinoVisionTransformer (dinov2's own code, with
dinov2_vitl14's settings: patch 14, 518 pixels, layer scale, MLP,
interpolate_offset 0.1, no antialias) at a tiny width and depth, draws
every weight at random, and runs dgm-eval's DINOv2Encoder (its own
`transform` and `forward`; torch.hub.load is replaced by that model, the
only step that needs the internet) on random uint8 images of three sizes.
It writes the weights as a Hugging Face DINOv2 folder (config.json,
model.safetensors: the names keras-hub's converter reads) and the images
and the encoder's features in reference.npz.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import types

import numpy as np

# The fixture's tiny size; --size=vitl14 gives dinov2_vitl14's own.
SIZES_OF = {"tiny": (32, 2, 2), "vitl14": (1024, 24, 16)}
WIDTH, DEPTH, HEADS = SIZES_OF["tiny"]
SIZES = ((24, 24), (40, 56), (240, 232))  # (H, W): up, non-square, down.
PER_SIZE = 2


def _encoder_class(dgm_eval_repo: str):
  """dgm-eval's DINOv2Encoder, imported without dgm_eval/models/__init__
  (which imports every other encoder's packages)."""
  for name, folder in (
    ("dgm_eval", "dgm_eval"),
    ("dgm_eval.models", "dgm_eval/models"),
  ):
    package = types.ModuleType(name)
    package.__path__ = [os.path.join(dgm_eval_repo, folder)]
    sys.modules[name] = package
  return importlib.import_module("dgm_eval.models.dinov2").DINOv2Encoder


def _model(dinov2_repo: str):
  import torch

  sys.path.insert(0, dinov2_repo)
  from dinov2.models import vision_transformer

  torch.manual_seed(0)
  # dinov2/hub/backbones.py's _make_dinov2_model arguments, at a tiny size.
  model = vision_transformer.DinoVisionTransformer(
    img_size=518,
    patch_size=14,
    embed_dim=WIDTH,
    depth=DEPTH,
    num_heads=HEADS,
    mlp_ratio=4,
    init_values=1.0,
    ffn_layer="mlp",
    block_chunks=0,
    num_register_tokens=0,
    interpolate_antialias=False,
    interpolate_offset=0.1,
  )
  generator = torch.Generator().manual_seed(1)
  with torch.no_grad():
    for name, p in model.named_parameters():
      scale = 1.0 if ("norm" in name or ".ls" in name) else 0.1
      base = 1.0 if (name.endswith("weight") and "norm" in name) else 0.0
      p.copy_(base + scale * torch.randn(p.shape, generator=generator))
  return model.eval()


def _hf_weights(model) -> dict:
  """The state dict under Hugging Face's Dinov2Model names (which
  keras-hub's converter reads); qkv split into query, key and value."""
  sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
  out = {
    "embeddings.cls_token": sd["cls_token"],
    "embeddings.mask_token": sd["mask_token"],
    "embeddings.position_embeddings": sd["pos_embed"],
    "embeddings.patch_embeddings.projection.weight": sd[
      "patch_embed.proj.weight"
    ],
    "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
    "layernorm.weight": sd["norm.weight"],
    "layernorm.bias": sd["norm.bias"],
  }
  for i in range(DEPTH):
    b, h = f"blocks.{i}", f"encoder.layer.{i}"
    q, k, v = np.split(sd[f"{b}.attn.qkv.weight"], 3)
    qb, kb, vb = np.split(sd[f"{b}.attn.qkv.bias"], 3)
    for name, w, bias in (("query", q, qb), ("key", k, kb), ("value", v, vb)):
      out[f"{h}.attention.attention.{name}.weight"] = w
      out[f"{h}.attention.attention.{name}.bias"] = bias
    pairs = {
      "norm1": "norm1",
      "norm2": "norm2",
      "attn.proj": "attention.output.dense",
      "mlp.fc1": "mlp.fc1",
      "mlp.fc2": "mlp.fc2",
    }
    for ours, theirs in pairs.items():
      out[f"{h}.{theirs}.weight"] = sd[f"{b}.{ours}.weight"]
      out[f"{h}.{theirs}.bias"] = sd[f"{b}.{ours}.bias"]
    out[f"{h}.layer_scale1.lambda1"] = sd[f"{b}.ls1.gamma"]
    out[f"{h}.layer_scale2.lambda1"] = sd[f"{b}.ls2.gamma"]
  return {k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}


HF_CONFIG = {
  "model_type": "dinov2",
  "architectures": ["Dinov2Model"],
  "hidden_size": WIDTH,
  "num_hidden_layers": DEPTH,
  "num_attention_heads": HEADS,
  "mlp_ratio": 4,
  "image_size": 518,
  "patch_size": 14,
  "num_channels": 3,
  "layerscale_value": 1.0,
  "layer_norm_eps": 1e-6,
  "use_swiglu_ffn": False,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.0,
  "attention_probs_dropout_prob": 0.0,
  "drop_path_rate": 0.0,
  "qkv_bias": True,
}


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument("--dinov2_repo", required=True)
  p.add_argument("--dgm_eval_repo", required=True)
  p.add_argument("--out", required=True)
  p.add_argument("--size", choices=sorted(SIZES_OF), default="tiny")
  args = p.parse_args()
  global WIDTH, DEPTH, HEADS
  WIDTH, DEPTH, HEADS = SIZES_OF[args.size]
  HF_CONFIG.update(
    hidden_size=WIDTH, num_hidden_layers=DEPTH, num_attention_heads=HEADS
  )
  from PIL import Image
  from safetensors.numpy import save_file
  import torch

  encoder_class = _encoder_class(args.dgm_eval_repo)
  encoder = encoder_class.__new__(encoder_class)
  torch.nn.Module.__init__(encoder)
  encoder.arch, encoder.clean_resize = "vitl14", False  # dgm-eval's default.
  encoder.model = _model(args.dinov2_repo)
  rng = np.random.default_rng(2)
  arrays, features = {}, {}
  for h, w in SIZES:
    images = rng.integers(0, 256, (PER_SIZE, h, w, 3), np.uint8)
    batch = torch.stack([encoder.transform(Image.fromarray(x)) for x in images])
    with torch.no_grad():
      out = encoder(batch.float())
    arrays[f"images_{h}x{w}"] = images
    features[f"features_{h}x{w}"] = out.numpy().astype(np.float32)
  os.makedirs(args.out, exist_ok=True)
  save_file(
    _hf_weights(encoder.model), os.path.join(args.out, "model.safetensors")
  )
  with open(os.path.join(args.out, "config.json"), "w") as f:
    json.dump(HF_CONFIG, f, indent=1)
  np.savez_compressed(
    os.path.join(args.out, "reference.npz"),
    **arrays,
    **features,
    torch=np.array(torch.__version__),
  )
  print(
    f"wrote {args.out}: "
    + ", ".join(f"{k} {v.shape}" for k, v in features.items())
  )


if __name__ == "__main__":
  main()
