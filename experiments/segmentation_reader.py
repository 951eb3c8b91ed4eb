"""CER / WER / speed of the segmentation reader on synthesized handwritten words.

  python experiments/segmentation_reader.py --workdir=runs/dev_byclass --num_words=1000
  python experiments/segmentation_reader.py --workdir=runs/dev_digits --out=outputs/segmentation_reader_digits

Words are composed from glyph images the classifier never trained on (its
validation split), then read with the reader's post-steps switched on one by
one. A model of another label space reads what its glyphs spell (a digits
model digit strings, a letters model lowercase words). Writes results.md,
results.json and example pictures to --out.
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
from hwr_jax.readers.segmentation import SegmentationReader, save_picture  # noqa: E402
from hwr_jax.data import word_synthesis  # noqa: E402
from hwr_jax.language import wordlists  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/dev_byclass", "Workdir of a trained classifier (any label space).")
flags.DEFINE_integer("num_words", 1000, "Test words to synthesize.")
flags.DEFINE_integer("seed", 0, "Seed of the test set.")
flags.DEFINE_integer("num_lines", 200, "Three-word lines to synthesize (spaces found from gaps).")
flags.DEFINE_integer("examples", 6, "Example pictures to write.")
flags.DEFINE_string("out", "outputs/segmentation_reader", "Output folder.")

VARIANTS = [  # (name, case_by_size, word_rules)
    ("CNN argmax only", False, False),
    ("+ word rules (letters/digits, one case)", False, True),
    ("+ case by size (default)", True, True),
]


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  os.makedirs(FLAGS.out, exist_ok=True)
  bank = word_synthesis.heldout_bank(checkpoints.load_workdir_config(FLAGS.workdir).data)
  rng = np.random.default_rng(FLAGS.seed)
  images, texts = word_synthesis.sample_words(FLAGS.num_words, bank, rng)
  print(f"{len(texts)} words from {len(bank.images)} held-out glyph images")

  rows = []
  for name, case_by_size, word_rules in VARIANTS:
    reader = SegmentationReader(FLAGS.workdir, use_case_by_size=case_by_size,
                                use_word_rules=word_rules)
    for image in images[:20]:   # compile every batch shape before timing
      reader.read(image)
    start = time.perf_counter()
    readings = [reader.read(image) for image in images]
    seconds = time.perf_counter() - start
    hypotheses = [r.text for r in readings]
    result = {"reader": name, **text_error_rates(texts, hypotheses),
              "images_per_second": len(images) / seconds,
              "segment_count_right": float(np.mean([len(r.characters) == len(t)
                                                    for r, t in zip(readings, texts)]))}
    rows.append(result)
    print(json.dumps(result))
  # Lines of three words: the default reader, spaces included.
  lines_texts = [" ".join(wordlists.sample_texts(3, rng, max_len=8, charset=bank.charset))
                 for _ in range(FLAGS.num_lines)]
  line_readings = [reader.read(word_synthesis.render_word(t, bank, rng)) for t in lines_texts]
  line_result = {"reader": "+ case by size (default), 3-word lines",
                 **text_error_rates(lines_texts, [r.text for r in line_readings]),
                 "spaces_right": float(np.mean([r.text.count(" ") == 2 for r in line_readings]))}
  print(json.dumps(line_result))
  for i in range(FLAGS.examples):
    save_picture(readings[i], os.path.join(FLAGS.out, f"example_{i}.png"), f"truth {texts[i]!r}")

  lines = [f"Segmentation reader on {len(texts)} synthesized words (held-out glyphs, seed "
           f"{FLAGS.seed}), model {FLAGS.workdir}; {os.cpu_count()} CPU cores.", "",
           "| reader | CER | WER | CER (ignoring case) | WER (ignoring case) | images/s |",
           "|---|---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(f"| {r['reader']} | {100 * r['cer']:.1f} % | {100 * r['wer']:.1f} % | "
                 f"{100 * r['cer_ignoring_case']:.1f} % | {100 * r['wer_ignoring_case']:.1f} % | "
                 f"{r['images_per_second']:.0f} |")
  lines.append("")
  lines.append(f"Character count right (segmentation): {100 * rows[-1]['segment_count_right']:.1f} % of words.")
  lines.append(f"{len(lines_texts)} three-word lines, default reader: CER "
               f"{100 * line_result['cer']:.1f} %, WER {100 * line_result['wer']:.1f} %, both "
               f"spaces found in {100 * line_result['spaces_right']:.0f} % of lines.")
  open(os.path.join(FLAGS.out, "results.md"), "w").write("\n".join(lines) + "\n")
  json.dump({"texts": texts, "results": rows, "lines": line_result}, open(os.path.join(FLAGS.out, "results.json"), "w"), indent=1)
  print("\n".join(lines))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
