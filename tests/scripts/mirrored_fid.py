"""FID statistics with the fast extractor under MirroredStrategy over two
logical CPU devices against one device, on the synthetic Inception graph,
FD_DINOv2's on the test weights (tests/fixtures/dinov2), and CMMD's
embeddings and distance on its test weights (tests/fixtures/cmmd); the
reference extractor (the graph in a Session, a copy per device) and the
SavedModel one (saved_models/shapes_classifier) through `python -m fid
--mirrored`.
Prints one JSON line. Run as a subprocess (logical devices are configured
before TensorFlow starts)."""

import json
import warnings

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
  cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import os  # noqa: E402

import numpy as np  # noqa: E402

from fid import clip  # noqa: E402
from fid import core  # noqa: E402
from fid import dinov2  # noqa: E402
from fid import inception  # noqa: E402
from fid import testing  # noqa: E402


def main():
  warnings.simplefilter("ignore")  # few images: rank-deficient covariances
  graph_def = testing.make_graph_def(seed=0)
  images = np.random.default_rng(0).integers(0, 256, (11, 32, 32, 3))
  batches = lambda: (images[i : i + 4] for i in range(0, len(images), 4))
  single = inception.FastExtractor(graph_def, jit_compile=False)
  devices = [d.name for d in tf.config.list_logical_devices("CPU")]
  mirrored = inception.FastExtractor(
    graph_def,
    jit_compile=False,
    strategy=tf.distribute.MirroredStrategy(devices),
  )
  a = core.run_pass(batches(), single)
  b = core.run_pass(batches(), mirrored)
  weights = os.path.join(os.path.dirname(__file__), "..", "fixtures", "dinov2")
  strategy = tf.distribute.MirroredStrategy(devices)
  c = core.run_pass(batches(), dinov2.make_extractor(weights))
  d = core.run_pass(batches(), dinov2.make_extractor(weights, strategy))
  print(
    json.dumps(
      {
        "replicas": mirrored.strategy.num_replicas_in_sync,
        "counts": [a.count, b.count, c.count, d.count],
        **_relative("", a, b),
        **_relative("dinov2_", c, d),
        **_cmmd(batches, devices, images),
        **_reference(graph_def, batches, devices),
        **_cli(images),
      }
    )
  )


def _cmmd(batches, devices, images) -> dict:
  """CMMD's embeddings on one device and across the replicas, and the
  CMMD of each against a second set."""
  weights = os.path.join(os.path.dirname(__file__), "..", "fixtures", "cmmd")
  strategy = tf.distribute.MirroredStrategy(devices)
  one = core.run_pass(batches(), clip.make_extractor(weights), keep=True)
  many = core.run_pass(
    batches(), clip.make_extractor(weights, strategy), keep=True
  )
  other = clip.make_extractor(weights)(255 - images[:6])[0]
  single, mirrored = (clip.cmmd(r.features, other) for r in (one, many))
  return {
    "cmmd_counts": [len(one.features), len(many.features)],
    # Unit vectors: the largest difference is relative to their norm.
    "cmmd_embeddings_rel": float(np.max(np.abs(one.features - many.features))),
    "cmmd_rel": abs(mirrored - single) / abs(single),
  }


def _reference(graph_def, batches, devices) -> dict:
  strategy = tf.distribute.MirroredStrategy(devices)
  one = core.run_pass(batches(), inception.ReferenceExtractor(graph_def))
  many = inception.ReferenceExtractor(graph_def, strategy=strategy)
  return {
    "reference_replicas": len(many.per_replica(np.zeros((3, 8, 8, 3)))),
    **_relative("reference_", one, core.run_pass(batches(), many)),
  }


def _cli(images) -> dict:
  """python -m fid with and without --mirrored on the SavedModel
  extractor: the same distance."""
  import contextlib
  import io
  import tempfile

  from fid import __main__ as cli

  folder = tempfile.mkdtemp()
  np.save(os.path.join(folder, "a.npy"), images.astype(np.uint8))
  np.save(os.path.join(folder, "b.npy"), (255 - images).astype(np.uint8))
  model = os.path.join(os.path.dirname(__file__), "..", "..", "saved_models")
  args = [
    os.path.join(folder, "a.npy"),
    os.path.join(folder, "b.npy"),
    "--extractor=savedmodel",
    f"--inception={os.path.join(model, 'shapes_classifier')}",
    "--batch_size=4",
    "--json",
    "--quiet",
  ]
  values = []
  for extra in ([], ["--mirrored"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
      assert cli.main(args + extra) == 0
    values.append(json.loads(out.getvalue())["fid"])
  return {"cli_fd_rel": abs(values[1] - values[0]) / abs(values[0])}


def _relative(prefix: str, a, b) -> dict:
  """The largest differences of b's mu and sigma from a's, relative."""
  return {
    f"{prefix}mu_rel": float(
      np.max(np.abs(a.mu - b.mu)) / np.max(np.abs(a.mu))
    ),
    f"{prefix}sigma_rel": float(
      np.max(np.abs(a.sigma - b.sigma)) / np.max(np.abs(a.sigma))
    ),
  }


if __name__ == "__main__":
  main()
