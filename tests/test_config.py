"""Flags -> Config: every flagfile validates; each bad flag fails cleanly."""

import dataclasses
import glob
import json
import os
import re
import subprocess
import sys

from absl import flags
import numpy as np
import pytest

from fid import provenance
from tests.helpers import REPO
from tests.helpers import run_module
from tf_ttur import config as config_lib
from tf_ttur import runconfig
from tf_ttur import rundir
from tf_ttur.config import Config
from tf_ttur.config import ConfigError

FLAGFILES = sorted(glob.glob(os.path.join(REPO, "configs", "*.flags")))


def _parse(*args):
  return Config.from_args(*args)


def test_there_is_a_flagfile_per_paper_row():
  names = {os.path.basename(f) for f in FLAGFILES}
  for row in (
    "svhn",
    "cifar10",
    "celeba",
    "lsun_bedroom",
    "cifar10_wgangp",
    "lsun_bedroom_wgangp",
    "celeba_began",
    "lsun_bedroom_began",
  ):
    assert {f"{row}.flags", f"{row}_orig.flags"} <= names
  assert {
    "demo.flags",
    "smoke.flags",
    "lm1b.flags",
    "lm1b_orig.flags",
    "demo_text.flags",
  } <= names


def _stats_file(tmp_path):
  path = str(tmp_path / "stats.npz")
  np.savez(path, mu=np.zeros(2048), sigma=np.eye(2048))
  return path


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_flagfile_parses_and_validates(path, tmp_path):
  config = _parse(f"--flagfile={path}", f"--workdir={tmp_path}/run")
  if config.evaluation.fid_every:
    # The paper's reference: TTUR's published file, fetched by
    # --mode=prepare into stats/ (a missing one is prepare's to list).
    assert provenance.is_ttur_name(config.evaluation.fid_stats)
    assert config.evaluation.fid_stats.startswith("stats/")
    assert config.evaluation.fid_samples == 50_000
    config = config.replace(fid_stats=_stats_file(tmp_path))
  config.validate()
  with open(path) as f:
    header = [line for line in f if line.startswith("#")]
  assert any(
    "Command: python -m tf_ttur.main --flagfile=configs/" in line
    for line in header
  )
  if "_orig" in path:
    assert config.optimization.d_lr == config.optimization.g_lr
  elif "_fixed" in path:  # The project's variant of a row.
    assert any("Not a paper row" in line for line in header)
  elif "sngan" in path:  # Another paper's setting, and TTUR on it.
    assert any(
      "Not a row of the TTUR paper" in line or "TTUR at SAGAN's rates" in line
      for line in header
    )
  elif "demo" not in path and "smoke" not in path:
    assert config.optimization.d_lr != config.optimization.g_lr
    # BEGAN is in the appendix, with curves but no final FID: its header
    # says so instead.
    assert any(
      "Expected: best FID" in line
      or "Expected: best JSD" in line
      or "no final FID is published" in line
      for line in header
    )


def test_paper_learning_rates():
  by_row = {
    os.path.basename(p)[:-6]: _parse(f"--flagfile={p}").values()
    for p in FLAGFILES
  }
  assert (by_row["svhn"].d_lr, by_row["svhn"].g_lr) == (1e-5, 1e-4)
  assert (by_row["cifar10"].d_lr, by_row["cifar10"].g_lr) == (1e-4, 5e-4)
  assert (by_row["celeba"].d_lr, by_row["celeba"].g_lr) == (1e-5, 5e-4)
  assert (by_row["lsun_bedroom"].d_lr, by_row["lsun_bedroom"].g_lr) == (
    1e-5,
    1e-4,
  )
  assert by_row["celeba"].image_size == by_row["lsun_bedroom"].image_size == 64
  for row in ("cifar10_wgangp", "lsun_bedroom_wgangp"):
    ttur, orig = by_row[row], by_row[f"{row}_orig"]
    assert (ttur.d_lr, ttur.g_lr, ttur.n_critic) == (3e-4, 1e-4, 1)
    assert (orig.d_lr, orig.g_lr, orig.n_critic) == (1e-4, 1e-4, 5)
    assert (ttur.beta_1, ttur.beta_2, ttur.model) == (0.0, 0.9, "wgan_gp")
  assert (by_row["celeba_began"].d_lr, by_row["celeba_began"].g_lr) == (
    6e-5,
    4e-5,
  )
  assert by_row["celeba_began"].lr_halve_every == 100_000
  assert (
    by_row["lm1b"].d_lr,
    by_row["lm1b"].g_lr,
    by_row["lm1b"].n_critic,
    by_row["lm1b"].jsd_samples,
  ) == (3e-4, 1e-4, 1, 640)
  assert (by_row["lm1b_orig"].d_lr, by_row["lm1b_orig"].n_critic) == (1e-4, 10)


