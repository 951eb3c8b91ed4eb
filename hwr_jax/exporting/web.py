"""The static web page that reads in the browser (`hwr-export --web=FOLDER`):
the page (`hwr_jax/web/`: index.html, page.js, hwr.js), onnxruntime-web's
WebAssembly build (from the npm registry, `npm ci --prefix hwr_jax/web`, at
build time), and each exported model as models/NAME.onnx + NAME.json, listed
in models.json. Any file server serves it (`python -m http.server -d
FOLDER`); nothing is fetched from anywhere else at run time.
"""

import json
import os
import re
import shutil

WEB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")
PAGE_FILES = ("index.html", "page.js", "hwr.js")
# The WebAssembly build: the API, the loader of its binary, the binary.
ORT_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


class WebError(RuntimeError):
  """The page cannot be built (onnxruntime-web missing, a model it cannot run)."""


def ort_folder() -> str:
  """Where onnxruntime-web's dist files are: $HWR_ORT_WEB, or what
  `npm ci --prefix hwr_jax/web` installed."""
  folder = os.environ.get("HWR_ORT_WEB") or os.path.join(
      WEB, "node_modules", "onnxruntime-web", "dist")
  missing = [f for f in ORT_FILES if not os.path.exists(os.path.join(folder, f))]
  if missing:
    raise WebError(f"onnxruntime-web not found in {folder} ({', '.join(missing)} missing): "
                   f"install it with `npm ci --prefix {WEB}` (Node.js and npm), or set "
                   "HWR_ORT_WEB to a folder holding its dist files.")
  return folder


def add_model(folder: str, name: str, graph: bytes, settings: dict) -> str:
  """Writes (or refreshes) the page in `folder` with model `name` added to the
  models it offers; returns the page's path."""
  if settings["kind"] not in ("crnn", "ink"):
    raise WebError(f"the page reads words, lines and ink; {name} is a {settings['kind']} "
                   "model (a character classifier reads through the segmentation reader).")
  name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "model"   # a file and URL name
  ort = ort_folder()
  os.makedirs(os.path.join(folder, "models"), exist_ok=True)
  for file in PAGE_FILES:
    shutil.copyfile(os.path.join(WEB, file), os.path.join(folder, file))
  for file in ORT_FILES:
    shutil.copyfile(os.path.join(ort, file), os.path.join(folder, file))
  with open(os.path.join(folder, "models", name + ".onnx"), "wb") as f:
    f.write(graph)
  with open(os.path.join(folder, "models", name + ".json"), "w") as f:
    json.dump(settings, f, indent=1)
  listing = os.path.join(folder, "models.json")
  models = {}
  if os.path.exists(listing):
    with open(listing) as f:
      models = json.load(f)
  what = "pen strokes" if settings["kind"] == "ink" else (
      "lines" if settings.get("reads_lines") else "words")
  models[name] = what
  with open(listing, "w") as f:
    json.dump(models, f, indent=1)
  return os.path.join(folder, "index.html")
