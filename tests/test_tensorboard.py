"""What TensorBoard shows of a run, read back from its event files: the run
named by its folder, grouped tags, both learning rates, the HParams
summary and the config as text, sample grids from step 0, the language
model's text samples, and evaluations and samples at a last step that is
no multiple of their intervals."""

from __future__ import annotations

import collections
import glob
import os

import pytest
import tensorflow as tf

from tests.helpers import REPO
from tf_ttur import summaries
from tf_ttur import train as train_lib
from tf_ttur.config import Config
from tf_ttur.families import FAMILIES

# 6 steps, intervals of 4: the last step (6) is not a multiple of them.
STEPS = dict(
  train_steps=6,
  log_every=2,
  checkpoint_every=4,
  sample_every=4,
  precision="float32",
  jit_compile="false",
  export=False,
)


def _events(workdir: str) -> dict[str, list[tuple[int, object]]]:
  """{tag: [(step, value)]} of the event files at the run's top (scalars
  as floats, text as str, the HParams summaries as their plugin data,
  images as their plugin's name)."""
  files = glob.glob(os.path.join(workdir, "events.out.tfevents.*"))
  assert files, os.listdir(workdir)
  found = collections.defaultdict(list)
  for path in files:
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        plugin = value.metadata.plugin_data.plugin_name
        tensor = (
          tf.make_ndarray(value.tensor) if value.HasField("tensor") else None
        )
        if plugin == "text":
          item = tensor.item().decode()
        elif plugin == "hparams":
          item = value.metadata.plugin_data.content
        elif plugin == "scalars":
          item = float(tensor)
        else:
          item = plugin  # Images: which plugin shows them.
        found[value.tag].append((event.step, item))
  return found


def _steps(events, tag):
  return sorted(step for step, _ in events[tag])


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, tfds_dir):
  workdir = str(tmp_path_factory.mktemp("tb") / "demo_like")
  train_lib.train(
    Config.of(
      workdir=workdir,
      data_dir=tfds_dir,
      image_size=32,
      width=8,
      batch_size=16,
      grid_size=2,
      shuffle_buffer=256,
      d_lr=1e-4,
      g_lr=5e-4,
      quality_every=4,
      quality_samples=40,
      quality_model=os.path.join(REPO, "saved_models", "shapes_classifier"),
      **STEPS,
    )
  )
  return workdir


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("tb") / "text")
  train_lib.train(
    Config.of(
      workdir=workdir,
      model="language",
      dataset="english",
      z_dim=16,
      width=8,
      batch_size=8,
      grid_size=2,
      jsd_every=4,
      jsd_samples=16,
      d_lr=3e-4,
      g_lr=1e-4,
      **STEPS,
    )
  )
  return workdir


@pytest.mark.slow
def test_image_run_tags_steps_and_settings(image_run):
  events = _events(image_run)
  # The run's folder holds the event files: TensorBoard names it by it.
  assert not os.path.exists(os.path.join(image_run, "tensorboard"))
  # Grouped, named losses of DCGAN; no flat tags, no elapsed time.
  assert _steps(events, "loss/d_bce") == _steps(events, "loss/g_bce")
  assert _steps(events, "loss/d_bce") == [2, 4, 6]
  assert not {"d_loss", "g_loss", "steps_per_sec", "elapsed_sec"} & set(events)
  assert not [t for t in events if "elapsed" in t]
  # The first interval (tracing) apart from the speed curve.
  assert _steps(events, "speed/first_interval_steps_per_sec") == [2]
  assert _steps(events, "speed/steps_per_sec") == [4, 6]
  # Both rates at the start and at every log step (a constant line).
  assert sorted(events["lr/d"]) == [
    (s, pytest.approx(1e-4)) for s in (0, 2, 4, 6)
  ]
  assert sorted(events["lr/g"]) == [
    (s, pytest.approx(5e-4)) for s in (0, 2, 4, 6)
  ]
  # Evaluations at 4 and at the last step, 6; the best so far beside.
  assert _steps(events, "eval/fd_shapes") == [4, 6]
  # The running best at every evaluation; the rates at every log step.
  assert _steps(events, "best/fd_shapes") == [4, 6]
  best = [value for _, value in sorted(events["best/fd_shapes"])]
  assert best[1] <= best[0]
  assert _steps(events, "lr/g") == _steps(events, "lr/d") == [0, 2, 4, 6]
  # Sample grids from step 0, at 4 and at the last step.
  assert _steps(events, "samples") == [0, 4, 6]
  assert sorted(os.listdir(os.path.join(image_run, "samples"))) == [
    "step_00000000.png",
    "step_00000004.png",
    "step_00000006.png",
  ]
  # The checkpoint of the last step.
  assert os.path.exists(os.path.join(image_run, "checkpoints", "ckpt-6.index"))


