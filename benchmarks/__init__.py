"""Speed scripts that print tables; never part of the test suite."""

# First, so that TensorFlow loads with the project's oneDNN default
# (tf_ttur/__init__.py): the benchmarks time what `tf_ttur.main` runs.
import tf_ttur  # noqa: F401
