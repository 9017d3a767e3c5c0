"""Every command-line flag of `python -m tf_ttur.main`, each with its default.

The defaults are the paper's DCGAN settings (docs/paper.md A.3.1);
flagfiles under configs/ hold only what differs. Library code never reads
FLAGS: main.py turns them into one frozen `config.Config`.
"""

import functools
import os

from absl import app
from absl import flags as absl_flags

from tf_ttur.errors import fail


class _On:
  """absl's DEFINE_* functions, bound to one FlagValues."""

  def __init__(self, flag_values: absl_flags.FlagValues):
    self.flag_values = flag_values

  def __getattr__(self, name):
    return functools.partial(getattr(absl_flags, name),
                             flag_values=self.flag_values)


def define(flag_values: absl_flags.FlagValues) -> absl_flags.FlagValues:
  """Defines every flag on flag_values (absl's FLAGS for the program)."""
  flags = _On(flag_values)
  flags.DEFINE_enum("mode", "train", ["train", "dry_run", "export"],
                    "train: train (resuming from the run directory); dry_run: "
                    "print the resolved config and exit; export: export the "
                    "generator of the latest checkpoint.")
  flags.DEFINE_string("workdir", "runs/default",
                      "Run directory; rerunning resumes from its newest "
                      "readable checkpoint.")
  flags.DEFINE_bool("restart", False,
                    "Move the run directory aside (to WORKDIR.old-TIME, "
                    "nothing is deleted) and start a new run in it.")
  flags.DEFINE_integer("seed", 0, "Seed of weights, noise and data order.")

  # Data.
  flags.DEFINE_string("dataset", "shapes",
                      "shapes (offline, generated), svhn_cropped, cifar10, "
                      "celeb_a, lsun/bedroom, or folder:PATH; for "
                      "--model=language: english (offline, shipped), lm1b, "
                      "or textfile:PATH.")
  flags.DEFINE_string("data_dir", None,
                      "TFDS data directory (default: TFDS's).")
  flags.DEFINE_integer("image_size", 32, "Image side: 32 or 64.")
  flags.DEFINE_integer("shuffle_buffer", 10_000, "tf.data shuffle buffer.")
  flags.DEFINE_integer("cache_mb", 4096,
                       "Cache the decoded, resized images in memory when they "
                       "take at most this many MB (CelebA-64: 2,500; LSUN "
                       "Bedroom: 37,000); 0: never.")

  # Model and losses.
  flags.DEFINE_string("model", "dcgan",
                      "Network family: dcgan, wgan_gp, began, language.")
  flags.DEFINE_integer("z_dim", 100, "Latent dimension.")
  flags.DEFINE_integer("width", 64, "Base width (gf = df = 64 in the paper).")
  flags.DEFINE_enum("critic_flatten", "per_sample", ["original", "per_sample"],
                    "WGAN-GP at 32x32: original (the paper's CIFAR-10 critic, "
                    "whose reshape to 4*4*8w merges 4 samples into one "
                    "critic value; --batch_size a multiple of 4) or "
                    "per_sample (one value per sample). The same network at "
                    "64x64; no effect on other models.")

  # TTUR: one Adam per network.
  flags.DEFINE_float("d_lr", 1e-4, "Discriminator learning rate (b).")
  flags.DEFINE_float("g_lr", 5e-4, "Generator learning rate (a).")
  flags.DEFINE_float("beta_1", 0.5, "Adam beta_1 of both optimizers.")
  flags.DEFINE_float("beta_2", 0.999, "Adam beta_2 of both optimizers.")
  flags.DEFINE_float("adam_epsilon", 1e-8, "Adam epsilon (TF1's default).")
  flags.DEFINE_integer("n_critic", 1,
                       "Discriminator updates per generator update.")
  flags.DEFINE_integer("lr_halve_every", 0,
                       "Halve both learning rates every N updates (BEGAN: "
                       "100000); 0: constant, as DCGAN and WGAN-GP.")
  flags.DEFINE_integer("batch_size", 64, "Batch size per update.")
  flags.DEFINE_integer("train_steps", 100_000, "Generator updates in total.")

  # Speed.
  flags.DEFINE_enum("precision", "auto",
                    ["auto", "float32", "mixed_float16", "mixed_bfloat16"],
                    "auto: mixed_bfloat16 on GPUs of compute capability 8.0+ "
                    "and on CPUs with native bfloat16 (AVX512_BF16, "
                    "AMX-BF16), mixed_float16 with loss scaling on older "
                    "GPUs, float32 elsewhere. A resumed run keeps the "
                    "precision its config.json records unless this flag "
                    "names another; checkpoints move between precisions.")
  flags.DEFINE_enum("tf32", "auto", ["auto", "true", "false"],
                    "TensorFloat-32 matmuls and convolutions in training on "
                    "Ampere and later GPUs. auto: TensorFlow's default (on); "
                    "false: exact float32, as the paper's 2017 GPUs (the "
                    "paper flagfiles). The FID is always computed without.")
  flags.DEFINE_enum("strategy", "default", ["default", "mirrored",
                                            "multi_worker"],
                    "tf.distribute: default (one device), mirrored (all local "
                    "GPUs), multi_worker (TF_CONFIG).")
  flags.DEFINE_integer("cpu_replicas", 0,
                       "Split the CPU into this many logical devices, so that "
                       "--strategy=mirrored runs without GPUs (to check the "
                       "distributed logic on CPU; no faster). 0: no split.")
  flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                    "XLA for the train step. auto: on for GPUs, off on CPU "
                    "(11x slower there, docs/paper.md C).")

  # Run directory.
  flags.DEFINE_integer("log_every", 100, "Steps between log lines and metrics.")
  flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
  flags.DEFINE_integer("sample_every", 1000, "Steps between sample grids.")
  flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept.")
  flags.DEFINE_integer("grid_size", 8, "Sample grids are grid_size^2 images.")
  flags.DEFINE_bool("export", True, "Export the generator when training ends.")
  flags.DEFINE_enum("export_dtype", "float32",
                    ["float32", "bfloat16", "float16"],
                    "The serving graph's precision, whatever precision "
                    "trained the weights (bfloat16, float16: Keras mixed "
                    "precision, the last layer in float32).")
  flags.DEFINE_bool("tflite", False,
                    "Also write generator.tflite (serving_default, TFLite "
                    "built-in ops) into the exported SavedModel folder, "
                    "checked against it (image generators, float32).")

  # FID during training (docs/paper.md A.3): every fid_every steps,
  # fid_samples samples against the statistics in fid_stats (python -m fid
  # DATA --save_stats X.npz, or TTUR's published fid_stats_*.npz).
  flags.DEFINE_integer("fid_every", 0, "Steps between FID evaluations; 0: off.")
  flags.DEFINE_integer("fid_samples", 50_000, "Generated samples per FID.")
  flags.DEFINE_string("fid_stats", None,
                      "Reference statistics (.npz, mu/sigma).")
  flags.DEFINE_string("fid_inception", None,
                      "classify_image_graph_def.pb or the .tgz (default: the "
                      "fid package's cache, downloaded on first use).")
  flags.DEFINE_enum("fid_extractor", "fast", ["fast", "reference"],
                    "Inception path: the Keras port or the graph itself.")
  flags.DEFINE_integer("fid_batch_size", 100, "Inception batch size.")

  # The offline quality measure (tf_ttur.quality): not the FID.
  flags.DEFINE_integer("quality_every", 0,
                       "Steps between evaluations of fd_shapes, the Frechet "
                       "distance in the shapes classifier's feature space "
                       "(offline; NOT the FID); 0: off.")
  flags.DEFINE_integer("quality_samples", 2000,
                       "Generated (and real) samples per fd_shapes value.")
  flags.DEFINE_string("quality_model", "",
                      "The classifier SavedModel (default: "
                      "saved_models/shapes_classifier).")

  # Hardening.
  flags.DEFINE_enum("on_nonfinite", "stop", ["stop", "restore"],
                    "A NaN or infinite loss: stop (exit 3, the last good "
                    "checkpoint kept) or restore the last checkpoint and "
                    "continue with a fresh noise seed (at most 3 times).")
  flags.DEFINE_integer("debug_nan_at_step", 0,
                       "Test hook: make the losses of this step NaN once. "
                       "0: off.")

  # The language model (docs/paper.md A.4).
  flags.DEFINE_integer("max_lines", 10_000_000,
                       "Text lines read, in order, from the corpus.")
  flags.DEFINE_integer("jsd_every", 0,
                       "Steps between n-gram JSD evaluations; 0: off.")
  flags.DEFINE_integer("jsd_samples", 640,
                       "Generated lines per JSD (640 in the paper; the values "
                       "depend on it).")
  return flag_values