@pytest.mark.slow
def test_image_run_hparams_and_config_text(image_run):
  from tensorboard.plugins.hparams import plugin_data_pb2

  events = _events(image_run)
  ((_, experiment),) = events["_hparams_/experiment"]
  ((_, session),) = events["_hparams_/session_start_info"]
  experiment = plugin_data_pb2.HParamsPluginData.FromString(experiment)
  session = plugin_data_pb2.HParamsPluginData.FromString(session)
  names = [h.name for h in experiment.experiment.hparam_infos]
  assert names[:2] == ["g_lr", "d_lr"]
  # Only what the run evaluates (quality_every): TensorBoard's parallel
  # coordinates draw a trial only where every metric column has a value.
  assert {m.name.tag for m in experiment.experiment.metric_infos} == {
    "best/fd_shapes"
  }
  hparams = session.session_start_info.hparams
  assert hparams["g_lr"].number_value == pytest.approx(5e-4)
  assert hparams["d_lr"].number_value == pytest.approx(1e-4)
  assert hparams["model"].string_value == "dcgan"
  assert hparams["precision"].string_value == "float32"
  # No trial ID of its own: TensorBoard names the trial by the run, its
  # folder relative to the --logdir it is given.
  assert session.session_start_info.group_name == ""
  # Domains: choices as discrete values, integers as integer intervals.
  infos = {h.name: h for h in experiment.experiment.hparam_infos}
  assert sorted(
    v.string_value for v in infos["model"].domain_discrete.values
  ) == sorted(FAMILIES)
  assert infos["batch_size"].HasField("domain_interval")
  ((step, text),) = events["config"]
  assert step == 0
  # Verbatim: a code block of the whole config.json.
  assert all(line.startswith("    ") for line in text.splitlines())
  assert (
    Config.from_json(
      "\n".join(line[4:] for line in text.splitlines())
    ).optimization.g_lr
    == 5e-4
  )


@pytest.mark.slow
def test_text_run_samples_and_jsd_reach_tensorboard(text_run):
  events = _events(text_run)
  assert _steps(events, "samples") == [0, 4, 6]
  step, text = events["samples"][-1]
  lines = [line[4:] for line in text.splitlines()]
  with open(os.path.join(text_run, "samples", "step_00000006.txt")) as f:
    assert lines == f.read().splitlines()
  assert len(lines) == 4 and all(len(line) == 32 for line in lines)
  # The language model's losses are the WGAN-GP's.
  assert "loss/critic_wasserstein_plus_gp" in events
  assert "loss/gradient_penalty" in events
  assert _steps(events, "eval/jsd_4") == [4, 6]
  assert _steps(events, "best/jsd_4") == [4, 6]
  from tensorboard.plugins.hparams import plugin_data_pb2

  ((_, experiment),) = events["_hparams_/experiment"]
  experiment = plugin_data_pb2.HParamsPluginData.FromString(experiment)
  assert [m.name.tag for m in experiment.experiment.metric_infos] == [
    "best/jsd_4",
    "best/jsd_6",
  ]
  assert sorted(events["lr/d"]) == [
    (s, pytest.approx(3e-4)) for s in (0, 2, 4, 6)
  ]


@pytest.mark.slow
def test_learning_rate_is_logged_when_it_halves(tfds_dir, tmp_path):
  """--lr_halve_every: the rates' curves step down where they halve."""
  workdir = str(tmp_path / "halving")
  train_lib.train(
    Config.of(
      workdir=workdir,
      data_dir=tfds_dir,
      image_size=32,
      width=8,
      batch_size=16,
      grid_size=2,
      shuffle_buffer=256,
      lr_halve_every=4,
      **{**STEPS, "sample_every": 6, "checkpoint_every": 6},
    )
  )
  events = _events(workdir)
  # At every log step: flat, then a step down where it halves (not a
  # linear decay between two dots).
  assert sorted(events["lr/g"]) == [
    (0, pytest.approx(5e-4)),
    (2, pytest.approx(5e-4)),
    (4, pytest.approx(2.5e-4)),
    (6, pytest.approx(2.5e-4)),
  ]


def test_tags_name_each_familys_losses():
  record = {
    "step": 4,
    "time": 1.0,
    "elapsed_sec": 3.0,
    "d_loss": 0.5,
    "g_loss": 0.25,
    "gp": 0.1,
    "wasserstein": 2.0,
    "steps_per_sec": 8.0,
    "checkpoint": "ckpt-4",
  }
  assert summaries.scalars(record, FAMILIES["wgan_gp"]) == {
    "loss/critic_wasserstein_plus_gp": 0.5,
    "loss/g_wasserstein": 0.25,
    "loss/gradient_penalty": 0.1,
    "loss/wasserstein_estimate": 2.0,
    "speed/steps_per_sec": 8.0,
  }
  assert summaries.tag("d_loss", FAMILIES["dcgan"]) == "loss/d_bce"
  assert summaries.tag("k_t", FAMILIES["began"]) == "began/k_t"
  assert summaries.tag("jsd_4", FAMILIES["language"]) == "eval/jsd_4"
  # Verbatim in TensorBoard's markdown: every line indented (a code block).
  assert summaries.code_block("a*b*\n`x`") == "    a*b*\n    `x`"
