"""CMMD's cost: images/s and peak memory of fid.clip's embedding pass
(keras-hub's CLIP ViT-L/14@336, cmmd's preprocessing), the seconds of its
MMD over N embeddings, and, where a Python with JAX, Flax and TensorFlow
and checkouts of google-research and scenic are given, the same two of
cmmd's own code (scenic's CLIP, `distance.mmd`), on the same machine in
the same run.

Usage: python -m benchmarks.cmmd_speed [--batch=16] [--images=32]
       [--mmd_n=4096] [--jax_python=PATH --google_research=PATH
       --scenic=PATH]

Random weights (nothing is downloaded): the speed is the architecture's.
Images are 32x32 uint8, resized to 336 as the protocol does. Prints a
markdown table: images/s (the median of --repeats passes after one
warm-up), each process's peak resident memory (VmHWM, Linux), the MMD's
seconds for --mmd_n embeddings of 768 per set, and both projected to
50,000 images (the MMD grows with the square of the count).
"""

from __future__ import annotations

import sys
import time

from absl import app
from absl import flags
import numpy as np

from benchmarks.common import machine
from benchmarks.common import median_seconds
from benchmarks.common import peak_mib
from benchmarks.common import run_script

flags.DEFINE_integer("batch", 16, "Images per call.", lower_bound=1)
flags.DEFINE_integer("images", 32, "Images per timed pass.", lower_bound=1)
flags.DEFINE_integer("repeats", 2, "Timed passes.", lower_bound=1)
flags.DEFINE_integer("mmd_n", 4096, "Embeddings per set for the MMD.", 2)
flags.DEFINE_string("jax_python", None, "A Python with JAX, Flax, TF.")
flags.DEFINE_string("google_research", None, "A google-research checkout.")
flags.DEFINE_string("scenic", None, "A google-research/scenic checkout.")
FLAGS = flags.FLAGS
WIDTH, DEPTH, HEADS, EMBED = 1024, 24, 16, 768  # ViT-L/14@336.

# The reference row, run by --jax_python: cmmd's ClipEmbeddingModel on
# scenic's vit_l14_336px with random weights (model.init), the same
# Pillow preprocessing, and cmmd's distance.mmd (float32, jit).
_JAX = """
import json, sys, time
import numpy as np
sys.path[:0] = sys.argv[1:4]
import jax
from scenic.projects.baselines.clip import model as clip
from cmmd import distance, embedding
from fid.clip import CLIP_MEAN, CLIP_STD, cmmd_images
batch, count, repeats, n = map(int, sys.argv[4:8])
net = clip.MODELS["vit_l14_336px"]()
clip.load_model_vars = lambda name: net.init(
  jax.random.PRNGKey(0), np.zeros((1, 336, 336, 3), np.float32), None)
model = embedding.ClipEmbeddingModel()
embed = jax.jit(model.embed)
images = np.random.default_rng(0).integers(0, 256, (count, 32, 32, 3), np.uint8)
def run():
  for i in range(0, count, batch):
    x = cmmd_images(images[i:i + batch]) * CLIP_STD + CLIP_MEAN  # [0, 1].
    np.asarray(embed(x))
run()
times = []
for _ in range(repeats):
  start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
x = np.random.default_rng(1).normal(size=(2, n, 768)).astype(np.float32)
np.asarray(distance.mmd(x[0], x[1]))
start = time.perf_counter(); np.asarray(distance.mmd(x[0], x[1]))
mmd = time.perf_counter() - start
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(json.dumps({"seconds": sorted(times)[len(times) // 2], "mmd": mmd,
  "peak_mib": int(hwm[0].split()[1]) / 1024, "jax": jax.__version__}))
"""


def _ours() -> dict:
  """Seconds per pass, the MMD's seconds and the peak MiB of fid.clip."""
  import keras_hub

  from fid import clip

  encoder = keras_hub.models.CLIPVisionEncoder(
    patch_size=14,
    hidden_dim=WIDTH,
    num_layers=DEPTH,
    num_heads=HEADS,
    intermediate_dim=4 * WIDTH,
    image_shape=(336, 336, 3),
    dtype="float32",
  )
  rng = np.random.default_rng(0)
  projection = rng.normal(size=(WIDTH, EMBED)).astype(np.float32) / 32
  extractor = clip.ClipExtractor(encoder, projection, "random")
  images = rng.integers(0, 256, (FLAGS.images, 32, 32, 3), np.uint8)

  def run():
    for i in range(0, FLAGS.images, FLAGS.batch):
      extractor(images[i : i + FLAGS.batch])

  seconds = median_seconds(run, FLAGS.repeats)
  x = np.random.default_rng(1).normal(size=(2, FLAGS.mmd_n, EMBED))
  start = time.perf_counter()
  clip.cmmd(x[0], x[1])
  mmd = time.perf_counter() - start
  return {"seconds": seconds, "mmd": mmd, "peak_mib": peak_mib()}


def _reference() -> dict | None:
  if not (FLAGS.jax_python and FLAGS.google_research and FLAGS.scenic):
    return None
  numbers = (FLAGS.batch, FLAGS.images, FLAGS.repeats, FLAGS.mmd_n)
  return run_script(
    FLAGS.jax_python, _JAX, [FLAGS.google_research, FLAGS.scenic, *numbers]
  )


def main(argv):
  del argv
  print(machine())
  rows = [("fid.clip (keras-hub, TensorFlow; MMD float64)", _ours())]
  theirs = _reference()
  if theirs:
    rows.append((f"cmmd's code (JAX {theirs['jax']}; MMD float32)", theirs))
  print(
    f"\nCLIP ViT-L/14@336 embedding pass, batch {FLAGS.batch}, "
    f"{FLAGS.images} images of 32x32 resized to 336 (random weights); "
    f"MMD of {FLAGS.mmd_n:,} against {FLAGS.mmd_n:,} embeddings:\n"
  )
  print(
    "| implementation | images/s | peak memory (MiB) | MMD (s) "
    "| 50,000 images, projected: embeddings / MMD |"
  )
  print("|---|---|---|---|---|")
  for name, r in rows:
    rate = FLAGS.images / r["seconds"]
    hours = 50_000 / rate / 3600
    mmd_50k = r["mmd"] * (50_000 / FLAGS.mmd_n) ** 2
    print(
      f"| {name} | {rate:.2f} | {r['peak_mib']:,.0f} | {r['mmd']:.2f} "
      f"| {hours:.1f} h / {mmd_50k / 60:.0f} min |"
    )
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
