"""pytorch-fid's own command line, offline: its Inception with random
weights instead of the downloaded ones (same architecture, so the same
speed; the FID value means nothing). For the end-to-end timing of
benchmarks/fid_speed.py where pytorch-fid's weights cannot be downloaded.

    python benchmarks/pytorch_fid_offline.py A B --device cpu --batch-size 50
"""

import sys

from pytorch_fid import fid_score
from pytorch_fid import inception
import torch

inception.load_state_dict_from_url = lambda *args, **kwargs: None
_load = torch.nn.Module.load_state_dict


def _keep_random(self, state_dict, *args, **kwargs):
  if state_dict is None:  # The weights that could not be downloaded.
    return None
  return _load(self, state_dict, *args, **kwargs)


torch.nn.Module.load_state_dict = _keep_random

if __name__ == "__main__":
  sys.argv = ["pytorch_fid", *sys.argv[1:]]
  fid_score.main()
