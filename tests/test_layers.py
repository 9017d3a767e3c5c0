"""The package's layers (docs/design.md, "Layers") drawn from the code itself:
every import, at module level or inside a function, runs down a layer or
stays in its own, and nothing imports in a circle. fid never imports
tf_ttur. Every parameter named `config` is typed Config."""

from __future__ import annotations

import ast
import os

from tests.helpers import REPO

# Lowest first. A module may import modules of its own layer or below.
LAYERS = (
  # 1. Leaves: errors, hardware, pixel conversion, names of datasets, the
  #    shapes generator and noise, and the whole fid package.
  (
    "tf_ttur.errors",
    "tf_ttur.hardware",
    "tf_ttur.pixels",
    "tf_ttur.data",
    "tf_ttur.data.shapes",
    "tf_ttur.data.noise",
    "tf_ttur.preemption",
    "fid",
  ),
  # 2. Descriptions as data: modalities, families, the flags, the file
  #    checks (each takes values, not a config).
  (
    "tf_ttur.modalities",
    "tf_ttur.families",
    "tf_ttur.evals",
    "tf_ttur.flags",
    "tf_ttur.preflight",
  ),
  # 3. The configuration.
  ("tf_ttur.settings", "tf_ttur.config"),
  # 4. What a run is made of: networks, losses, the GAN and its builder,
  #    the data pipelines and the run's data, checkpoints, the run
  #    directory, records, the runtime, sample grids, n-grams, and what
  #    a run needs from outside (prepare).
  (
    "tf_ttur.networks",
    "tf_ttur.losses",
    "tf_ttur.gan",
    "tf_ttur.builder",
    "tf_ttur.data.images",
    "tf_ttur.data.text",
    "tf_ttur.rundata",
    "tf_ttur.checkpointing",
    "tf_ttur.rundir",
    "tf_ttur.discovery",
    "tf_ttur.runconfig",
    "tf_ttur.run",
    "tf_ttur.records",
    "tf_ttur.runtime",
    "tf_ttur.grid",
    "tf_ttur.jsd",
    "tf_ttur.summaries",
    "tf_ttur.prepare_fid",
    "tf_ttur.prepare",
  ),
  # 5. Callbacks, evaluation, export: each with its own table keyed by the
  #    modality's name.
  (
    "tf_ttur.callbacks",
    "tf_ttur.generated",
    "tf_ttur.evaluators",
    "tf_ttur.kernel_evaluators",
    "tf_ttur.evaluation",
    "tf_ttur.export",
  ),
  # 6. A run, assembled.
  ("tf_ttur.train",),
  # 7. The programs.
  ("tf_ttur.main", "tf_ttur.sample", "tf_ttur.quality", "tf_ttur.experiments"),
)


def _modules() -> dict[str, str]:
  found = {}
  for package in ("tf_ttur", "fid"):
    for folder, _, files in os.walk(os.path.join(REPO, package)):
      for name in files:
        if not name.endswith(".py"):
          continue
        path = os.path.join(folder, name)
        module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
        found[module.removesuffix(".__init__")] = path
  return found


MODULES = _modules()


def test_design_md_is_the_layer_table():
  """docs/design.md's numbered "Layers" list names, in backticks, exactly
  the modules of each layer (relative to tf_ttur; `fid` the package): the
  one table, which cannot drift from LAYERS."""
  import re

  with open(os.path.join(REPO, "docs", "design.md")) as f:
    text = f.read()
  section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
  items = re.findall(
    r"^(\d)\. (.*?)(?=^\d\. |^\S|\Z)", section, flags=re.S | re.M
  )
  assert [int(n) for n, _ in items] == list(range(1, len(LAYERS) + 1))
  for (number, item), members in zip(items, LAYERS):
    named = set(re.findall(r"`([a-z_.]+)`", item))
    expected = {m.removeprefix("tf_ttur.") for m in members}
    assert expected <= named, (number, sorted(expected - named))
    stray = {
      n for n in named - expected if f"tf_ttur.{n}" in MODULES or n in MODULES
    }
    assert not stray, (number, sorted(stray))


def _own(name: str) -> str | None:
  """The project module `name` resolves to (a package's submodule
  imported as `from package import name` included), or None."""
  while name and name not in MODULES:
    name = name.rpartition(".")[0]
  return name or None


