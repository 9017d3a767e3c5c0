"""python -m fid PATH1 PATH2 [options] | python -m fid PATH --save_stats OUT.npz

Each PATH is a folder of images (png, jpg, jpeg, bmp, gif; also spelled
folder:PATH), a .npz of statistics (mu, sigma), a .npy/.npz array of
images [N, H, W, 3] in [0, 255], a TFDS split as tfds:NAME[:SPLIT], an
LMDB of encoded images as lmdb:DIR (LSUN's export; center square to 64 by
default), CelebA's aligned images as celeba:PATH (the folder or its zip;
108x108 center crop to 64 by default), or an exported generator as
savedmodel:DIR (--num samples with z from --seed, generated in memory; no
image is written).
Prints `FID: <value>`; --json prints FID, sFID, IS, KID, precision and
recall (PATH1 the reference set, PATH2 the generated one) and the image
counts. Any bad input prints one `error:` line and exits with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings

import fid
from fid import api
from fid import architecture
from fid import frechet
from fid import generator as generator_lib
from fid import info as info_lib
from fid import preprocess
from fid.errors import clipped


class _Parser(argparse.ArgumentParser):
  """argparse with the project's one way to fail on a usage error: one
  `error:` line and exit code 2 (argparse prints its usage first)."""

  def error(self, message: str):
    print(
      f"error: {clipped(message)} (python -m fid --help lists the options)",
      file=sys.stderr,
    )
    sys.exit(2)


def _parser() -> argparse.ArgumentParser:
  p = _Parser(
    prog="python -m fid",
    description=__doc__.split("\n\n")[1],
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  p.add_argument("paths", nargs="+", metavar="PATH")
  p.add_argument(
    "--version", action="version", version=f"%(prog)s {fid.__version__}"
  )
  _network_arguments(p)
  _inputs_arguments(p)
  _output_arguments(p)
  return p


def _network_arguments(p: argparse.ArgumentParser) -> None:
  """The network and how it is run."""
  g = p.add_argument_group("the network")
  g.add_argument(
    "--inception",
    "-i",
    default=None,
    help="local classify_image_graph_def.pb or the .tgz; with "
    "--extractor=savedmodel, the SavedModel's folder",
  )
  g.add_argument(
    "--cache_dir",
    default=None,
    help="where the graph is cached (default $FID_CACHE_DIR or "
    "~/.cache/tf_ttur_fid)",
  )
  g.add_argument(
    "--metric",
    choices=tuple(architecture.METRICS),
    default="fid",
    help="fid (default): the Frechet distance of --extractor's features "
    "(the FID with the 2015 graph); cmmd: CMMD, the MMD of CLIP "
    "ViT-L/14@336 embeddings as google-research's cmmd computes it "
    "(--inception names CLIP's weights)",
  )
  g.add_argument(
    "--extractor",
    choices=architecture.EXTRACTORS,
    default=None,
    help="; ".join(
      f"{kind.name}: {kind.help}"
      for kind in architecture.EXTRACTOR_KINDS.values()
    ),
  )
  g.add_argument(
    "--method",
    choices=frechet.METHODS,
    default="eigh",
    help="eigh (default, exact) or ttur (scipy sqrtm)",
  )
  g.add_argument("--batch_size", type=int, default=50)
  g.add_argument(
    "--mirrored",
    action="store_true",
    help="split every batch across all local GPUs (tf.distribute's "
    "MirroredStrategy; float64 sums per device, merged: the same "
    "statistics as one device); --batch_size is the whole batch",
  )


def _inputs_arguments(p: argparse.ArgumentParser) -> None:
  """How the PATHs are read."""
  g = p.add_argument_group("reading the inputs")
  g.add_argument(
    "--recursive", action="store_true", help="also read images in subfolders"
  )
  g.add_argument(
    "--drop_last_partial_batch",
    action="store_true",
    help="drop the last partial batch as TTUR's fid.py does "
    "(only N // batch_size * batch_size images count)",
  )
  g.add_argument("--data_dir", default=None, help="TFDS data directory")
  g.add_argument(
    "--num",
    type=int,
    default=generator_lib.DEFAULT_NUM,
    help="samples drawn from a savedmodel:DIR generator "
    "(default 50,000, as the paper)",
  )
  g.add_argument(
    "--seed",
    type=int,
    default=0,
    help="seed of the z drawn for a savedmodel:DIR generator",
  )
  g.add_argument(
    "--image_size",
    type=int,
    default=None,
    help="the side every image input is brought to, as "
    "training brings it (crop, then antialiased bilinear; "
    "recorded in --save_stats's provenance). tfds:NAME:SPLIT: "
    "default the paper's training size for NAME "
    "(fid.preprocess.PAPER, e.g. CelebA and LSUN 64); folders "
    "and arrays: default as stored; a generator's samples "
    "keep their own size",
  )
  g.add_argument(
    "--crop",
    choices=preprocess.CROPS,
    default=None,
    help="with --image_size: the crop before the resize "
    "(default: the paper's for a TFDS dataset, 'square' for a "
    "folder or an array, as training crops a folder:PATH "
    "dataset)",
  )
  g.add_argument(
    "--workers",
    type=int,
    default=None,
    help="image decoding threads (default: one per core, 2 to "
    "16; 1 decodes in the main thread)",
  )


def _output_arguments(p: argparse.ArgumentParser) -> None:
  """What is written, and how much is said."""
  g = p.add_argument_group("output")
  g.add_argument(
    "--save_stats",
    metavar="OUT.npz",
    default=None,
    help="save mu/sigma of the one PATH (with --metric=cmmd, its "
    "embeddings) instead of a distance",
  )
  g.add_argument(
    "--overwrite",
    action="store_true",
    help="replace an existing --save_stats file",
  )
  g.add_argument(
    "--json",
    action="store_true",
    help="print FID, sFID, Inception Score, KID, precision and "
    "recall (PATH1 the reference, PATH2 the generated set) and "
    "the counts as JSON",
  )
  g.add_argument("--quiet", action="store_true", help="no progress bar")
  g.add_argument(
    "--info",
    action="store_true",
    help="print what the one PATH, a statistics .npz, holds: "
    "its features, spatial statistics and provenance record "
    "(with --json, as JSON); nothing is computed",
  )
  g.add_argument(
    "--show_tf_logs",
    action="store_true",
    help="show TensorFlow's C++ log lines at start-up and "
    "TensorFlow's and TFDS's INFO/WARNING lines (hidden by "
    "default; a TF_CPP_MIN_LOG_LEVEL you set is kept)",
  )


def _info(args) -> int:
  if len(args.paths) != 1:
    print(
      f"error: --info reads one statistics file, got "
      f"{len(args.paths)} paths (python -m fid --help lists the "
      "options)",
      file=sys.stderr,
    )
    return 2
  try:
    info = info_lib.stats_info(args.paths[0])
  except api.EXPECTED_ERRORS as e:
    print(f"error: {clipped(str(e))}", file=sys.stderr)
    return 2
  if args.json:
    print(json.dumps(info, indent=2))
  else:
    print("\n".join(info_lib.format_stats_info(info)))
  return 0


def _options(args) -> api.Options:
  """The flags as api.Options (--inception is inception_path, --json asks
  for the companions, --quiet hides the progress)."""
  names = {f.name for f in dataclasses.fields(api.Options)}
  given = {k: v for k, v in vars(args).items() if k in names and v is not None}
  # An explicit --extractor=fast is refused beside --metric=cmmd (the API
  # cannot tell it from the default).
  architecture.extractor_for(args.metric, args.extractor)
  return api.Options(
    **given,
    inception_path=args.inception,
    extra_metrics=args.json,
    progress=not args.quiet,
  )


def _run(args) -> tuple[int, dict | Exception]:
  try:
    out = api.compute(args.paths, _options(args))
  except api.EXPECTED_ERRORS as e:
    return 2, e
  return 0, out


def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  if args.info:
    return _info(args)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    code, out = _run(args)
  for message in dict.fromkeys(str(w.message) for w in caught):  # Once.
    print(f"warning: {message}", file=sys.stderr)
  if code:
    print(f"error: {clipped(str(out))}", file=sys.stderr)
    return code
  if "converted_to_rgb" in out:
    modes = ", ".join(f"{k}: {v}" for k, v in out["converted_to_rgb"].items())
    print(f"note: converted images to RGB ({modes})", file=sys.stderr)
  if args.json:
    print(json.dumps(out, indent=2))
  elif args.save_stats:
    cmmd = "clip" in (args.extractor, architecture.METRICS[args.metric])
    what = "embeddings" if cmmd else "statistics"
    print(f"saved {what} of {out['counts'][0]} images to {out['saved']}")
  else:
    if "protocol" in out:
      about = out["protocol"]
      print(
        f"note: {out['metric']} by {about['protocol']}'s protocol "
        f"({about['backbone']}; weights {about['weights']}): comparable "
        "only with numbers computed the same way",
        file=sys.stderr,
      )
    print(f"{out['metric']}: {out.get('cmmd', out.get('fid'))}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