def flagfile_cycle(argv: list[str]) -> str | None:
  """The message for a --flagfile that includes itself, directly or through
  others (absl only warns and goes on), or None."""

  def visit(path: str, chain: list[str]) -> str | None:
    real = os.path.realpath(path)
    if real in chain:
      names = " -> ".join([*chain[chain.index(real):], real])
      return f"--flagfile={path} includes itself ({names})"
    try:
      with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f]
    except OSError:
      return None  # absl names a missing flagfile.
    for line in lines:
      if line.startswith("--flagfile="):
        found = visit(line.split("=", 1)[1], [*chain, real])
        if found:
          return found
    return None

  for arg in argv[1:]:
    if arg.startswith("--flagfile="):
      found = visit(arg.split("=", 1)[1], [])
      if found:
        return found
  return None


def parse_or_exit(flag_values: absl_flags.FlagValues):
  """A flags_parser for absl's app.run with the project's convention for
  usage errors: one `error:` line on stderr and exit code 2 (absl itself
  prints "FATAL Flags parsing error" and exits 1)."""

  def parse(argv: list[str]) -> list[str]:
    cycle = flagfile_cycle(argv)
    if cycle:
      fail(cycle)
    try:
      return flag_values(argv)
    except absl_flags.Error as e:
      # absl prefixes some messages with its own "ERROR:: ".
      message = str(e).removeprefix("ERROR::").strip()
      fail(f"{message} (--helpfull lists the flags)")

  return parse


def run_program(main, flag_values: absl_flags.FlagValues = absl_flags.FLAGS
                ) -> None:
  """How every program of tf_ttur starts (main, sample, quality and the
  experiments): absl's app.run with parse_or_exit, and positional
  arguments refused, so that a usage error is always one `error:` line and
  exit code 2 (tf_ttur.errors.fail)."""

  def checked(argv: list[str]):
    if len(argv) > 1:
      fail(f"unexpected arguments: {' '.join(argv[1:])}")
    return main(argv)

  app.run(checked, flags_parser=parse_or_exit(flag_values))