def _imports(module: str, tree: ast.AST) -> set[str]:
  """Every project module `module` imports, anywhere in its code."""
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        package = module.split(".")
        if not MODULES[module].endswith("__init__.py"):
          package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
      names = [f"{base}.{alias.name}" for alias in node.names]
    else:
      continue
    found.update(own for own in map(_own, names) if own)
  found.discard(module)
  return found


def _layer(module: str) -> int:
  if module == "tf_ttur":
    return 0  # The package itself: its version (fid's) and an environment.
  best = None
  for index, members in enumerate(LAYERS):
    for member in members:
      if (module == member or module.startswith(member + ".")) and (
        best is None or len(member) > best[1]
      ):
        best = (index, len(member))
  assert best is not None, f"{module} is in no layer of LAYERS"
  return best[0]


def _graph() -> dict[str, set[str]]:
  graph = {}
  for module, path in MODULES.items():
    with open(path, encoding="utf-8") as f:
      graph[module] = _imports(module, ast.parse(f.read()))
  return graph


GRAPH = _graph()


def test_every_import_runs_down_or_stays_in_its_layer():
  upward = [
    f"{module} (layer {_layer(module) + 1}) imports {target} "
    f"(layer {_layer(target) + 1})"
    for module, targets in sorted(GRAPH.items())
    for target in sorted(targets)
    if _layer(target) > _layer(module)
  ]
  assert not upward, "\n".join(upward)


def test_no_module_imports_in_a_circle():
  done, on_path, circles = set(), [], []

  def visit(module):
    if module in on_path:
      circles.append(on_path[on_path.index(module) :] + [module])
      return
    if module in done:
      return
    on_path.append(module)
    for target in sorted(GRAPH[module]):
      visit(target)
    on_path.pop()
    done.add(module)

  for module in sorted(GRAPH):
    visit(module)
  assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_fid_never_imports_tf_ttur():
  leaks = [
    (m, t)
    for m, targets in GRAPH.items()
    if m.startswith("fid")
    for t in targets
    if t.startswith("tf_ttur")
  ]
  assert not leaks


def test_the_check_sees_imports_inside_functions():
  """The drawing is not only of module-level imports."""
  tree = ast.parse("def f():\n  from tf_ttur import train\n")
  assert _imports("tf_ttur.errors", tree) == {"tf_ttur.train"}
  assert _layer("tf_ttur.train") > _layer("tf_ttur.errors")


def test_every_config_parameter_is_typed_config():
  untyped = []
  for module, path in MODULES.items():
    if not module.startswith("tf_ttur"):
      continue
    with open(path, encoding="utf-8") as f:
      tree = ast.parse(f.read())
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = (
          node.args.posonlyargs + node.args.args + (node.args.kwonlyargs)
        )
        for argument in arguments:
          if argument.arg == "config" and (
            argument.annotation is None
            or ast.unparse(argument.annotation) != "Config"
          ):
            untyped.append(f"{module}.{node.name}:{node.lineno}")
  assert not untyped, untyped


# What a reader takes in at once (docs/design.md, "Layers"): a module, a
# function, and the parameters of a call outside an options dataclass.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 8


def _sources():
  for folder in ("tf_ttur", "fid", "benchmarks"):
    for root, _, files in os.walk(os.path.join(REPO, folder)):
      for name in sorted(files):
        if name.endswith(".py"):
          path = os.path.join(root, name)
          with open(path, encoding="utf-8") as f:
            yield os.path.relpath(path, REPO), f.read()


def test_modules_and_functions_stay_small():
  too_big = []
  for path, text in _sources():
    lines = text.count("\n")
    if lines > MAX_MODULE_LINES:
      too_big.append(f"{path}: {lines} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
      if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        continue
      length = node.end_lineno - node.lineno + 1
      if length > MAX_FUNCTION_LINES:
        too_big.append(
          f"{path}:{node.lineno} {node.name}: {length} lines (at most "
          f"{MAX_FUNCTION_LINES}; split it)"
        )
      a = node.args
      names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
      count = len([n for n in names if n not in ("self", "cls")])
      if count > MAX_PARAMETERS:
        too_big.append(
          f"{path}:{node.lineno} {node.name}: {count} parameters (at most "
          f"{MAX_PARAMETERS}; an options dataclass holds more)"
        )
  assert not too_big, "\n".join(too_big)
