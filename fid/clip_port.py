"""A Hugging Face `CLIPModel` folder (config.json, model.safetensors: the
layout of openai/clip-vit-large-patch14-336) as keras-hub's
`CLIPVisionEncoder` and the projection kernel.

keras-hub 0.32 converts DINOv2 and MetaCLIP 2 from Hugging Face folders
but not CLIP; this port writes the vision tower's weights under the same
names keras-hub's MetaCLIP 2 converter reads (the two towers share
Hugging Face's layout). The text tower is not read.
"""

from __future__ import annotations

import json
import os

import numpy as np


def _vision_config(folder: str) -> tuple[dict, int]:
  with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
  vision = config.get("vision_config") or {}
  act = vision.get("hidden_act", "quick_gelu")
  eps = vision.get("layer_norm_eps", 1e-5)
  if act != "quick_gelu" or eps != 1e-5:
    raise ValueError(
      f"{folder}: CLIP with hidden_act={act} and layer_norm_eps={eps}; "
      "keras-hub's CLIPVisionEncoder is quick_gelu with 1e-5"
    )
  projection = config.get("projection_dim") or vision.get("projection_dim")
  return vision, int(projection)


def _encoder(vision: dict):
  import keras_hub

  size = int(vision.get("image_size", 224))
  return keras_hub.models.CLIPVisionEncoder(
    patch_size=int(vision["patch_size"]),
    hidden_dim=int(vision["hidden_size"]),
    num_layers=int(vision["num_hidden_layers"]),
    num_heads=int(vision["num_attention_heads"]),
    intermediate_dim=int(vision["intermediate_size"]),
    intermediate_activation="quick_gelu",
    image_shape=(size, size, 3),
    dtype="float32",
  )


def _attention(mha, w: dict, prefix: str) -> None:
  heads = mha.num_heads
  dim = w[f"{prefix}.q_proj.weight"].shape[1]
  for name, dense in (
    ("q_proj", mha.query_dense),
    ("k_proj", mha.key_dense),
    ("v_proj", mha.value_dense),
  ):
    dense.kernel.assign(w[f"{prefix}.{name}.weight"].T.reshape(dim, heads, -1))
    dense.bias.assign(w[f"{prefix}.{name}.bias"].reshape(heads, -1))
  out = w[f"{prefix}.out_proj.weight"]
  mha.output_dense.kernel.assign(out.T.reshape(heads, -1, dim))
  mha.output_dense.bias.assign(w[f"{prefix}.out_proj.bias"])


def _norm(layer, w: dict, prefix: str) -> None:
  layer.gamma.assign(w[f"{prefix}.weight"])
  layer.beta.assign(w[f"{prefix}.bias"])


def _dense(layer, w: dict, prefix: str) -> None:
  layer.kernel.assign(w[f"{prefix}.weight"].T)
  layer.bias.assign(w[f"{prefix}.bias"])


def from_hf_folder(folder: str):
  """(CLIPVisionEncoder, projection kernel float32 [D, E]) of the folder's
  vision tower; KeyError or ValueError where a weight is missing or of
  another shape."""
  from safetensors.numpy import load_file

  vision, projection_dim = _vision_config(folder)
  w = load_file(os.path.join(folder, "model.safetensors"))
  encoder = _encoder(vision)
  v = "vision_model"
  embedding = encoder.embedding
  embedding.patch_embedding.kernel.assign(
    np.transpose(w[f"{v}.embeddings.patch_embedding.weight"], (2, 3, 1, 0))
  )
  embedding.position_embedding.embeddings.assign(
    w[f"{v}.embeddings.position_embedding.weight"]
  )
  embedding.class_embedding.assign(w[f"{v}.embeddings.class_embedding"])
  _norm(encoder.pre_layer_norm, w, f"{v}.pre_layrnorm")
  for i, layer in enumerate(encoder.encoder_layers):
    prefix = f"{v}.encoder.layers.{i}"
    _attention(layer.attention, w, f"{prefix}.self_attn")
    _norm(layer.layer_norm_1, w, f"{prefix}.layer_norm1")
    _norm(layer.layer_norm_2, w, f"{prefix}.layer_norm2")
    _dense(layer.dense_1, w, f"{prefix}.mlp.fc1")
    _dense(layer.dense_2, w, f"{prefix}.mlp.fc2")
  _norm(encoder.layer_norm, w, f"{v}.post_layernorm")
  projection = np.ascontiguousarray(w["visual_projection.weight"].T, np.float32)
  if projection.shape != (encoder.hidden_dim, projection_dim):
    raise ValueError(
      f"{folder}: visual_projection is {projection.shape[::-1]}, not "
      f"({projection_dim}, {encoder.hidden_dim})"
    )
  return encoder, projection
