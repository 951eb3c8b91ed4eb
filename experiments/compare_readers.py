"""Segmentation reader vs CRNN + CTC decoders on one synthesized word test set.

  python experiments/compare_readers.py --classifier=runs/dev_byclass --crnn=runs/words

Test words are composed from glyph images neither model trained on (the
held-out part of the shared ByClass dev data). Writes results.md,
results.json and results.png to --out.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from hwr_jax import checkpoints, runtime  # noqa: E402
from hwr_jax.evaluators.text import text_error_rates  # noqa: E402
from hwr_jax.readers.crnn import CRNNReader  # noqa: E402
from hwr_jax.readers.segmentation import SegmentationReader  # noqa: E402
from hwr_jax.data import word_synthesis  # noqa: E402
from hwr_jax.language import wordlists  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("classifier", "runs/dev_byclass", "Workdir of the character classifier.")
flags.DEFINE_string("crnn", "runs/words", "Workdir of the CRNN word reader.")
flags.DEFINE_integer("num_words", 1000, "Test words.")
flags.DEFINE_integer("seed", 1, "Seed of the test set.")
flags.DEFINE_integer("beam_width", 16, "Beam width of the beam decoders.")
flags.DEFINE_string("out", "outputs/compare_readers", "Output folder.")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  os.makedirs(FLAGS.out, exist_ok=True)
  bank = word_synthesis.heldout_bank(checkpoints.load_workdir_config(FLAGS.classifier).data)
  rng = np.random.default_rng([FLAGS.seed, 20_000])   # not the CRNN's validation words
  images, texts = word_synthesis.sample_words(FLAGS.num_words, bank, rng)
  vocabulary = set(wordlists.word_list()[0])
  in_lexicon = np.mean([t.lower() in vocabulary for t in texts])
  print(f"{len(texts)} test words, {100 * in_lexicon:.0f} % of them in the 20k-word lexicon")

  rows = []
  segmenter = SegmentationReader(FLAGS.classifier)
  for image in images[:20]:
    segmenter.read(image)
  start = time.perf_counter()
  hypotheses = [segmenter.read(image).text for image in images]
  rows.append(("segmentation + CNN (word rules, case by size)", hypotheses,
               time.perf_counter() - start))
  segmenter = SegmentationReader(FLAGS.classifier, decoder="lexicon")
  start = time.perf_counter()
  hypotheses = [r.text for r in segmenter.read_many(images)]
  rows.append(("segmentation + CNN + dictionary", hypotheses, time.perf_counter() - start))
  for decoder in ("best_path", "beam", "beam_lm", "lexicon", "token_passing"):
    reader = CRNNReader(FLAGS.crnn, decoder=decoder, beam_width=FLAGS.beam_width)
    reader.read_many(images[:64])                      # compile every bucket
    start = time.perf_counter()
    hypotheses = [r.text for r in reader.read_many(images)]
    rows.append((f"CRNN + CTC {decoder}" + (f" (beam {FLAGS.beam_width})" if decoder != "best_path" else ""),
                 hypotheses, time.perf_counter() - start))

  results = []
  for name, hypotheses, seconds in rows:
    result = {"reader": name, **text_error_rates(texts, hypotheses),
              "words_per_second": len(texts) / seconds}
    results.append(result)
    print(json.dumps(result))

  lines = [f"{len(texts)} synthesized words from held-out glyphs (seed {FLAGS.seed}; "
           f"{100 * in_lexicon:.0f} % in the lexicon); classifier {FLAGS.classifier}, CRNN "
           f"{FLAGS.crnn}; {os.cpu_count()} CPU cores.", "",
           "| reader | CER | WER | CER (ignoring case) | words/s |", "|---|---:|---:|---:|---:|"]
  for r in results:
    lines.append(f"| {r['reader']} | {100 * r['cer']:.1f} % | {100 * r['wer']:.1f} % | "
                 f"{100 * r['cer_ignoring_case']:.1f} % | {r['words_per_second']:.0f} |")
  open(os.path.join(FLAGS.out, "results.md"), "w").write("\n".join(lines) + "\n")
  json.dump({"texts": texts, "results": results,
             "hypotheses": {name: h for name, h, _ in rows}},
            open(os.path.join(FLAGS.out, "results.json"), "w"), indent=1)
  plot(results, os.path.join(FLAGS.out, "results.png"))
  print("\n".join(lines))


def plot(results, out_png):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = [r["reader"].replace(" (", "\n(") for r in results]
  fig, (ax_err, ax_speed) = plt.subplots(1, 2, figsize=(13, 4.5))
  x = np.arange(len(results))
  ax_err.bar(x - 0.2, [100 * r["cer"] for r in results], 0.4, label="CER")
  ax_err.bar(x + 0.2, [100 * r["wer"] for r in results], 0.4, label="WER")
  ax_err.set(ylabel="%", title="error rates (lower is better)")
  ax_err.legend()
  ax_speed.bar(x, [r["words_per_second"] for r in results], color="tab:green")
  ax_speed.set(ylabel="words / s", title="speed (2-core CPU)")
  for ax in (ax_err, ax_speed):
    ax.set_xticks(x, names, fontsize=7, rotation=20, ha="right")
    ax.grid(axis="y", alpha=0.3)
  fig.tight_layout()
  fig.savefig(out_png, dpi=110)
  plt.close(fig)


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
