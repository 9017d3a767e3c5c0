"""The fast Keras port equals the original graph run as it is."""

import numpy as np
import pytest
import tensorflow as tf

from fid import architecture
from fid import core
from fid import frechet
from fid import graph
from fid import inception
from fid import port
from fid import testing


def _images(seed, n, size):
  rng = np.random.default_rng(seed)
  # Smooth images with noise, like real pictures, in [0, 255] as uint8.
  base = rng.uniform(0, 255, (n, 1, 1, 3))
  noise = rng.normal(0, 40, (n, size, size, 3))
  return np.clip(base + noise, 0, 255).astype(np.uint8)


def _relative(a, b):
  return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("size", [32, 64, 299])
def test_fast_equals_reference(extractors, size):
  reference, fast = extractors
  images = _images(size, 6, size)
  ref_features, ref_logits = reference(images)
  fast_features, fast_logits = fast(images)
  assert ref_features.shape == fast_features.shape == (6, 2048)
  assert ref_logits.shape == fast_logits.shape == (6, 1008)
  assert ref_features.dtype == fast_features.dtype == np.float64
  assert _relative(fast_features, ref_features) < 1e-4
  assert _relative(fast_logits, ref_logits) < 1e-4
  # Float input in [0, 255] gives the same as uint8.
  np.testing.assert_allclose(
    fast(images.astype(np.float32))[0], fast_features, rtol=0, atol=0
  )


@pytest.mark.slow
def test_fid_of_fast_equals_fid_of_reference(extractors):
  reference, fast = extractors
  a, b = _images(1, 24, 32), _images(2, 24, 32) // 2
  features, moments = [], []
  for extractor in (reference, fast):
    features.append((extractor(a)[0], extractor(b)[0]))
    with pytest.warns(RuntimeWarning, match="rank deficient"):
      first = core.run_pass(iter([a[:12], a[12:]]), extractor)
    moments.append((first.mu, first.sigma))
  np.testing.assert_allclose(
    moments[1][0],
    moments[0][0],
    rtol=1e-4,
    atol=1e-4 * np.abs(moments[0][0]).max(),
  )
  np.testing.assert_allclose(
    moments[1][1],
    moments[0][1],
    rtol=1e-4,
    atol=1e-4 * np.abs(moments[0][1]).max(),
  )
  # 24 images leave sigma rank deficient, where D x D trace methods carry
  # noise of order 1e-6; the distance from the feature rows is exact there.
  ref_fid, fast_fid = (
    frechet.frechet_distance_from_features(*f) for f in features
  )
  assert fast_fid == pytest.approx(ref_fid, rel=1e-6)
  assert ref_fid > 1


def test_distance_from_features_equals_covariance_form():
  rng = np.random.default_rng(0)
  x1, x2 = rng.normal(size=(300, 20)), rng.normal(1.0, 2.0, size=(200, 20))
  expected = frechet.calculate_frechet_distance(
    x1.mean(0), np.cov(x1, rowvar=False), x2.mean(0), np.cov(x2, rowvar=False)
  )
  assert frechet.frechet_distance_from_features(x1, x2) == pytest.approx(
    expected, rel=1e-10
  )


def test_reference_uses_legacy_resize_not_half_pixel(extractors, graph_def):
  # Resizing with half-pixel centres (tf.image.resize) gives other features:
  # the port must follow the graph's legacy ResizeBilinear.
  reference, fast = extractors
  images = _images(3, 2, 32).astype(np.float32)
  resized = tf.image.resize(images, (299, 299)).numpy()
  assert _relative(fast(resized)[0], reference(images)[0]) > 1e-3


def test_reference_logits_use_no_bias(extractors, graph_def):
  reference, _ = extractors
  constants = graph.graph_constants(graph_def)
  features, logits = reference(_images(4, 2, 32))
  np.testing.assert_allclose(
    logits,
    features @ constants["softmax/weights"].astype(np.float64),
    rtol=1e-10,
  )


def test_fast_is_float32_under_mixed_precision(graph_def):
  import keras

  keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
  try:
    model = port.build_keras_model(graph_def)
  finally:
    keras.mixed_precision.set_dtype_policy("float32")
  assert {
    layer.compute_dtype
    for layer in model.layers
    if not isinstance(layer, keras.layers.InputLayer)
  } == {"float32"}
  assert model.inputs[0].dtype == "float32"
  assert [t.dtype for t in model.outputs] == ["float32", "float32"]


@pytest.mark.slow
def test_scale_after_normalization_false_is_honoured(tmp_path):
  graph_def = testing.make_graph_def(seed=1, scale_after_normalization=False)
  images = _images(5, 2, 32)
  ref = inception.ReferenceExtractor(graph_def)(images)[0]
  fast = inception.FastExtractor(graph_def, jit_compile=False)(images)[0]
  assert _relative(fast, ref) < 1e-4


def test_check_graph_rejects_a_different_network(graph_def):
  broken = tf.compat.v1.GraphDef()
  broken.CopyFrom(graph_def)
  for node in broken.node:
    if node.name == "mixed_10/tower_2/pool":
      node.op = "AvgPool"  # torchvision's choice, not the 2015 graph's
  with pytest.raises(port.InceptionError, match="expected MaxPool"):
    port.check_graph(broken)
  assert architecture.FEATURE_DIM == 2048


def test_folded_batch_norm_variant_is_close(graph_def, extractors):
  reference, _ = extractors
  folded = inception.FastExtractor(graph_def, jit_compile=False, fold_bn=True)
  images = _images(6, 4, 32)
  assert _relative(folded(images)[0], reference(images)[0]) < 1e-4


@pytest.mark.slow
def test_xla_path_equals_reference(graph_def, extractors):
  reference, _ = extractors
  xla = inception.FastExtractor(graph_def, jit_compile=True)
  images = _images(7, 2, 32)
  assert _relative(xla(images)[0], reference(images)[0]) < 1e-4
