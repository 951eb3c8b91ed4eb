"""Decoding speed: this project's CTC decoders vs pyctcdecode, on the same matrices.

  # 1. In the project's environment: export the CRNN's probability matrices
  #    for synthesized test words, and time our decoders on them.
  python experiments/benchmark_decoders.py --crnn=runs/words --out=outputs/decoders
  # 2. pyctcdecode pins numpy<2, so it lives in its own environment:
  python -m venv /tmp/ctc && /tmp/ctc/bin/pip install 'numpy<2' pyctcdecode==0.5.0
  /tmp/ctc/bin/python experiments/benchmark_decoders.py --peer=pyctcdecode --out=outputs/decoders

Prints ms per matrix (median over matrices, after a warm-up) and, for the
peer, how often its text equals ours (beam search, same width, no LM).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def export_and_time_ours(args):
  from hwr_jax import runtime
  from hwr_jax.ctc import decoders
  from hwr_jax.data import words
  runtime.set_xla_flags()
  from hwr_jax.readers.crnn import CRNNReader
  reader = CRNNReader(args.crnn)
  bank = words.heldout_bank(reader.config.data)
  rng = np.random.default_rng([args.seed, 30_000])
  images, texts = words.sample_words(args.num_words, bank, rng)
  matrices = reader.probabilities(images)
  os.makedirs(args.out, exist_ok=True)
  np.savez_compressed(os.path.join(args.out, "matrices.npz"), *matrices)
  json.dump({"charset": reader.charset, "texts": texts},
            open(os.path.join(args.out, "matrices.json"), "w"))
  results, texts_beam = {}, []
  runs = {"best_path": lambda m: decoders.best_path_decode(m[None])[0],
          f"prefix_beam_search (beam {args.beam_width})":
              lambda m: decoders.prefix_beam_search(m, args.beam_width)[0][0]}
  for name, fn in runs.items():
    fn(matrices[0])
    times = []
    for m in matrices:
      start = time.perf_counter()
      labels = fn(m)
      times.append(1000 * (time.perf_counter() - start))
      if name.startswith("prefix"):
        texts_beam.append("".join(reader.charset[k - 1] for k in labels))
    results[name] = statistics.median(times)
  json.dump(texts_beam, open(os.path.join(args.out, "ours_beam.json"), "w"))
  report(results, matrices, "hwr-jax")


def time_pyctcdecode(args):
  from pyctcdecode import build_ctcdecoder
  meta = json.load(open(os.path.join(args.out, "matrices.json")))
  data = np.load(os.path.join(args.out, "matrices.npz"))
  matrices = [data[f"arr_{i}"] for i in range(len(data.files))]
  decoder = build_ctcdecoder([""] + list(meta["charset"]))   # blank first, as ours
  ours = json.load(open(os.path.join(args.out, "ours_beam.json")))
  logs = [np.log(np.maximum(m, 1e-30)) for m in matrices]
  decoder.decode(logs[0], beam_width=args.beam_width)
  times, texts = [], []
  for log_probs in logs:
    start = time.perf_counter()
    texts.append(decoder.decode(log_probs, beam_width=args.beam_width))
    times.append(1000 * (time.perf_counter() - start))
  report({f"pyctcdecode beam (beam {args.beam_width})": statistics.median(times)}, matrices,
         "pyctcdecode")
  same = np.mean([a == b for a, b in zip(texts, ours)])
  print(f"pyctcdecode's text equals ours on {100 * same:.1f} % of {len(texts)} matrices")


def report(results, matrices, who):
  frames = statistics.median(m.shape[0] for m in matrices)
  for name, ms in results.items():
    line = {"decoder": name, "implementation": who, "median_ms_per_matrix": round(ms, 3),
            "matrices": len(matrices), "median_frames": frames,
            "classes": int(matrices[0].shape[1]), "cores": os.cpu_count()}
    print(json.dumps(line))


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--crnn", default="runs/words")
  parser.add_argument("--out", default="outputs/decoders")
  parser.add_argument("--num_words", type=int, default=300)
  parser.add_argument("--beam_width", type=int, default=25)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--peer", choices=["pyctcdecode"])
  args = parser.parse_args()
  time_pyctcdecode(args) if args.peer else export_and_time_ours(args)
