"""onnxruntime against JAX for the same model, measured in one run (interleaved):
warm latency per input, read one at a time, and the start of a reading process.

  python experiments/benchmark_onnx.py --model=ondb-lines --inputs=ONDB/lineStrokes/a01
  python experiments/benchmark_onnx.py --workdir=runs/iam_lines --inputs=WORDS_FOLDER
  python experiments/benchmark_onnx.py --model=iam-words --inputs=WORDS --jax_decoders=lexicon

Exports the model (`hwr-export`) to a temporary folder, then prints one JSON
object: the CPU; warm median / p90 ms per input with the JAX reader and with
the onnxruntime reader (best path, files already parsed); and the median
seconds of `hwr-read ONE_FILE` with each engine (best path) from a new process
(second run on, caches filled) beside a bare `python -c "import jax"`; for a
pretrained model also `hwr-read ONE_FILE --model=NAME` (its own decoder and
engine, as a user runs it); with --jax_decoders, also JAX with each of them.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "experiments"))

from benchmark_pages import cpu_name, seconds  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--workdir")
  source.add_argument("--model")
  parser.add_argument("--inputs", required=True, help="a folder of images or ink files")
  parser.add_argument("--num_inputs", type=int, default=100)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--jax_decoders", default="", help="comma-separated: hwr-read (JAX) "
                      "start with these decoders too, e.g. lexicon")
  args = parser.parse_args()
  from hwr_jax import readers, runtime
  runtime.set_xla_flags()
  from hwr_jax.readers.base import IMAGE_EXTENSIONS, INK_FOLDER_EXTENSIONS, expand_paths
  paths = expand_paths([args.inputs], IMAGE_EXTENSIONS + INK_FOLDER_EXTENSIONS)
  paths = paths[:args.num_inputs]
  out = os.path.join(tempfile.mkdtemp(prefix="onnx-"), "model.onnx")
  flag = f"--workdir={args.workdir}" if args.workdir else f"--model={args.model}"
  subprocess.run([sys.executable, "-m", "hwr_jax.export", flag, f"--out={out}"], check=True,
                 cwd=ROOT, stdout=subprocess.DEVNULL)

  engines = {"jax": readers.load_reader(args.workdir or args.model), "onnx": readers.load_reader(out)}
  loaded = [engines["jax"].load(p) for p in paths]
  for reader in engines.values():   # every shape compiled / every session warm
    for item in loaded:
      reader.read(item)
  times = {name: [] for name in engines}
  for item in loaded:               # interleaved, one input at a time
    for name, reader in engines.items():
      start = time.perf_counter()
      reader.read(item)
      times[name].append(1000 * (time.perf_counter() - start))

  read = [sys.executable, "-m", "hwr_jax.read", paths[0]]
  commands = {"bare_jax_start": [sys.executable, "-c", "import jax"],
              "hwr_read_jax": read + [flag, "--engine=jax", "--decoder=best_path"],
              "hwr_read_onnx": read + [f"--onnx={out}", "--decoder=best_path"]}
  if args.model:   # as a user runs it: the model's own decoder, onnxruntime where installed
    commands["hwr_read_model_defaults"] = read + [flag]
  for decoder in filter(None, args.jax_decoders.split(",")):
    commands[f"hwr_read_jax_{decoder}"] = read + [flag, "--engine=jax", f"--decoder={decoder}"]
  for command in commands.values():   # fill the caches
    seconds(command)
  starts = {name: [] for name in commands}
  for _ in range(args.repeats):
    for name, command in commands.items():
      starts[name].append(seconds(command))
  print(json.dumps({
      "cpu": cpu_name(), "cores": os.cpu_count(), "inputs": len(loaded),
      **{f"warm_ms_{n}_median": round(statistics.median(t), 2) for n, t in times.items()},
      **{f"warm_ms_{n}_p90": round(sorted(t)[int(0.9 * (len(t) - 1))], 2) for n, t in times.items()},
      **{f"{n}_s": round(statistics.median(t), 2) for n, t in starts.items()}}, indent=1))


if __name__ == "__main__":
  main()
