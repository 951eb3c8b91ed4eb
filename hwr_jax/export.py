"""Exporting a trained model to ONNX, to run without JAX (`hwr-export`).

  hwr-export --model=ondb-lines --out=ondb-lines.onnx
  hwr-export --workdir=runs/iam_lines --out=iam-lines.onnx --verify page.png line.png
  hwr-export --workdir=runs/dev_byclass --out=byclass.onnx
  hwr-export --model=ondb-lines --web=outputs/web     # the page that reads in the browser
  python -m http.server -d outputs/web                 # then open http://localhost:8000

Writes OUT (the graph: `hwr_jax/exporting/onnx_graph.py`; fp32, dynamic batch
and width or length) and OUT with .json for .onnx: what a reader needs beside
the graph (the charset, the model kind, its input geometry, the decoders it
reads with); the same settings are in the graph's metadata. `--verify` reads
the given images (or ink files) with the JAX model and with onnxruntime on
the exported file and reports the largest difference of log-probabilities
over the valid frames and how many texts agree (best path). `--web=FOLDER`
adds the model to a static page that reads what is written on its canvas with
onnxruntime-web, in the browser (`hwr_jax/exporting/web.py`).
"""

import argparse
import json
import os
import sys


def verify(model, session, paths: list[str]) -> dict:
  """Largest |log-probability difference| over valid frames and the share of
  best-path texts that agree, JAX against onnxruntime, on `paths`."""
  import numpy as np

  from hwr_jax.ctc.decoders import best_path_decode
  from hwr_jax.readers.base import load_image
  from hwr_jax.preprocess.image import to_gray
  if model.name == "cnn":
    raise SystemExit("--verify reads sequences (word, line and ink models).")
  from hwr_jax.data.ink_files import InkError, read_ink
  from hwr_jax.preprocess import ink
  from hwr_jax.preprocess.image import ImageError
  from hwr_jax.preprocess.word_input import normalize
  inputs, skipped = [], []
  for p in paths:
    try:
      if model.name == "ink":
        inputs += [ink.normalize(line) for line in ink.split_lines(read_ink(p))]
      else:
        inputs.append(normalize(to_gray(load_image(p)), model.geometry))
    except (ImageError, InkError, OSError) as e:   # said, and the others compared
      skipped.append(p)
      print(f"{p}: skipped: {e}", file=sys.stderr)
  import jax

  from hwr_jax import models

  @jax.jit
  def log_probs(params, x, lengths):   # the JAX model's log-softmax (not log of a softmax)
    x = x if model.name == "ink" else models.to_float(x)
    return jax.nn.log_softmax(model.module.apply({"params": params}, x, lengths))

  # Padded to their bucket and batched (one compiled program per bucket, as
  # the readers run): the valid frames do not depend on the padding.
  from hwr_jax.data import ink_sources, word_batches
  worst, same = 0.0, 0
  order = sorted(range(len(inputs)), key=lambda i: (len(inputs[i]) if model.name == "ink"
                                                    else inputs[i].shape[1]))
  for start in range(0, len(order), 32):
    index = order[start:start + 32]
    chunk = [inputs[i] for i in index]
    if model.name == "ink":
      batch = ink_sources.make_batch(chunk, None, "", model.geometry, 1)
      feeds = {"ink": batch["ink"]}
    else:
      batch = word_batches.make_batch(chunk, None, "", model.geometry, 1, prepared=True)
      feeds = {"images": batch["image"]}
    lengths = batch["length"]
    got = session.run(None, {**feeds, "lengths": lengths})[0]
    expected = np.asarray(log_probs(model.params, *feeds.values(), lengths))
    for j, frames in enumerate(lengths):
      worst = max(worst, float(np.abs(got[j, :frames] - expected[j, :frames]).max()))
      same += best_path_decode(got[None, j, :frames])[0] == \
          best_path_decode(expected[None, j, :frames])[0]
  return {"inputs": len(inputs), "skipped_files": len(skipped),
          "max_abs_log_prob_difference": worst, "same_best_path_text": same}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="hwr-export", description=__doc__.split("\n\n")[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--workdir", help="workdir of a trained model")
  source.add_argument("--model", metavar="NAME", help="a pretrained model by name")
  parser.add_argument("--out", help="the .onnx file to write")
  parser.add_argument("--web", metavar="FOLDER",
                      help="add the model to the browser page in FOLDER (written if new)")
  parser.add_argument("--checkpoint", default="best")
  parser.add_argument("--verify", nargs="+", metavar="FILE",
                      help="images or ink files to compare JAX and onnxruntime on")
  args = parser.parse_args(argv)
  if not args.out and not args.web:
    parser.error("give --out=FILE.onnx, --web=FOLDER, or both")
  if args.verify and not args.out:
    parser.error("--verify checks the file --out writes")
  from hwr_jax import runtime
  runtime.set_xla_flags()
  from hwr_jax import inference, pretrained
  from hwr_jax.exporting.files import graph, write_files
  try:
    folder = args.workdir or pretrained.find(args.model)
    model = inference.load_model(folder, args.checkpoint)
  except (ValueError, OSError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  proto, info = graph(model)
  if args.web:
    from hwr_jax.exporting import web
    name = args.model or os.path.basename(os.path.normpath(args.workdir))
    try:
      page = web.add_model(args.web, name, proto.SerializeToString(), info)
    except web.WebError as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    print(f"{page}: reads with {name}; serve it with `python -m http.server -d {args.web}` "
          "and open http://localhost:8000")
    if not args.out:
      return 0
  sidecar = write_files(args.out, proto, info)
  print(f"{args.out}: {model.name} model, {os.path.getsize(args.out) / 1e6:.1f} MB; {sidecar}")
  if args.verify:
    import onnxruntime
    session = onnxruntime.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    from hwr_jax.readers.base import IMAGE_EXTENSIONS, INK_FOLDER_EXTENSIONS, expand_paths
    paths = expand_paths(args.verify, INK_FOLDER_EXTENSIONS if model.name == "ink"
                         else IMAGE_EXTENSIONS)
    report = verify(model, session, paths)
    print(json.dumps(report))
    if not report["inputs"]:
      print("error: --verify found nothing readable to compare", file=sys.stderr)
      return 1
    return 0 if report["max_abs_log_prob_difference"] < 1e-4 and \
        report["same_best_path_text"] == report["inputs"] else 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
