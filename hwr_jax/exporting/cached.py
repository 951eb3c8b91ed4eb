"""A pretrained model's ONNX graph, written once into the cache folder, so
that `hwr-read` reads a pretrained model with onnxruntime and never imports
JAX after its first run (`hwr-read --engine`).

The cache entry is keyed by the model folder's SHA256SUMS (checked first, so
a damaged weights file is still the one clear error) and by the code that
writes the graph; the first run exports it with JAX, as `hwr-export` does.
"""

import hashlib
import os

from hwr_jax import cache
from hwr_jax.checkpoints.exported import SUMS, verify

_WRITERS = ("files.py", "onnx_graph.py")


def available() -> bool:
  try:
    import onnxruntime  # noqa: F401
    return True
  except ImportError:
    return False


def onnx_file(folder: str) -> str:
  """The .onnx file (its .json settings beside it) of the exported model in
  `folder`, written into the cache folder the first time."""
  verify(folder)
  here = os.path.dirname(os.path.abspath(__file__))
  code = hashlib.sha256(b"".join(open(os.path.join(here, p), "rb").read()
                                 for p in _WRITERS)).hexdigest()
  with open(os.path.join(folder, SUMS), "rb") as f:
    key = ("onnx", 1, hashlib.sha256(f.read()).hexdigest(), code)

  def build(out: str) -> str:
    path = os.path.join(out, os.path.basename(os.path.normpath(folder)) + ".onnx")
    if not os.path.exists(path):
      from hwr_jax import inference, runtime
      from hwr_jax.exporting.files import graph, write_files
      runtime.set_xla_flags()
      write_files(path, *graph(inference.load_model(folder)))
    return path

  path = cache.cached_files("onnx", key, build)
  return path if os.path.exists(path) else build(os.path.dirname(path))