def test_later_flag_overrides_flagfile():
  path = os.path.join(REPO, "configs", "svhn.flags")
  assert _parse(f"--flagfile={path}", "--d_lr=3e-4").optimization.d_lr == 3e-4


def test_flags_are_generated_from_the_parts():
  """One source of defaults: every flag of tf_ttur.main is a field of a
  part, with that field's default, help and choices, and nothing else."""
  values = config_lib.define_flags(flags.FlagValues())
  fields = {name: field for name, _, field in Config().flags()}
  assert set(values) == set(fields) == set(config_lib.PART_OF)
  for name, field in fields.items():
    assert values[name].default == field.default, name
    assert values[name].help.endswith(field.metadata["flag"].help), name
    choices = field.metadata["flag"].choices
    if choices:
      assert list(values[name].parser.enum_values) == list(choices), name
  assert Config.from_args() == Config()


def test_config_is_nested_frozen_and_typed():
  config = Config.of(width=8, d_lr=3e-4)
  assert config.network.width == 8 and config.optimization.d_lr == 3e-4
  assert config.values().width == 8
  with pytest.raises(dataclasses.FrozenInstanceError):
    config.network.width = 16
  with pytest.raises(TypeError, match="no flag 'widht'"):
    config.replace(widht=16)
  for part, cls in config_lib.PARTS.items():
    assert isinstance(getattr(config, part), cls)
    assert cls.__dataclass_params__.frozen
    for field in dataclasses.fields(cls):
      assert field.type in ("bool", "int", "float", "str", "str | None"), (
        part,
        field.name,
      )


def test_old_flat_config_json_reads_as_the_nested_one(tmp_path):
  """Run directories written before the nested config resume: a flat
  config.json gives the same Config and the same recorded flags."""
  config = Config.of(model="wgan_gp", width=8, d_lr=3e-4, precision="float32")
  assert Config.from_json(json.dumps(config.flat())) == config
  assert json.loads(config.to_json())["network"]["model"] == "wgan_gp"
  for name, text in (
    ("flat", json.dumps(config.flat())),
    ("nested", config.to_json()),
  ):
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / "config.json").write_text(text)
    assert (
      runconfig.recorded_config(rundir.RunDir(str(workdir))) == config.flat()
    )
    assert runconfig.check_resume(config, config.flat()) == []


@pytest.mark.parametrize(
  "network, message",
  [
    ([1, 2], "the part network is [1, 2], not an object of its flags"),
    ("x" * 5000, 'is "' + "x" * 149 + "...[5,002 characters]...x"),
    (
      {},
      "lacks model, z_dim, width, critic_flatten, which define the run's "
      "model or data",
    ),
  ],
  ids=["list", "long_string", "empty"],
)
def test_a_damaged_config_part_is_named(tmp_path, network, message):
  recorded = json.loads(Config().to_json())
  recorded["network"] = network
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  with pytest.raises(ConfigError, match=re.escape(message)):
    runconfig.recorded_config(rundir.RunDir(str(tmp_path)))


def test_a_part_missing_other_flags_is_said_once(tmp_path):
  recorded = json.loads(Config().to_json())
  del recorded["evaluation"]["kid_every"], recorded["output"]["tflite"]
  (tmp_path / "config.json").write_text(json.dumps(recorded))
  said = []
  flat = runconfig.recorded_config(
    rundir.RunDir(str(tmp_path)), log=said.append
  )
  assert "kid_every" not in flat
  assert len(said) == 1 and "does not record kid_every, tflite" in said[0]


def test_config_round_trips_through_json():
  config = Config.of(d_lr=2e-5, dataset="cifar10")
  assert Config.from_json(config.to_json()) == config


@pytest.mark.parametrize(
  "changes, message",
  [
    (dict(dataset="imagenet"), "--dataset='imagenet' is unknown"),
    (dict(d_lr=0.0), "--d_lr must be positive"),
    (dict(g_lr=-1e-4), "--g_lr must be positive"),
    (dict(batch_size=0), "--batch_size must be a positive integer"),
    (dict(batch_size=1.5), "--batch_size must be an integer, got 1.5"),
    (dict(image_size=48), "--image_size=48 is not supported"),
    (dict(checkpoint_every=150), "must be a multiple of --log_every"),
    (dict(cpu_replicas=2), "--cpu_replicas is for --strategy=mirrored"),
    (dict(cpu_replicas=1, strategy="mirrored"), "needs at least 2 devices"),
    (
      dict(cpu_replicas=3, strategy="mirrored", batch_size=64),
      "--batch_size=64 does not split over --cpu_replicas=3",
    ),
  ],
)
def test_validate_rejects(changes, message):
  with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
    Config.of(workdir="/tmp/unused", **changes).validate()


