"""How long a user waits for `hwr-read`, per reader and decoder.

  python experiments/benchmark_reading.py --classifier=runs/dev_byclass --crnn=runs/words
  # before/after: another checkout of the project measured in the same run, interleaved
  git worktree add /tmp/hwr-before <commit>
  python experiments/benchmark_reading.py ... --repos=.,/tmp/hwr-before

Prints one JSON object per measurement and checkout, then a summary:
  cold_s       `hwr-read one.png` from a new process with an empty cache folder
  second_s     the same command again (compiled programs and resources cached)
  warm_ms      in-process, model loaded: median (and p90) ms per word image,
               file -> text, over --num_latency words read one at a time
  words_per_s  one `hwr-read` call on --num_words images (startup included), run
               twice: `_first` compiles the batch shapes, the second finds them cached
Word images are synthesized from glyphs the classifier never trained on
(`hwr_jax/data/word_synthesis.py`); the CPU is printed with the results.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

READERS = [  # (name, hwr-read flags, which workdir)
    ("segment", [], "classifier"),
    ("crnn best_path", ["--reader=crnn", "--decoder=best_path"], "crnn"),
    ("crnn beam", ["--reader=crnn", "--decoder=beam"], "crnn"),
    ("crnn beam_lm", ["--reader=crnn", "--decoder=beam_lm"], "crnn"),
    ("crnn lexicon", ["--reader=crnn", "--decoder=lexicon"], "crnn"),
]

# Runs inside the checkout being measured: reads words one at a time.
WARM_SNIPPET = r"""
import json, statistics, sys, time
args = json.loads(sys.argv[1])
from hwr_jax import runtime
runtime.set_xla_flags()
try:
  from hwr_jax import load_reader, readers
  reader = readers.load_reader(args["workdir"], args["reader"], **args["options"])
except ImportError:   # checkouts before the inference layer (hwr_jax/read.py held the readers)
  from hwr_jax import read
  if args["reader"] == "crnn":
    reader = read.CRNNReader(args["workdir"], decoder=args["options"]["decoder"])
  else:
    reader = read.SegmentationReader(args["workdir"])
paths = args["paths"]
for p in paths:
  reader.read_file(p)          # compile every shape these words need
times = []
for p in paths:
  start = time.perf_counter()
  reader.read_file(p)
  times.append(1000 * (time.perf_counter() - start))
times.sort()
print(json.dumps({"median": statistics.median(times), "p90": times[int(0.9 * (len(times) - 1))]}))
"""


def cpu_name() -> str:
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    avx512 = "avx512f" in fields.get("Flags", "")
    return (f"{fields.get('Model name', '?').strip()}, {os.cpu_count()} cores, "
            f"{'AVX-512' if avx512 else 'no AVX-512'}")
  except OSError:
    return f"{os.cpu_count()} cores"


def make_words(classifier: str, folder: str, n: int, seed: int) -> list[str]:
  import cv2
  import numpy as np
  from hwr_jax import checkpoints
  from hwr_jax.data import word_synthesis
  os.makedirs(folder, exist_ok=True)
  bank = word_synthesis.heldout_bank(checkpoints.load_workdir_config(classifier).data)
  images, _ = word_synthesis.sample_words(n, bank, np.random.default_rng([seed, 50_000]))
  paths = []
  for i, image in enumerate(images):
    paths.append(os.path.join(folder, f"w{i:04d}.png"))
    cv2.imwrite(paths[-1], image)
  return paths


def hwr_read(repo: str, args: list[str], cache: str) -> float:
  """Wall-clock seconds of one hwr-read command in checkout `repo`."""
  env = dict(os.environ, HWR_JAX_CACHE_DIR=cache, PYTHONPATH=repo)
  start = time.perf_counter()
  result = subprocess.run([sys.executable, "-m", "hwr_jax.read", *args], cwd=repo, env=env,
                          capture_output=True, text=True)
  seconds = time.perf_counter() - start
  if result.returncode != 0:
    raise RuntimeError(f"hwr-read {' '.join(args)} in {repo} failed:\n{result.stderr[-2000:]}")
  return seconds


def warm_latency(repo: str, workdir: str, reader: str, decoder: str, paths: list[str],
                 cache: str) -> dict:
  options = {"decoder": decoder} if reader == "crnn" else {}
  env = dict(os.environ, HWR_JAX_CACHE_DIR=cache, PYTHONPATH=repo)
  result = subprocess.run(
      [sys.executable, "-c", WARM_SNIPPET, json.dumps(
          {"workdir": workdir, "reader": reader, "options": options, "paths": paths})],
      cwd=repo, env=env, capture_output=True, text=True)
  if result.returncode != 0:
    raise RuntimeError(f"warm latency in {repo} failed:\n{result.stderr[-2000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--classifier", default="runs/dev_byclass")
  parser.add_argument("--crnn", default="runs/words")
  parser.add_argument("--repos", default=".", help="comma-separated checkouts to measure")
  parser.add_argument("--readers", default=",".join(r[0] for r in READERS))
  parser.add_argument("--num_words", type=int, default=1000)
  parser.add_argument("--num_latency", type=int, default=100)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default="outputs/benchmark_reading")
  args = parser.parse_args()
  repos = [os.path.abspath(r) for r in args.repos.split(",")]
  workdirs = {"classifier": os.path.abspath(args.classifier), "crnn": os.path.abspath(args.crnn)}
  args.out = os.path.abspath(args.out)   # commands run in each checkout's folder
  paths = make_words(workdirs["classifier"], os.path.join(args.out, "words"), args.num_words,
                     args.seed)
  machine = cpu_name()
  print(json.dumps({"machine": machine, "words": len(paths)}))
  results = []
  for name, flags, which in READERS:
    if name not in args.readers.split(","):
      continue
    for repo in repos:   # interleaved: each reader measured for every checkout in turn
      cache = tempfile.mkdtemp(prefix="hwr-bench-cache-")
      one = [paths[0], f"--workdir={workdirs[which]}", *flags]
      row = {"repo": repo, "reader": name, "machine": machine,
             "cold_s": hwr_read(repo, one, cache), "second_s": hwr_read(repo, one, cache)}
      reader, decoder = ("crnn", flags[1].split("=")[1]) if flags else ("segment", None)
      latency = warm_latency(repo, workdirs[which], reader, decoder,
                             paths[:args.num_latency], cache)
      row.update(warm_ms=latency["median"], warm_p90_ms=latency["p90"])
      many = [os.path.join(args.out, "words"), f"--workdir={workdirs[which]}", *flags]
      row["words_per_s_first"] = len(paths) / hwr_read(repo, many, cache)  # compiles batch shapes
      row["words_per_s"] = len(paths) / hwr_read(repo, many, cache)
      shutil.rmtree(cache, ignore_errors=True)
      results.append(row)
      print(json.dumps(row), flush=True)
  json.dump(results, open(os.path.join(args.out, "results.json"), "w"), indent=1)


if __name__ == "__main__":
  main()
