"""The performance record: train steps/s of every image model of the paper
(with and without XLA and mixed precision), FID images/s, and the input
pipeline's images/s, on the machine it runs on, as markdown tables.

Usage: python -m benchmarks.performance [--models=dcgan32,...]
       [--precisions=float32,mixed_bfloat16] [--xla=false,true]
       [--tf32=auto] [--steps=3] [--batch_size=0] [--n_critic=0]
       [--fid_batch=100]

The paper flagfiles' own arithmetic against the fast one on a GPU
(docs/paper.md A.6): --models=dcgan64,wgan_gp64
--precisions=float32,mixed_bfloat16 --xla=false,true --tf32=false,auto;
the row float32 / XLA false / TF32 false is the paper's, mixed_bfloat16 /
XLA true / TF32 auto what --precision=auto --jit_compile=auto --tf32=auto
runs.

Each model is built from its paper flagfile (configs/), at the paper's
batch size unless --batch_size is given; one step is the model's
train_step (n_critic discriminator updates and one generator update) on
random in-memory images, median of --steps timed steps after 2 warm-up
steps, and the seconds from building the model to the end of its first
step (tracing and, with XLA, compilation: the wait before training starts).
The header names the machine (CPU model and flags, GPU and compute
capability) and what --precision=auto picks there. The FID rows time the
Inception feature pass on the synthetic
replica of the 2015 graph (same ops and shapes as the real one, so no
download is needed). The pipeline rows read the offline `shapes` dataset
through the training input pipeline. On a GPU the default precisions add
mixed_float16.
"""

from __future__ import annotations

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from benchmarks.common import fid_extractors
from benchmarks.common import images_per_second
from benchmarks.common import machine
from benchmarks.common import median_seconds
from benchmarks.common import time_steps
from tf_ttur import hardware
from tf_ttur.config import Config
from tf_ttur.data import images as images_lib

MODELS = {
  "dcgan32": "configs/svhn.flags",
  "dcgan64": "configs/celeba.flags",
  "wgan_gp32": "configs/cifar10_wgangp.flags",
  "wgan_gp64": "configs/lsun_bedroom_wgangp.flags",
  "began64": "configs/celeba_began.flags",
  "sngan32": "configs/cifar10_sngan.flags",
}

flags.DEFINE_list("models", list(MODELS), f"Some of {', '.join(MODELS)}.")
flags.DEFINE_list(
  "precisions",
  [],
  "Dtype policies (default: float32 and "
  "mixed_bfloat16, plus mixed_float16 on a GPU).",
)
flags.DEFINE_list("xla", ["false", "true"], "jit_compile values.")
flags.DEFINE_list(
  "tf32",
  ["auto"],
  "TF32 settings: auto (TensorFlow's), true, false (--tf32 of tf_ttur.main).",
)
flags.DEFINE_integer("steps", 3, "Timed steps per setting.", lower_bound=1)
flags.DEFINE_integer("batch_size", 0, "0: each flagfile's (paper's) batch.")
flags.DEFINE_integer("n_critic", 0, "0: each flagfile's critic steps.")
flags.DEFINE_integer("fid_batch", 100, "Images per FID call.")
flags.DEFINE_integer("fid_repeats", 3, "Timed FID calls.", lower_bound=1)
flags.DEFINE_string("data_dir", None, "TFDS data_dir for `shapes`.")
FLAGS = flags.FLAGS


def train_rows(precisions: list[str]) -> None:
  print(
    "| model | batch | precision | XLA | TF32 | first step, s | "
    "XLA compile, s | steps/s | s/step | images/s |"
  )
  print("|---|---|---|---|---|---|---|---|---|---|")
  # XLA's compile time: its first step less the same setting's first step
  # without XLA (tracing is in both), when both rows are taken.
  without_xla = {}
  default_tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
  for name in FLAGS.models:
    if name not in MODELS:
      raise app.UsageError(f"unknown model {name!r}; use {', '.join(MODELS)}")
    overrides = [f"--batch_size={FLAGS.batch_size}"] if FLAGS.batch_size else []
    overrides += [f"--n_critic={FLAGS.n_critic}"] if FLAGS.n_critic else []
    config = Config.from_flagfile(MODELS[name], *overrides)
    for precision in precisions:
      for xla in FLAGS.xla:
        for tf32 in FLAGS.tf32:
          tf.config.experimental.enable_tensor_float_32_execution(
            default_tf32 if tf32 == "auto" else tf32 == "true"
          )
          first, seconds = time_steps(
            config, precision, xla == "true", FLAGS.steps
          )
          batch = config.optimization.batch_size
          rate = batch * config.optimization.n_critic / seconds
          key = (name, precision, tf32)
          if xla == "false":
            without_xla[key] = first
          compile_s = (
            f"{first - without_xla[key]:.1f}"
            if xla == "true" and key in without_xla
            else "-"
          )
          print(
            f"| {name} | {batch} | {precision} | {xla} | "
            f"{tf32} | {first:.1f} | {compile_s} | {1 / seconds:.2f} | "
            f"{seconds:.3f} | {rate:.0f} |",
            flush=True,
          )
  tf.config.experimental.enable_tensor_float_32_execution(default_tf32)


def fid_rows() -> None:
  extractors = fid_extractors(xla=True)
  images = (
    np.random.default_rng(0)
    .integers(0, 256, (FLAGS.fid_batch, 32, 32, 3))
    .astype(np.float32)
  )
  print(
    f"\nFID feature pass, batches of {FLAGS.fid_batch} 32x32 images "
    f"(resized to 299 in the graph), median of {FLAGS.fid_repeats}:\n"
  )
  print("| extractor | images/s |")
  print("|---|---|")
  for name, extractor in extractors.items():
    seconds = median_seconds(lambda e=extractor: e(images), FLAGS.fid_repeats)
    print(f"| {name} | {FLAGS.fid_batch / seconds:.1f} |", flush=True)


def pipeline_rows() -> None:
  print(
    "\nInput pipeline (`shapes`, 12,000 images, batch 64, after one "
    "epoch so the cache is filled):\n"
  )
  print("| image size | cache | images/s |")
  print("|---|---|---|")
  for size in (32, 64):
    for cache in (True, False):
      images = images_lib.load_images("shapes", size, data_dir=FLAGS.data_dir)
      ds = images_lib.make_pipeline(images, 64, seed=0, cache=cache)
      rate = images_per_second(ds, batches=200, warmup=12_000 // 64 + 1)
      print(
        f"| {size} | {'memory' if cache else 'none'} | {rate:.0f} |", flush=True
      )


def main(argv):
  del argv
  gpu = bool(tf.config.list_physical_devices("GPU"))
  precisions = FLAGS.precisions or (
    ["float32", "mixed_bfloat16"] + (["mixed_float16"] if gpu else [])
  )
  auto, why, _ = hardware.resolve_precision("auto", hardware.detect())
  print(
    f"{machine()}\n\n--precision=auto here: {auto} ({why}); "
    f"{FLAGS.steps} timed steps per row after 2 warm-up steps; first "
    "step: from building the model to the end of its first step "
    "(tracing and XLA compilation included)\n"
  )
  train_rows(precisions)
  fid_rows()
  pipeline_rows()


if __name__ == "__main__":
  app.run(main)
