"""A few training steps of each family through the one GAN train_step,
with FID on the synthetic Inception graph written to metrics.jsonl."""

import json
import os

import numpy as np
import pytest

from tf_ttur import export as export_lib
from tf_ttur import train as train_lib
from tf_ttur.config import Config

FAMILIES = {
    "dcgan": dict(model="dcgan", image_size=32, z_dim=16, width=4),
    "wgan_gp": dict(model="wgan_gp", image_size=32, z_dim=16, width=4,
                    n_critic=2, beta_1=0.0, beta_2=0.9, d_lr=3e-4, g_lr=1e-4),
    "began": dict(model="began", image_size=64, z_dim=8, width=4, beta_1=0.9,
                  lr_halve_every=1, d_lr=6e-5, g_lr=4e-5),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_trains_and_logs_fid(family, tmp_path, tfds_dir, inception_pb,
                                    stats_file):
  config = Config.of(
      workdir=str(tmp_path / "run"), data_dir=tfds_dir, batch_size=4,
      train_steps=2, log_every=1, checkpoint_every=2, sample_every=2,
      grid_size=2, shuffle_buffer=64, precision="float32", jit_compile="false",
      fid_every=2, fid_samples=6, fid_stats=stats_file,
      fid_inception=inception_pb, fid_batch_size=3,
      **FAMILIES[family]).validate()
  model = train_lib.train(config)
  with open(tmp_path / "run" / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  losses = [r for r in records if "d_loss" in r]
  fids = [r for r in records if "fid" in r]
  assert [r["step"] for r in losses] == [1, 2]
  assert len(fids) == 1 and fids[0]["step"] == 2
  assert np.isfinite(fids[0]["fid"]) and fids[0]["fid"] > 0
  assert fids[0]["checkpoint"] == "ckpt-2" and fids[0]["fid_samples"] == 6
  # The best generator says which FID it has, against which statistics.
  for export in ("saved_model_best", "saved_model"):
    info = export_lib.read_model_info(str(tmp_path / "run" / export))
    assert info["family"] == family and info["step"] == 2
    assert info["fid"]["value"] == fids[0]["fid"]
    assert info["fid"]["reference_stats"] == os.path.basename(stats_file)
  with open(tmp_path / "run" / "best_fid.json") as f:
    assert json.load(f)["fid"] == fids[0]["fid"]
  if family == "wgan_gp":
    assert {"wasserstein", "gp"} <= set(losses[0])
    assert int(model.d_optimizer.iterations) == 4  # 2 critic steps per step
    assert int(model.g_optimizer.iterations) == 2
  if family == "began":
    assert {"m_global", "k_t"} <= set(losses[0])
    assert 0.0 <= float(model.k_t) <= 1.0
    # Halved after each update here (lr_halve_every=1): 6e-5 / 4 after 2.
    lr = model.d_optimizer.learning_rate
    assert float(lr) == pytest.approx(6e-5 / 4)
