"""The README's commands, in the README's order, on a copy of the repository's
tracked files (what a fresh clone has): each one that can run offline exits
0 without a traceback or TensorFlow's own log lines, and reads only what the
README's earlier commands made.

What is changed, and why, is declared here: trainings are shortened
(SHORTER) and compare runs one seed of each flagfile, sample counts are
lowered (the Inception pass costs about 16 images/s on a 2-core CPU), the
2015 Inception graph is replaced by the synthetic one (no download here:
`--inception=`), and YOUR_IMAGES is a folder of PNGs. Commands that need the
internet, Docker or a dataset this machine cannot have are listed in SKIPPED
with the reason; a README command that matches no rule fails the test, so a
new command is either run or skipped on purpose.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO
from tests.helpers import write_random_pngs

README = os.path.join(REPO, "README.md")

# A command's start (after `python -m ` where it is one) -> why it is not
# run here.
SKIPPED = {
  "pip install": "the environment is installed (CI installs "
  "requirements.txt before the tests)",
  "pytest": "this test suite itself",
  "mkdir -p /tmp/serve": "TensorFlow Serving in Docker (tests/"
  "test_serving.py runs the same SavedModel "
  "through its loader)",
  "cp -r saved_models/demo_shapes_dcgan /tmp/serve": "the same",
  "docker": "the same",
  "curl": "the same",
  "python -c": "a TensorFlow Serving request (the same)",
}
# Substrings of commands that need what is not here.
NEEDS = {
  "stats/fid_stats_cifar10_train.npz": "TTUR's published statistics "
  "(a download)",
  "tfds:cifar10": "CIFAR-10 through TFDS (a download)",
  "configs/lm1b": "the One Billion Word Benchmark (a download)",
}
# Shorter trainings: flags appended to the flagfile's (and its
# evaluation's: fd_shapes for images, the JSD for text).
SHORTER = (
  "--train_steps=50",
  "--log_every=25",
  "--checkpoint_every=50",
  "--sample_every=50",
)


def readme_commands() -> list[str]:
  """The commands of the README's ```bash blocks, in order (`A && B` is
  two)."""
  with open(README) as f:
    text = f.read()
  blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
  return [
    part.strip()
    for block in blocks
    for line in block.splitlines()
    for part in line.split(" && ")
    if part.strip()
  ]


def _skip_reason(command: str) -> str | None:
  bare = command.removeprefix("python -m ")
  for start, why in SKIPPED.items():
    if bare.startswith(start) or command.startswith(start):
      return why
  for needed, why in NEEDS.items():
    if needed in command:
      return why
  return None


def _as_run(command: str, inception_pb: str, images: str) -> list[str]:
  """The argv this test runs for a README command."""
  argv = shlex.split(command, comments=True)
  assert argv[:2] == ["python", "-m"], command
  module = argv[2]
  argv = [sys.executable, *argv[1:]]
  argv = [re.sub(r"^--num=\d{3,}$", "--num=24", a) for a in argv]
  argv = [images if a.rstrip("/") == "YOUR_IMAGES" else a for a in argv]
  evaluation = (
    "--jsd_every=50" if "demo_text" in command else "--quality_every=50"
  )
  if module == "tf_ttur.main":
    argv += [*SHORTER, evaluation]
  elif module == "tf_ttur.experiments.compare":
    argv = [re.sub(r"^--seeds=\d+$", "--seeds=1", a) for a in argv]
    argv += [f"--override={flag}" for flag in (*SHORTER, evaluation)]
  elif module == "fid" and "--info" in argv:
    pass  # Reads a file; computes nothing.
  elif module == "fid":
    argv = [
      re.sub(r"^tfds:shapes:train$", "tfds:shapes:train[:48]", a) for a in argv
    ]
    argv += [f"--inception={inception_pb}", "--batch_size=24"]
  else:
    assert module == "tf_ttur.sample", f"no rule for {command!r}"
  return argv


def test_every_readme_command_is_run_or_skipped_on_purpose():
  commands = readme_commands()
  assert any(
    "tf_ttur.main --flagfile=configs/demo.flags" in c for c in commands
  )
  for command in commands:
    if _skip_reason(command) is None:
      _as_run(command, "PB", "IMAGES")  # Raises for a command without a rule.


@pytest.mark.slow
def test_readme_commands_chain_on_a_fresh_copy(
  tmp_path, tfds_dir, inception_pb
):
  clone = tmp_path / "clone"
  files = (
    subprocess.run(
      ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    )
    .stdout.decode()
    .split("\0")
  )
  for name in filter(None, files):
    source, target = os.path.join(REPO, name), clone / name
    if os.path.isfile(source):
      target.parent.mkdir(parents=True, exist_ok=True)
      target.write_bytes(open(source, "rb").read())
  images = write_random_pngs(tmp_path / "your_images", 8, seed=0)
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["TFDS_DATA_DIR"] = tfds_dir
  ran = []
  for command in readme_commands():
    if _skip_reason(command):
      continue
    argv = _as_run(command, inception_pb, str(images))
    start = time.monotonic()
    proc = subprocess.run(
      argv, cwd=clone, env=env, capture_output=True, text=True, timeout=900
    )
    print(f"{time.monotonic() - start:6.1f} s  {command}")
    said = f"{command}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, said
    assert "Traceback" not in proc.stderr, said
    for internal in (
      "I0000",
      "absl::InitializeLog",
      "dataset_info.py",
      "Sharding callback",
      "Assets written to",
    ):
      assert internal not in proc.stderr, said
    ran.append(command)
  assert len(ran) >= 10, ran
  for made in (
    "runs/demo/saved_model",
    "runs/samples",
    "runs/grid.png",
    "runs/shapes_train_32.npz",
    "runs/compare/compare.png",
    "runs/demo_text/saved_model",
  ):
    assert (clone / made).exists(), made
