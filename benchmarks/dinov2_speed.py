"""FD_DINOv2's feature pass: images/s and peak memory of fid.dinov2's
extractor (keras-hub's backbone, dgm-eval's preprocessing), and, where a
Python with PyTorch and a checkout of facebookresearch/dinov2 are given,
of torch.hub's model with the same preprocessing, on the same machine in
the same run.

Usage: python -m benchmarks.dinov2_speed [--size=vitl14] [--batch=16]
       [--images=64] [--torch_python=PATH --dinov2_repo=PATH]

Random weights (nothing is downloaded): the speed is the architecture's.
Images are 32x32 uint8, resized to 224 as the protocol does. Prints a
markdown table: images/s (the median of --repeats passes over --images
images after one warm-up) and each process's peak resident memory
(VmHWM, Linux).
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags
import numpy as np

from benchmarks.common import machine
from benchmarks.common import median_seconds
from benchmarks.common import peak_mib
from benchmarks.common import run_script

SIZES = {"vitb14": (768, 12, 12), "vitl14": (1024, 24, 16)}
flags.DEFINE_enum("size", "vitl14", list(SIZES), "The backbone's size.")
flags.DEFINE_integer("batch", 16, "Images per call.", lower_bound=1)
flags.DEFINE_integer("images", 64, "Images per timed pass.", lower_bound=1)
flags.DEFINE_integer("repeats", 2, "Timed passes.", lower_bound=1)
flags.DEFINE_string(
  "torch_python", None, "A Python with torch, Pillow, SciPy, absl-py."
)
flags.DEFINE_string("dinov2_repo", None, "A facebookresearch/dinov2 checkout.")
FLAGS = flags.FLAGS

# The torch row, run by --torch_python: dinov2's own model code, the same
# preprocessing (fid.dinov2.dgm_eval_images is numpy and Pillow).
_TORCH = """
import json, sys, time
import numpy as np, torch
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from dinov2.models import vision_transformer
from fid.dinov2 import dgm_eval_images
width, depth, heads, batch, count, repeats = map(int, sys.argv[3:9])
torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
model = vision_transformer.DinoVisionTransformer(
  img_size=518, patch_size=14, embed_dim=width, depth=depth, num_heads=heads,
  mlp_ratio=4, init_values=1.0, ffn_layer="mlp", block_chunks=0,
  num_register_tokens=0, interpolate_antialias=False, interpolate_offset=0.1,
).eval()
images = np.random.default_rng(0).integers(0, 256, (count, 32, 32, 3), np.uint8)
def run():
  for i in range(0, count, batch):
    x = dgm_eval_images(images[i:i + batch])
    x = torch.from_numpy(x).permute(0, 3, 1, 2)
    with torch.no_grad():
      model(x)
run()
times = []
for _ in range(repeats):
  start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(json.dumps({"seconds": sorted(times)[len(times) // 2],
  "peak_mib": int(hwm[0].split()[1]) / 1024, "torch": torch.__version__}))
"""


def _ours(width: int, depth: int, heads: int) -> tuple[float, float]:
  """(images/s, peak MiB) of this project's extractor."""
  import keras_hub

  from fid import dinov2

  backbone = keras_hub.models.DINOV2Backbone(
    patch_size=14,
    num_layers=depth,
    hidden_dim=width,
    num_heads=heads,
    intermediate_dim=4 * width,
    image_shape=(224, 224, 3),
    position_embedding_shape=(518, 518),
  )
  extractor = dinov2.DinoV2Extractor(backbone, "random")
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (FLAGS.images, 32, 32, 3), np.uint8)

  def run():
    for i in range(0, FLAGS.images, FLAGS.batch):
      extractor(images[i : i + FLAGS.batch])

  seconds = median_seconds(run, FLAGS.repeats)
  return FLAGS.images / seconds, peak_mib()


def _torch(width: int, depth: int, heads: int) -> dict | None:
  if not (FLAGS.torch_python and FLAGS.dinov2_repo):
    return None
  numbers = (width, depth, heads, FLAGS.batch, FLAGS.images, FLAGS.repeats)
  return run_script(FLAGS.torch_python, _TORCH, [FLAGS.dinov2_repo, *numbers])


def main(argv):
  del argv
  width, depth, heads = SIZES[FLAGS.size]
  print(machine())
  rate, peak = _ours(width, depth, heads)
  print(
    f"\nDINOv2 {FLAGS.size} feature pass, batch {FLAGS.batch}, "
    f"{FLAGS.images} images of 32x32 resized to 224 (random weights):\n"
  )
  print(
    "| implementation | images/s | peak memory (MiB) "
    "| 50,000 images, projected |"
  )
  print("|---|---|---|---|")
  rows = [("fid.dinov2 (keras-hub, TensorFlow)", rate, peak)]
  theirs = _torch(width, depth, heads)
  if theirs:
    rows.append(
      (
        f"torch.hub's DINOv2 code (PyTorch {theirs['torch']})",
        FLAGS.images / theirs["seconds"],
        theirs["peak_mib"],
      )
    )
  for name, r, p in rows:
    hours = 50_000 / r / 3600
    print(f"| {name} | {r:.2f} | {p:,.0f} | {hours:.1f} h |")
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
