"""A pretrained model's ONNX graph, written once into the cache folder, so
that `hwr-read` reads a pretrained model with onnxruntime and never imports
JAX after its first run (`hwr-read --engine`).

The cache entry is keyed by the model folder's SHA256SUMS (checked first, so
a damaged weights file is still the one clear error), the code that writes
the graph and the onnx version; the first run exports it with JAX, as
`hwr-export` does.
"""

import hashlib
import os

from hwr_jax import cache
from hwr_jax.checkpoints.exported import SUMS, verify

# The code the graph depends on, besides the weights: a change makes a new entry.
_CODE = (os.path.join("exporting", "files.py"), os.path.join("exporting", "onnx_graph.py"),
         os.path.join("checkpoints", "exported.py"), os.path.join("preprocess", "ink.py"))


def available() -> bool:
  """onnx (writes the graph) and onnxruntime (runs it) are installed; found
  without importing them."""
  from importlib.util import find_spec
  return find_spec("onnx") is not None and find_spec("onnxruntime") is not None


def onnx_file(folder: str) -> str:
  """The .onnx file (its .json settings beside it) of the exported model in
  `folder`, written into the cache folder the first time (OSError when the
  cache folder cannot be written)."""
  from importlib.metadata import version
  verify(folder)
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  digest = hashlib.sha256()
  for name in _CODE:
    with open(os.path.join(package, name), "rb") as f:
      digest.update(f.read())
  with open(os.path.join(folder, SUMS), "rb") as f:
    digest.update(f.read())
  digest.update(f"onnx {version('onnx')}".encode())
  name = os.path.basename(os.path.normpath(folder))
  path = os.path.join(cache.cache_dir(), "onnx", digest.hexdigest()[:16], name + ".onnx")
  if not (os.path.exists(path) and os.path.exists(os.path.splitext(path)[0] + ".json")):
    from hwr_jax import inference, runtime
    from hwr_jax.exporting.files import graph, write_files
    runtime.set_xla_flags()
    write_files(path, *graph(inference.load_model(folder)))
  return path
