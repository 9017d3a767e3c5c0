"""python -m tf_ttur.sample --saved_model=DIR --num=N [--out=grid.png|FOLDER]

Draws N samples from an exported generator (only TensorFlow is needed to load
it). For an image generator, an --out ending in .png gets one grid; any
other --out is a folder that receives N single PNGs named 000000.png, ...,
the input of FID on samples. A language generator prints N lines (the
backtick padding removed) to standard output, or writes them to --out.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from absl import flags

from fid.files import format_bytes
from tf_ttur import flags as tf_ttur_flags
from tf_ttur.errors import fail
from tf_ttur.errors import first_line

flags.DEFINE_string("saved_model", None, "Exported generator directory.")
flags.DEFINE_integer("num", 64, "Number of samples.", lower_bound=1)
flags.DEFINE_string(
  "out",
  None,
  "A .png grid or a folder (images; default "
  "samples.png), or a text file (language; default: print).",
)
flags.DEFINE_integer("seed", 0, "Seed of z.")
flags.DEFINE_integer(
  "batch_size", 256, "Samples per generator call.", lower_bound=1
)
flags.DEFINE_bool(
  "overwrite",
  False,
  "Replace an existing --out file, or write into a non-empty --out folder.",
)
flags.mark_flag_as_required("saved_model")
FLAGS = flags.FLAGS

# The largest grid drawn: 8192 x 8192 pixels (192 MiB of uint8 RGB, held
# whole to encode the PNG). More samples go into a folder.
MAX_GRID_SIDE = 8192
# A folder of single PNGs: refused when the images would need more than
# the free space (an image's worst case: its raw pixels plus PNG's
# overhead; generated images compress to less).
PNG_OVERHEAD = 1024
PROGRESS_EVERY_S = 10.0


def largest_grid(side: int) -> int:
  """How many images of side x side fit in a grid of at most
  MAX_GRID_SIDE pixels a side."""
  return (MAX_GRID_SIDE // side) ** 2


def generate(model, num: int, seed: int, batch_size: int):
  """Yields batches of the loaded generator's `sample` signature: uint8
  images [b, H, W, 3] or strings [b], num in all."""
  import tensorflow as tf

  sample = model.signatures["sample"]
  done = 0
  while done < num:
    n = min(batch_size, num - done)
    out = sample(num=tf.constant(n), seed=tf.constant([seed, done]))
    yield out["text"].numpy() if "text" in out else out["images"].numpy()
    done += n


def _check_size(out: str, side: int | None) -> None:
  """A grid larger than MAX_GRID_SIDE, or single images that would not fit
  in the free space, refused before any sample is drawn (side: the image
  side, None when the export does not say)."""
  if side is None:
    return
  if out.lower().endswith(".png"):
    if FLAGS.num > largest_grid(side):
      fail(
        f"--num={FLAGS.num}: a grid holds at most {largest_grid(side):,} "
        f"images of {side}x{side} ({MAX_GRID_SIDE}x{MAX_GRID_SIDE} "
        "pixels); give a folder as --out for more"
      )
    return
  need = FLAGS.num * (side * side * 3 + PNG_OVERHEAD)
  free = shutil.disk_usage(
    os.path.dirname(os.path.abspath(out)) if not os.path.isdir(out) else out
  ).free
  if need > free:
    fail(
      f"--num={FLAGS.num}: {FLAGS.num:,} images of {side}x{side} may "
      f"need up to {format_bytes(need)} and the disk of {out} has "
      f"{format_bytes(free)} free; lower --num (at most "
      f"{free // (side * side * 3 + PNG_OVERHEAD):,} here)"
    )


class Progress:
  """A line on stderr at most every PROGRESS_EVERY_S seconds: count, rate
  and time left."""

  def __init__(self, total: int, what: str):
    self.total, self.what = total, what
    self.start = self.last = time.monotonic()

  def update(self, done: int) -> None:
    now = time.monotonic()
    if now - self.last < PROGRESS_EVERY_S or done >= self.total:
      return
    self.last = now
    rate = done / max(now - self.start, 1e-9)
    left = (self.total - done) / max(rate, 1e-9)
    print(
      f"{done:,} of {self.total:,} {self.what} ({rate:,.0f}/s, about "
      f"{left:,.0f} s left)",
      file=sys.stderr,
      flush=True,
    )


def _check_out(out: str, images: bool) -> None:
  """An --out that cannot be written, or would overwrite something without
  --overwrite, is a usage error, found before any sample is drawn."""
  grid = images and out.lower().endswith(".png")
  folder_out = images and not grid
  parent = os.path.dirname(os.path.abspath(out))
  if not os.path.isdir(parent):
    # A missing folder is made (as runs/ on a fresh clone) where its
    # nearest existing ancestor is a writable folder.
    from tf_ttur import preflight
    from tf_ttur.errors import ConfigError

    try:
      preflight.check_writable(parent)
    except ConfigError:
      fail(
        f"--out={out}: the folder {parent} does not exist and cannot be made"
      )
    os.makedirs(parent, exist_ok=True)
  if folder_out:
    if os.path.exists(out) and not os.path.isdir(out):
      fail(
        f"--out={out} is a file; images go into a folder (or give a "
        ".png name for a grid)"
      )
    if os.path.isdir(out) and os.listdir(out) and not FLAGS.overwrite:
      fail(f"--out={out} is not empty; pass --overwrite to write into it")
    return
  if os.path.isdir(out):
    fail(f"--out={out} is a folder; give a file name")
  if os.path.exists(out) and not FLAGS.overwrite:
    fail(f"--out={out} exists; pass --overwrite to replace it")


def main(argv):
  del argv  # Only flags (flags.run_program refuses the rest).
  from fid.files import saved_model_problem

  problem = saved_model_problem(FLAGS.saved_model)
  if problem:
    fail(f"--saved_model={FLAGS.saved_model}: {problem}")
  import numpy as np
  import tensorflow as tf

  from tf_ttur import export
  from tf_ttur import grid

  try:
    info = export.read_model_info(FLAGS.saved_model)
  except export.ExportError as e:
    fail(str(e))
  try:
    model = tf.saved_model.load(FLAGS.saved_model)
  except (OSError, ValueError, tf.errors.OpError) as e:
    fail(f"cannot load {FLAGS.saved_model}: {first_line(e)}")
  if "sample" not in model.signatures:
    fail(
      f"{FLAGS.saved_model} is not a generator of this project (it has "
      f"no `sample` signature; it has: "
      f"{', '.join(sorted(model.signatures)) or 'none'})"
    )
  if info is None:  # Exported by an earlier version: no model.json.
    images = "images" in model.signatures["sample"].structured_outputs
  else:
    images = info["kind"] == "image"
    say = lambda key: info.get(key, "?")  # noqa: E731
    print(
      f"{say('family')} generator ({info['kind']}), step {say('step')}, "
      f"trained on {say('dataset')} in {say('training_precision')}, "
      f"serving in {say('serving_dtype')}",
      file=sys.stderr,
    )
  out = FLAGS.out or ("samples.png" if images else None)
  if out:
    _check_out(out, images)
  if images:
    side = (info or {}).get("image_size")
    if side is None:  # An export without model.json: its output's shape.
      side = model.signatures["sample"].structured_outputs["images"].shape[1]
    _check_size(out, side)
  batches = generate(model, FLAGS.num, FLAGS.seed, FLAGS.batch_size)
  try:
    _write(batches, images, grid, np)
  except OSError as e:
    fail(f"cannot write {FLAGS.out}: {e.strerror or e}")


def _write(batches, images: bool, grid, np) -> None:
  progress = Progress(FLAGS.num, "lines" if not images else "images")
  if not images:  # Strings: a language generator, streamed line by line.
    from fid.files import atomic_path

    def write(stream) -> int:
      count = 0
      for batch in batches:
        for t in batch:
          stream.write(t.decode("utf-8", errors="replace").rstrip("`") + "\n")
          count += 1
        progress.update(count)
      return count

    if FLAGS.out:
      with atomic_path(FLAGS.out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        count = write(f)
      print(f"wrote {count} lines to {FLAGS.out}")
    else:
      write(sys.stdout)
    return
  out = FLAGS.out or "samples.png"
  if out.lower().endswith(".png"):
    grid.write_png(grid.make_grid(np.concatenate(list(batches))), out)
    print(f"wrote a grid of {FLAGS.num} samples to {out}")
    return
  os.makedirs(out, exist_ok=True)
  index = 0
  width = max(6, len(str(FLAGS.num - 1)))
  for batch in batches:
    for image in batch:
      grid.write_png(image, os.path.join(out, f"{index:0{width}d}.png"))
      index += 1
    progress.update(index)
  print(f"wrote {index} samples to {os.path.join(out, '')}")


def run():
  tf_ttur_flags.run_program(main, FLAGS)


if __name__ == "__main__":
  run()
