"""What hwr-export writes: a loaded model's ONNX graph and the settings a
reader of it needs (charset, input geometry, decoders), as files."""

import json
import os
import tempfile


def settings(model) -> dict:
  """What a reader of the exported graph needs besides it."""
  from hwr_jax.checkpoints.exported import without_paths
  from hwr_jax.preprocess.word_input import reads_lines
  out = {"format": 1, "kind": model.name, "charset": model.charset,
         "outputs": "log_probs (blank = 0 for sequence models)",
         "config": without_paths(model.config.to_dict())}
  if model.name == "crnn":
    geometry = model.geometry
    out.update(height=geometry.height, buckets=list(geometry.buckets),
               columns_per_frame=geometry.columns_per_frame,
               reads_lines=reads_lines(model.config, model.charset), decoders=["best_path", "beam"])
  elif model.name == "ink":
    out.update(buckets=list(model.geometry.buckets),
               points_per_frame=model.config.ink.points_per_frame, reads_lines=True,
               decoders=["best_path", "beam"])
  return out


def graph(model):
  """(the ONNX graph, its settings) of a loaded model; the settings are also
  in the graph's metadata."""
  from hwr_jax.exporting.onnx_graph import to_onnx
  info = settings(model)
  return to_onnx(model, {k: json.dumps(v) for k, v in info.items() if k != "config"}), info


def write_files(out: str, proto, info: dict) -> str:
  """Writes the graph to `out` and its settings beside it (.json, returned),
  each whole or not at all."""
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  sidecar = os.path.splitext(out)[0] + ".json"
  for path, data in ((sidecar, json.dumps(info, indent=1).encode()),
                     (out, proto.SerializeToString())):
    # A temporary file of its own: processes writing the same graph at once
    # never see each other's half-written file.
    with tempfile.NamedTemporaryFile("wb", dir=os.path.dirname(os.path.abspath(path)),
                                     delete=False) as f:
      f.write(data)
    os.replace(f.name, path)
  return sidecar
