"""python -m fid.leaderboard --train=PATH [--test=PATH] [--samples N=PATH]

Checks FD_DINOv2 against dgm-eval's published CIFAR-10 leaderboard where
the real weights are present: each set's FD_DINOv2 against the training
set, beside the published value, with the relative difference. Exit code
0 when every one is within --tolerance, 1 when one is not, 2 on bad
input.

The published values: Stein et al. (NeurIPS 2023), Table 11
("DINOv2-ViT-L/14 leaderboard"), CIFAR10 rows, column FD; the same table
is figures/leaderboard.png of layer6ai-labs/dgm-eval's README. Protocol:
DINOv2 ViT-L/14 (`dinov2_large`), the reference is CIFAR-10's 50,000
training images, the test set its 10,000 test images, each model's row
its 50,000 samples released with dgm-eval. `--train` and `--test` take
any input of `python -m fid` (tfds:cifar10:train, a folder, a statistics
file saved with `--extractor=dinov2`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

from fid import api
from fid.errors import clipped
from fid.options import Options
from fid.version import __version__

# Table 11, CIFAR10, FD (DINOv2-ViT-L/14), against the training set.
PUBLISHED = {
  "test": 31.07,
  "StyleGAN2-ada": 305.92,
  "BigGAN": 326.66,
  "WGAN-GP": 1088.56,
}
TOLERANCE = 1e-3  # Relative; the table rounds to 0.01.


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
    prog="python -m fid.leaderboard",
    description=__doc__.split("\n\n")[1],
  )
  p.add_argument(
    "--version", action="version", version=f"%(prog)s {__version__}"
  )
  p.add_argument("--train", required=True, help="CIFAR-10's training set")
  p.add_argument("--test", default=None, help="CIFAR-10's test set")
  p.add_argument(
    "--samples",
    nargs="*",
    default=[],
    metavar="NAME=PATH",
    help=f"a model's released samples; NAME one of "
    f"{', '.join(k for k in PUBLISHED if k != 'test')}",
  )
  p.add_argument(
    "--weights", default=None, help="DINOv2's weights (default dinov2_large)"
  )
  p.add_argument("--tolerance", type=float, default=TOLERANCE)
  p.add_argument("--batch_size", type=int, default=50)
  p.add_argument("--data_dir", default=None, help="TFDS data directory")
  p.add_argument("--mirrored", action="store_true")
  return p


def _sets(args) -> dict[str, str]:
  """{published name: path} of what was given; ValueError on a name the
  table does not have or a NAME=PATH without its '='."""
  sets = {"test": args.test} if args.test else {}
  for item in args.samples:
    name, sep, path = item.partition("=")
    if not sep or not path:
      raise ValueError(f"--samples {item}: expected NAME=PATH")
    if name not in PUBLISHED or name == "test":
      models = ", ".join(k for k in PUBLISHED if k != "test")
      raise ValueError(f"--samples {name}: not in the table ({models})")
    sets[name] = path
  if not sets:
    raise ValueError("give --test or --samples NAME=PATH (nothing to check)")
  return sets


def main(argv=None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  if args.tolerance < 0:
    parser.error(f"--tolerance must be >= 0, got {args.tolerance}")
  options = Options(
    extractor="dinov2",
    inception_path=args.weights,
    batch_size=args.batch_size,
    data_dir=args.data_dir,
    mirrored=args.mirrored,
  )
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    code, rows = _compute(args, options)
  for message in dict.fromkeys(str(w.message) for w in caught):  # Once.
    print(f"warning: {message}", file=sys.stderr)
  if code:
    return code
  return _table(rows, args.tolerance)


def _compute(args, options: Options) -> tuple[int, list]:
  """(exit code, [(name, published, computed)]); one error line on bad
  input."""
  rows = []
  try:
    sets = _sets(args)
    with tempfile.TemporaryDirectory() as folder:
      train = args.train
      if not train.endswith(".npz"):  # Its statistics, computed once.
        train = os.path.join(folder, "train_dinov2.npz")
        api.compute([args.train], options, save_stats=train)
      for name, path in sets.items():
        value = api.compute([train, path], options)["fid"]
        rows.append((name, PUBLISHED[name], value))
  except api.EXPECTED_ERRORS as e:
    print(f"error: {clipped(str(e))}", file=sys.stderr)
    return 2, []
  return 0, rows


def _table(rows: list, tolerance: float) -> int:
  print("| set | published FD_DINOv2 | computed | rel. diff |")
  print("|---|---|---|---|")
  worst = 0.0
  for name, published, value in rows:
    diff = abs(value - published) / published
    worst = max(worst, diff)
    print(f"| {name} | {published:.2f} | {value:.6g} | {diff:.2e} |")
  ok = worst <= tolerance
  print(f"\n{'OK' if ok else 'MISMATCH'}: {worst:.2e} (<= {tolerance})")
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
