"""Decoding speed: this project's CTC decoders vs pyctcdecode, on the same matrices.

  # 1. In the project's environment: export a CRNN's probability matrices and
  #    time our decoders on them. IAM model: validation-writer words, and
  #    "lines" of 4 of those words side by side; EMNIST-word model: synthesized
  #    words from held-out glyphs.
  python experiments/benchmark_decoders.py --crnn=runs/iam --iam=IAM_FOLDER --out=outputs/decoders
  # 2. pyctcdecode pins numpy<2, so it lives in its own environment:
  python -m venv /tmp/ctc && /tmp/ctc/bin/pip install 'numpy<2' pyctcdecode==0.5.0
  /tmp/ctc/bin/python experiments/benchmark_decoders.py --peer=pyctcdecode --out=outputs/decoders
  python experiments/benchmark_decoders.py --compare --out=outputs/decoders

Prints the median ms per matrix (after a warm-up) per set (words, lines),
and for the peer how often its text equals ours (beam search, same width,
no LM). Both sides read the same log-probability matrices. Where the texts
differ, `--compare` (project environment, after both) says whose text is
more probable under CTC (the exact forward score).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _images(args, reader):
  """{"words": images, "lines": images} to read."""
  rng = np.random.default_rng([args.seed, 30_000])
  if args.iam:
    import cv2

    from hwr_jax.data import iam
    entries = [w for w in iam.read_words(args.iam) if w.ok and w.split == "validation"]
    picked = rng.choice(len(entries), 4 * args.num_words, replace=False)
    images = [cv2.imread(entries[i].path, cv2.IMREAD_GRAYSCALE) for i in picked]
    images = [im for im in images if im is not None and im.size][:4 * args.num_words]
  else:
    from hwr_jax.data import word_synthesis
    images, _ = word_synthesis.sample_words(4 * args.num_words, word_synthesis.heldout_bank(reader.config.data), rng)
  lines = []
  for k in range(0, len(images) - 3, 4):
    group = images[k:k + 4]
    height = max(im.shape[0] for im in group)
    paper = int(np.median(np.concatenate([im.ravel() for im in group])))
    gap = np.full((height, height // 2), paper, np.uint8)
    padded = [np.pad(im, ((0, height - im.shape[0]), (0, 0)), constant_values=paper)
              for im in group]
    lines.append(np.concatenate([padded[0], gap, padded[1], gap, padded[2], gap, padded[3]], 1))
  return {"words": images[:args.num_words], "lines": lines[:args.num_words]}


def _time(fn, matrices):
  fn(matrices[0])
  times, outputs = [], []
  for m in matrices:
    start = time.perf_counter()
    outputs.append(fn(m))
    times.append(1000 * (time.perf_counter() - start))
  return statistics.median(times), outputs


def export_and_time_ours(args):
  from hwr_jax import runtime
  runtime.set_xla_flags()
  from hwr_jax.ctc import decoders
  from hwr_jax.readers.crnn import CRNNReader
  reader = CRNNReader(args.crnn)
  # A line may be wider than the model's widest bucket: read it at its own width.
  reader.config.words.buckets = tuple(reader.config.words.buckets) + (4096,)
  os.makedirs(args.out, exist_ok=True)
  meta = {"charset": reader.charset, "beam_width": args.beam_width, "sets": {}}
  for name, images in _images(args, reader).items():
    matrices = [np.log(np.maximum(m, 1e-30)) for m in reader.probabilities(images)]
    np.savez_compressed(os.path.join(args.out, f"{name}.npz"), *matrices)
    _, best = _time(lambda m: decoders.best_path_decode(m[None])[0], matrices)
    ms, beams = _time(lambda m: decoders.prefix_beam_search(m, args.beam_width,
                                                            kind="log_probs")[0][0], matrices)
    texts = ["".join(reader.charset[k - 1] for k in labels) for labels in beams]
    meta["sets"][name] = {"ours_ms": ms, "ours_texts": texts}
    report(name, "hwr-jax prefix_beam_search", ms, matrices, args.beam_width)
  json.dump(meta, open(os.path.join(args.out, "matrices.json"), "w"))


def time_pyctcdecode(args):
  from pyctcdecode import build_ctcdecoder
  meta = json.load(open(os.path.join(args.out, "matrices.json")))
  decoder = build_ctcdecoder([""] + list(meta["charset"]))   # blank first, as ours
  for name, ours in meta["sets"].items():
    data = np.load(os.path.join(args.out, f"{name}.npz"))
    matrices = [data[f"arr_{i}"] for i in range(len(data.files))]
    ms, texts = _time(lambda m: decoder.decode(m, beam_width=meta["beam_width"]), matrices)
    report(name, "pyctcdecode 0.5 decode", ms, matrices, meta["beam_width"])
    json.dump(texts, open(os.path.join(args.out, f"pyctcdecode_{name}.json"), "w"))
    same = np.mean([a == b for a, b in zip(texts, ours["ours_texts"])])
    print(f"{name}: pyctcdecode {ms:.2f} ms, hwr-jax {ours['ours_ms']:.2f} ms per matrix "
          f"(hwr-jax {ms / ours['ours_ms']:.2f}x as fast); the same text on {100 * same:.1f} % "
          f"of {len(texts)} matrices")


def compare(args):
  from hwr_jax.ctc import decoders
  meta = json.load(open(os.path.join(args.out, "matrices.json")))
  index = {c: k + 1 for k, c in enumerate(meta["charset"])}
  for name, ours in meta["sets"].items():
    data = np.load(os.path.join(args.out, f"{name}.npz"))
    theirs = json.load(open(os.path.join(args.out, f"pyctcdecode_{name}.json")))
    better = worse = 0
    for i, (a, b) in enumerate(zip(ours["ours_texts"], theirs)):
      if a != b:
        m = data[f"arr_{i}"]
        score_a, score_b = (decoders.ctc_log_prob(m, [index[c] for c in t], kind="log_probs")
                            for t in (a, b))
        better += score_a > score_b
        worse += score_a < score_b
    print(f"{name}: texts differ on {better + worse} matrices; ours is the more probable text "
          f"on {better}, pyctcdecode's on {worse}")


def report(name, who, ms, matrices, beam_width):
  print(json.dumps({"set": name, "decoder": who, "beam_width": beam_width,
                    "median_ms_per_matrix": round(ms, 3), "matrices": len(matrices),
                    "median_frames": statistics.median(m.shape[0] for m in matrices),
                    "classes": int(matrices[0].shape[1])}))


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--crnn", default="runs/words")
  parser.add_argument("--iam", default="", help="IAM folder: read its validation writers' words")
  parser.add_argument("--out", default="outputs/decoders")
  parser.add_argument("--num_words", type=int, default=200)
  parser.add_argument("--beam_width", type=int, default=25)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--peer", choices=["pyctcdecode"])
  parser.add_argument("--compare", action="store_true")
  args = parser.parse_args()
  if args.compare:
    compare(args)
  else:
    time_pyctcdecode(args) if args.peer else export_and_time_ours(args)
