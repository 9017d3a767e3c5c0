"""The paper's small experiments, as programs (docs/paper.md A.5):

- `python -m tf_ttur.experiments.toy`: TTUR against one time scale on a
  two-player toy game;
- `python -m tf_ttur.experiments.disturb`: the FID's sanity check, images
  disturbed in six ways at growing strength;
- `python -m tf_ttur.experiments.compare`: training runs of several
  flagfiles over several seeds, plotted against each other.
"""
