"""Data flows one way: nothing in hwr_jax imports what stands above it.

Each module may import modules of a lower layer, or of its own package;
imports inside functions count too (a lazy import is still a dependency).
Readers do not import each other (only their shared `base.py` and `rules.py`;
`readers/__init__.py` chooses among them).
"""

import ast
import os

from conftest import ROOT

LAYERS = {
    "cache": 0, "runtime": 0, "parallel": 0, "run_log": 0,   # infrastructure
    "preprocess": 1, "language": 1,     # image -> model input; lexicons, n-grams, word lists
    "data": 2, "ctc": 2,                # sources and batches; decoders
    "models": 3, "checkpoints": 3,
    "inference": 4, "pretrained": 4, "onnx_inference": 4,    # restore + compiled prediction; shipped models
    "evaluators": 5, "readers": 5, "exporting": 5,
    "training": 6,
    "read": 7, "demo": 7, "export": 7, "__init__": 7,   # entry points (the package's load_reader)
}
SHARED_BY_READERS = ("base", "rules")


def _part(module: str) -> str:
  """'hwr_jax.data.iam' -> 'data'; 'hwr_jax' -> '__init__'."""
  parts = module.split(".")
  return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
  """(line, module) of every hwr_jax import in `source`, at any depth
  (`from hwr_jax.x import y` counts y when y is a module of x)."""
  package = module if module.endswith("__init__") else module.rsplit(".", 1)[0]
  package = package.removesuffix(".__init__")
  found = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      found += [(node.lineno, a.name) for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:   # relative: resolve against this module's package
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
      modules = [f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")]
      if len(modules) < len(node.names):   # a name defined in `base` itself
        found.append((node.lineno, base))
      found += [(node.lineno, m) for m in modules]
  return [(line, m) for line, m in found if m == "hwr_jax" or m.startswith("hwr_jax.")]


def _is_module(name: str) -> bool:
  path = os.path.join(ROOT, *name.split("."))
  return os.path.isdir(path) or os.path.exists(path + ".py")


def violations(source: str, module: str) -> list[str]:
  """Why `module`'s imports break the layering (empty when they do not)."""
  here = _part(module)
  out = []
  for line, target in imported_modules(source, module):
    there = _part(target)
    if target == "hwr_jax" and here != "__init__":
      out.append(f"{module}:{line} imports the package root (an entry point)")
      continue
    if there not in LAYERS or here not in LAYERS:
      out.append(f"{module}:{line}: {here if here not in LAYERS else there!r} has no layer "
                 "(add it to LAYERS)")
      continue
    if here == there:
      if here == "readers" and target.count(".") >= 2 and module.count(".") >= 2:
        mine, theirs = module.split(".")[2], target.split(".")[2]
        if mine != theirs and mine != "__init__" and theirs not in SHARED_BY_READERS:
          out.append(f"{module}:{line} imports another reader, {target}")
      continue
    if LAYERS[there] >= LAYERS[here]:
      out.append(f"{module}:{line} ({here}, layer {LAYERS[here]}) imports {target} "
                 f"({there}, layer {LAYERS[there]})")
  return out


def package_modules():
  root = os.path.join(ROOT, "hwr_jax")
  for folder, _, files in os.walk(root):
    for name in sorted(files):
      if name.endswith(".py"):
        path = os.path.join(folder, name)
        module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        yield module.removesuffix(".__init__") if name == "__init__.py" else module, path


def test_no_module_imports_what_stands_above_it():
  found = []
  for module, path in package_modules():
    with open(path, encoding="utf-8") as f:
      found += violations(f.read(), module)
  assert not found, "\n".join(found)


def test_the_check_catches_upward_imports_also_inside_functions():
  assert violations("def f():\n  from hwr_jax.models.crnn import CRNN\n", "hwr_jax.data.iam")
  assert violations("from hwr_jax.training import loop\n", "hwr_jax.evaluators.text")
  assert violations("import hwr_jax.training.run\n", "hwr_jax.inference")
  assert violations("def f():\n  from hwr_jax.readers import crnn\n",
                    "hwr_jax.readers.segmentation")
  assert violations("from hwr_jax.readers.crnn import CRNNReader\n", "hwr_jax.readers.ink")
  assert violations("from hwr_jax import readers\n", "hwr_jax.data.iam")
  assert violations("from hwr_jax.newthing import x\n", "hwr_jax.data.iam")   # no layer yet
  # what is allowed
  assert not violations("from hwr_jax.preprocess import image\n", "hwr_jax.data.iam")
  assert not violations("from hwr_jax.readers.base import Reader\n", "hwr_jax.readers.crnn")
  assert not violations("from hwr_jax.readers.crnn import CRNNReader\n", "hwr_jax.readers")
  assert not violations("from hwr_jax.evaluators import text\n", "hwr_jax.training.words")