def test_fid_reference_is_checked_at_start(tmp_path):
  base = Config.of(workdir=str(tmp_path / "run"), fid_every=100)
  with pytest.raises(ConfigError, match="needs --fid_stats"):
    base.validate()
  bad = tmp_path / "bad.npz"
  np.savez(bad, mean=np.zeros(3))
  with pytest.raises(ConfigError, match="no mu or sigma"):
    base.replace(fid_stats=str(bad)).validate()
  with pytest.raises(ConfigError, match="multiple of --log_every"):
    base.replace(fid_every=150, fid_stats=_stats_file(tmp_path)).validate()
  base.replace(fid_stats=_stats_file(tmp_path)).validate()


def test_unwritable_workdir(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  with pytest.raises(ConfigError, match="workdir"):
    Config.of(workdir=str(blocker / "run")).validate()


@pytest.mark.slow
@pytest.mark.parametrize(
  "flag, message",
  [
    ("--dataset=imagenet", "error: --dataset='imagenet' is unknown"),
    ("--d_lr=0", "error: --d_lr must be positive"),
    ("--batch_size=0", "error: --batch_size must be a positive integer"),
    ("--batch_size=2.5", "--batch_size=2.5"),
    ("UNWRITABLE", "error: --workdir="),
  ],
)
def test_bad_flag_fails_cleanly_and_writes_nothing(flag, message, tmp_path):
  workdir = tmp_path / "run"
  if flag == "UNWRITABLE":
    (tmp_path / "file").write_text("")
    workdir = tmp_path / "file" / "run"
    flag = f"--workdir={workdir}"
  before = sorted(os.listdir(tmp_path))
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/smoke.flags",
    f"--workdir={workdir}",
    flag,
  )
  assert proc.returncode != 0
  assert message in proc.stderr
  assert "Traceback" not in proc.stderr
  assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.slow
def test_dry_run_prints_config(tmp_path):
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/svhn.flags",
    "--mode=dry_run",
    f"--workdir={tmp_path}/run",
    f"--fid_stats={_stats_file(tmp_path)}",
  )
  assert proc.returncode == 0, proc.stderr
  config = json.loads(proc.stdout)
  assert config["data"]["dataset"] == "svhn_cropped"
  assert config["optimization"]["d_lr"] == 1e-5
  assert not os.path.exists(tmp_path / "run")
  # A missing reference file is for --mode=prepare and training to list;
  # a damaged one fails a dry run too.
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/svhn.flags",
    "--mode=dry_run",
    f"--workdir={tmp_path}/run",
  )
  assert proc.returncode == 0, proc.stderr
  (tmp_path / "broken.npz").write_bytes(b"not a zip")
  proc = run_module(
    "tf_ttur.main",
    "--flagfile=configs/svhn.flags",
    "--mode=dry_run",
    f"--workdir={tmp_path}/run",
    f"--fid_stats={tmp_path}/broken.npz",
  )
  assert proc.returncode == 2
  assert "not a readable .npz" in proc.stderr


@pytest.mark.slow
def test_checking_a_config_does_not_import_tensorflow(tmp_path):
  # The registry (tf_ttur.families, tf_ttur.modalities) answers every name
  # check without the networks or the pipelines: a dry run or a bad flag
  # answers in a fraction of a second instead of TensorFlow's import time.
  code = (
    "import sys\n"
    "import tf_ttur.main\n"
    "from tf_ttur.config import Config\n"
    f"Config.of(workdir={str(tmp_path / 'a')!r}).validate()\n"
    f"Config.of(workdir={str(tmp_path / 'b')!r}, model='language',\n"
    "       dataset='english', jsd_every=100).validate()\n"
    "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
  )
  proc = subprocess.run(
    [sys.executable, "-c", code],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == "[]"


def test_an_error_line_stays_readable_whatever_the_value(capsys):
  """A 10 MB flag value (a flagfile gone wrong) is one short error line:
  the value's start, its length and its end."""
  from tf_ttur import errors

  with pytest.raises(SystemExit) as exit_info:
    errors.fail(f"--dataset={'x' * 10_000_000!r} is unknown")
  err = capsys.readouterr().err
  assert exit_info.value.code == 2
  assert err.startswith("error: --dataset='xxx") and err.count("\n") == 1
  assert "...[10,000,012 characters]..." in err and len(err) < 300
