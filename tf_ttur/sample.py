"""python -m tf_ttur.sample --saved_model=DIR --num=N [--out=grid.png|FOLDER]

Draws N samples from an exported generator (only TensorFlow is needed to load
it). For an image generator, an --out ending in .png gets one grid; any
other --out is a folder that receives N single PNGs named 000000.png, ...,
the input of FID on samples. A language generator prints N lines (the
backtick padding removed) to standard output, or writes them to --out.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from tf_ttur import flags as tf_ttur_flags

flags.DEFINE_string("saved_model", None, "Exported generator directory.")
flags.DEFINE_integer("num", 64, "Number of samples.", lower_bound=1)
flags.DEFINE_string("out", None, "A .png grid or a folder (images; default "
                    "samples.png), or a text file (language; default: print).")
flags.DEFINE_integer("seed", 0, "Seed of z.")
flags.DEFINE_integer("batch_size", 256, "Samples per generator call.",
                     lower_bound=1)
flags.mark_flag_as_required("saved_model")
FLAGS = flags.FLAGS


def generate(saved_model_dir: str, num: int, seed: int, batch_size: int):
  """Yields uint8 image batches [b, H, W, 3], num images in all."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  model = tf.saved_model.load(saved_model_dir)
  sample = model.signatures["sample"]
  done = 0
  while done < num:
    n = min(batch_size, num - done)
    out = sample(num=tf.constant(n), seed=tf.constant([seed, done]))
    yield out["text"].numpy() if "text" in out else out["images"].numpy()
    done += n


def main(argv):
  del argv
  if not os.path.isfile(os.path.join(FLAGS.saved_model, "saved_model.pb")):
    print(f"error: no SavedModel in {FLAGS.saved_model}", file=sys.stderr)
    sys.exit(2)
  from tf_ttur import grid  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  batches = generate(FLAGS.saved_model, FLAGS.num, FLAGS.seed,
                     FLAGS.batch_size)
  first = next(batches)
  batches = iter([first, *batches])
  if first.dtype == object:  # Strings: a language generator.
    lines = [t.decode("utf-8", errors="replace").rstrip("`")
             for batch in batches for t in batch]
    if FLAGS.out:
      with open(FLAGS.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
      print(f"wrote {len(lines)} lines to {FLAGS.out}")
    else:
      print("\n".join(lines))
    return
  out = FLAGS.out or "samples.png"
  if out.lower().endswith(".png"):
    grid.write_png(grid.make_grid(np.concatenate(list(batches))), out)
    print(f"wrote a grid of {FLAGS.num} samples to {out}")
    return
  os.makedirs(out, exist_ok=True)
  index = 0
  for batch in batches:
    for image in batch:
      grid.write_png(image, os.path.join(out, f"{index:06d}.png"))
      index += 1
  print(f"wrote {index} samples to {out}/")


if __name__ == "__main__":
  app.run(main, flags_parser=tf_ttur_flags.parse_or_exit(FLAGS))
