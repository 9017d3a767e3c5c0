"""Reference outputs of google-research's CMMD code on random weights, for
tests/test_fid_cmmd.py. Run once, in an environment with JAX, Flax and
TensorFlow (never this project's: JAX stays out of requirements.txt),
beside checkouts of the two reference repositories:

    python tests/scripts/cmmd_reference.py \
        --google_research=PATH/google-research \
        --scenic=PATH/scenic \
        --out=tests/fixtures/cmmd

It draws the weights of a CLIP model with ViT-L/14@336's structure (patch
14, 336 pixels, quick GELU, pre- and post-norm, a projection without bias)
at a tiny width and depth, writes them as a Hugging Face `CLIPModel`
folder (config.json, model.safetensors: the layout of
openai/clip-vit-large-patch14-336, text tower included) and, under
OpenAI's names, as the .npy that scenic's `load_model_vars` reads. Then
cmmd's own code runs unchanged: `ClipEmbeddingModel` (scenic's
`MODELS['vit_l14_336px']` is replaced by the tiny model and
`load_model_vars` pointed at the .npy, the only steps that need the
internet), `io_util.compute_embeddings_for_dir` on two folders of PNGs of
several sizes and modes (written here, kept in the fixture) and
`distance.mmd`, in float32 as cmmd runs it and again with JAX's float64
enabled. `distance.mmd` is also run on random unit vectors of two sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

WIDTH, DEPTH, PROJECTION = 64, 2, 32  # One head of 64 (scenic: 64 per head).
TEXT = {"width": 32, "layers": 0, "heads": 1, "vocab": 64, "positions": 77}
PATCH, RESOLUTION = 14, 336
# (H, W, mode) of each folder's images: up, non-square, exact, down,
# grayscale. The reference's batch is the folder (nothing dropped).
FOLDERS = {
  "a": ((24, 24, "RGB"), (40, 56, "RGB"), (350, 340, "RGB"), (30, 30, "L")),
  "b": ((56, 40, "RGB"), (336, 336, "RGB"), (348, 500, "RGB"), (17, 33, "RGB")),
}


def _normal(rng, shape, scale, base=0.0):
  return (base + scale * rng.standard_normal(shape)).astype(np.float32)


def hf_weights(rng) -> dict:
  """A CLIPModel state dict under Hugging Face's names, random."""
  d, out = WIDTH, {}
  v = "vision_model"
  out[f"{v}.embeddings.class_embedding"] = _normal(rng, (d,), 0.5)
  out[f"{v}.embeddings.patch_embedding.weight"] = _normal(
    rng, (d, 3, PATCH, PATCH), 0.05
  )
  tokens = (RESOLUTION // PATCH) ** 2 + 1
  out[f"{v}.embeddings.position_embedding.weight"] = _normal(
    rng, (tokens, d), 0.5
  )
  for norm in ("pre_layrnorm", "post_layernorm"):
    out[f"{v}.{norm}.weight"] = _normal(rng, (d,), 0.1, 1.0)
    out[f"{v}.{norm}.bias"] = _normal(rng, (d,), 0.1)
  for i in range(DEPTH):
    layer = f"{v}.encoder.layers.{i}"
    shapes = {
      "self_attn.q_proj": (d, d),
      "self_attn.k_proj": (d, d),
      "self_attn.v_proj": (d, d),
      "self_attn.out_proj": (d, d),
      "mlp.fc1": (4 * d, d),
      "mlp.fc2": (d, 4 * d),
    }
    for name, shape in shapes.items():
      out[f"{layer}.{name}.weight"] = _normal(rng, shape, 1 / np.sqrt(shape[1]))
      out[f"{layer}.{name}.bias"] = _normal(rng, shape[:1], 0.1)
    for norm in ("layer_norm1", "layer_norm2"):
      out[f"{layer}.{norm}.weight"] = _normal(rng, (d,), 0.1, 1.0)
      out[f"{layer}.{norm}.bias"] = _normal(rng, (d,), 0.1)
  out["visual_projection.weight"] = _normal(rng, (PROJECTION, d), 0.1)
  # The text tower, as a real CLIPModel folder holds it (unused here).
  t = TEXT["width"]
  out["text_model.embeddings.token_embedding.weight"] = _normal(
    rng, (TEXT["vocab"], t), 0.02
  )
  out["text_model.embeddings.position_embedding.weight"] = _normal(
    rng, (TEXT["positions"], t), 0.01
  )
  out["text_model.final_layer_norm.weight"] = np.ones(t, np.float32)
  out["text_model.final_layer_norm.bias"] = np.zeros(t, np.float32)
  out["text_projection.weight"] = _normal(rng, (PROJECTION, t), 0.1)
  out["logit_scale"] = np.array(2.6592, np.float32)
  return out


def openai_weights(hf: dict) -> dict:
  """The vision tower under OpenAI's names (what scenic converts)."""
  v, out = "vision_model", {}
  out["visual.class_embedding"] = hf[f"{v}.embeddings.class_embedding"]
  out["visual.conv1.weight"] = hf[f"{v}.embeddings.patch_embedding.weight"]
  out["visual.positional_embedding"] = hf[
    f"{v}.embeddings.position_embedding.weight"
  ]
  for ours, theirs in (
    ("ln_pre", "pre_layrnorm"),
    ("ln_post", "post_layernorm"),
  ):
    for p in ("weight", "bias"):
      out[f"visual.{ours}.{p}"] = hf[f"{v}.{theirs}.{p}"]
  for i in range(DEPTH):
    h, o = f"{v}.encoder.layers.{i}", f"visual.transformer.resblocks.{i}"
    for p, key in (("weight", "in_proj_weight"), ("bias", "in_proj_bias")):
      out[f"{o}.attn.{key}"] = np.concatenate(
        [hf[f"{h}.self_attn.{x}_proj.{p}"] for x in "qkv"]
      )
    pairs = {
      "attn.out_proj": "self_attn.out_proj",
      "ln_1": "layer_norm1",
      "ln_2": "layer_norm2",
      "mlp.c_fc": "mlp.fc1",
      "mlp.c_proj": "mlp.fc2",
    }
    for ours, theirs in pairs.items():
      for p in ("weight", "bias"):
        out[f"{o}.{ours}.{p}"] = hf[f"{h}.{theirs}.{p}"]
  out["visual.proj"] = np.ascontiguousarray(hf["visual_projection.weight"].T)
  out["logit_scale"] = hf["logit_scale"]
  return out


HF_CONFIG = {
  "architectures": ["CLIPModel"],
  "model_type": "clip",
  "projection_dim": PROJECTION,
  "logit_scale_init_value": 2.6592,
  "vision_config": {
    "model_type": "clip_vision_model",
    "hidden_size": WIDTH,
    "intermediate_size": 4 * WIDTH,
    "num_attention_heads": WIDTH // 64,
    "num_hidden_layers": DEPTH,
    "image_size": RESOLUTION,
    "patch_size": PATCH,
    "num_channels": 3,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": PROJECTION,
  },
  "text_config": {
    "model_type": "clip_text_model",
    "hidden_size": TEXT["width"],
    "intermediate_size": 4 * TEXT["width"],
    "num_attention_heads": TEXT["heads"],
    "num_hidden_layers": TEXT["layers"],
    "vocab_size": TEXT["vocab"],
    "max_position_embeddings": TEXT["positions"],
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": PROJECTION,
  },
}


def _write_images(folder: str, sizes, rng) -> None:
  """Smooth random images (so the PNGs stay small) with a little noise."""
  from PIL import Image

  os.makedirs(folder, exist_ok=True)
  for n, (h, w, mode) in enumerate(sizes):
    coarse = rng.integers(0, 256, (8, 8, 3), np.uint8)
    smooth = np.asarray(
      Image.fromarray(coarse).resize((w, h), Image.BILINEAR), np.int16
    )
    noisy = np.clip(smooth + rng.integers(-1, 2, smooth.shape), 0, 255)
    image = Image.fromarray(noisy.astype(np.uint8)).convert(mode)
    image.save(os.path.join(folder, f"{n}_{h}x{w}_{mode}.png"))


def _tiny_model(scenic_layers):
  return scenic_layers.CLIP(
    vocab_size=TEXT["vocab"],
    embed_dim=PROJECTION,
    text_features=TEXT["width"],
    text_num_layers=TEXT["layers"],
    text_num_heads=TEXT["heads"],
    vision_features=WIDTH,
    vision_num_layers=DEPTH,
    vision_patch_size=PATCH,
  )


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument("--google_research", required=True)
  p.add_argument("--scenic", required=True)
  p.add_argument("--out", required=True)
  args = p.parse_args()
  sys.path[:0] = [args.google_research, args.scenic]
  from cmmd import distance
  from cmmd import embedding
  from cmmd import io_util
  import jax
  from safetensors.numpy import save_file
  from scenic.projects.baselines.clip import layers as scenic_layers
  from scenic.projects.baselines.clip import model as clip

  rng = np.random.default_rng(3)
  os.makedirs(args.out, exist_ok=True)
  hf = hf_weights(rng)
  save_file(hf, os.path.join(args.out, "model.safetensors"))
  with open(os.path.join(args.out, "config.json"), "w") as f:
    json.dump(HF_CONFIG, f, indent=1)
  npy = os.path.join(args.out, "..", "cmmd_openai_weights.npy")
  np.save(npy, openai_weights(hf), allow_pickle=True)
  load = clip.load_model_vars
  clip.load_model_vars = lambda name: load(name, checkpoint_path=npy)
  clip.MODELS["vit_l14_336px"] = lambda: _tiny_model(scenic_layers)
  model = embedding.ClipEmbeddingModel()
  os.remove(npy)

  out = {}
  for name, sizes in FOLDERS.items():
    folder = os.path.join(args.out, name)
    _write_images(folder, sizes, rng)
    out[f"embeddings_{name}"] = io_util.compute_embeddings_for_dir(
      folder, model, batch_size=len(sizes)
    )
  out["mmd_float32"] = np.asarray(
    distance.mmd(out["embeddings_a"], out["embeddings_b"])
  )
  x = rng.standard_normal((300, 24)).astype(np.float32)
  y = rng.standard_normal((200, 24)).astype(np.float32) + 0.05
  out["random_x"] = x / np.linalg.norm(x, axis=1, keepdims=True)
  out["random_y"] = y / np.linalg.norm(y, axis=1, keepdims=True)
  out["random_mmd_float32"] = np.asarray(
    distance.mmd(out["random_x"], out["random_y"])
  )
  jax.config.update("jax_enable_x64", True)
  for prefix, (a, b) in {
    "": ("embeddings_a", "embeddings_b"),
    "random_": ("random_x", "random_y"),
  }.items():
    out[f"{prefix}mmd_float64"] = np.asarray(
      distance.mmd(out[a].astype(np.float64), out[b].astype(np.float64))
    )
  np.savez_compressed(
    os.path.join(args.out, "reference.npz"),
    **out,
    jax=np.array(jax.__version__),
  )
  print(
    f"wrote {args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in out.items())
  )
  print("CMMD float32", out["mmd_float32"], "float64", out["mmd_float64"])


if __name__ == "__main__":
  main()
