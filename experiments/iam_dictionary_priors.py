"""The dictionary decoder's priors for a model trained on real text, chosen on
the IAM validation writers (never the test writers).

  python experiments/iam_dictionary_priors.py --workdir=runs/iam --iam=IAM_FOLDER

The defaults of `ctc/dictionary.py` were calibrated on synthesized words drawn
uniformly from the lexicon, with 10 % digit strings. Real text is neither:
frequent words are frequent and numbers are rare. This reads the validation
writers' words once, then decodes them with each frequency weight (0: a
uniform prior over the lexicon, 1: the words' frequencies) and each share of
numbers (the synthesized words' 0.1, or the share among the model's training
words), each with its best open-vocabulary margin. Writes results.md and
results.json to --out. The best (training words' share, weight 0.5, margin
12) is what the CRNN reader uses for any workdir with a vocabulary
(`language/defaults.py: real_text_priors`).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from hwr_jax import runtime  # noqa: E402
from hwr_jax.evaluators.text import text_error_rates  # noqa: E402
from hwr_jax.ctc import dictionary  # noqa: E402
from hwr_jax.data import iam, vocabulary  # noqa: E402
from hwr_jax.language.defaults import number_share  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/iam", "Workdir of a configs/iam_words.py run, or a "
                    "pretrained model's name (iam-words).")
flags.DEFINE_string("iam", None, "The IAM folder (words.txt, forms.txt, words/).")
flags.DEFINE_list("frequency_weights", ["0", "0.25", "0.5", "0.75", "1"], "Weights to try.")
flags.DEFINE_integer("max_words", 0, "Read only the first N validation words (0: all).")
flags.DEFINE_string("out", "outputs/iam_dictionary_priors", "Output folder.")
flags.mark_flags_as_required(["iam"])
MARGINS = [0.0, 4.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0, 24.0, np.inf]


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from hwr_jax import pretrained, readers
  workdir = pretrained.folder(FLAGS.workdir)
  os.makedirs(FLAGS.out, exist_ok=True)
  entries = [w for w in iam.read_words(FLAGS.iam) if w.ok and w.split == "validation"]
  images, texts, _ = iam.load_images(entries[:FLAGS.max_words or None])
  reader = readers.load_reader(workdir, "crnn", decoder="lexicon")
  readings = reader.read_many(images)
  kept = [i for i, r in enumerate(readings) if r.error is None]
  frames, texts = [readings[i].frames for i in kept], [texts[i] for i in kept]
  counts = vocabulary.read(workdir)
  shares = {"0.1 (synthesized words)": dictionary.NUMBER_SHARE,
            "training words": number_share(counts)}
  print(f"{len(texts)} validation words; numbers among the training words: "
        f"{100 * shares['training words']:.2f} %")

  decoder = reader.decoder.dictionary
  rows, readings = [], {}
  for share_name, share in shares.items():
    for weight in map(float, FLAGS.frequency_weights):
      decoder.number_share, decoder.frequency_weight = share, weight
      pairs = readings[share_name, weight] = [decoder.best_and_open(f) for f in frames]
      for margin in MARGINS:
        hypotheses = [o.text if (b is None or o.optical > b.optical + margin) else b.text
                      for b, o in pairs]
        row = {"number_share": share_name, "frequency_weight": weight, "margin": margin,
               **text_error_rates(texts, hypotheses)}
        rows.append(row)
      best = min(rows[-len(MARGINS):], key=lambda r: (r["wer"], r["cer"]))
      print(json.dumps(best))

  chosen = min(rows, key=lambda r: (r["wer"], r["cer"]))
  # With the chosen priors: list words read as something that is no word of
  # the list (the open-vocabulary fallback), and what they became.
  lexicon = decoder.lexicon
  pairs = readings[chosen["number_share"], chosen["frequency_weight"]]
  non_words = [(t, o.text) for t, (b, o) in zip(texts, pairs)
               if t.isalpha() and lexicon.is_word(t)
               and (b is None or o.optical > b.optical + chosen["margin"])
               and not lexicon.is_word(o.text) and not o.text.isdigit()]
  listed = sum(t.isalpha() and lexicon.is_word(t) for t in texts)
  print(f"list words read as non-words: {len(non_words)} of {listed}")
  lines = [f"Dictionary decoder priors on {len(texts)} IAM validation words, model "
           f"{FLAGS.workdir}: the best margin per row (WER, then CER).", "",
           "| numbers' share | frequency weight | margin (nats) | CER | WER |",
           "|---|---:|---:|---:|---:|"]
  for share_name in shares:
    for weight in map(float, FLAGS.frequency_weights):
      r = min((r for r in rows if r["number_share"] == share_name
               and r["frequency_weight"] == weight), key=lambda r: (r["wer"], r["cer"]))
      lines.append(f"| {share_name} | {weight:g} | {r['margin']:g} | {100 * r['cer']:.2f} % | "
                   f"{100 * r['wer']:.2f} % |")
  lines += ["", f"Best: numbers' share {chosen['number_share']}, frequency weight "
            f"{chosen['frequency_weight']:g}, margin {chosen['margin']:g}.", "",
            f"With these, {len(non_words)} of the {listed} validation words that are words of "
            "the list (letters only) come out as non-words (the open reading won), e.g. "
            + ", ".join(f"'{t}' -> '{h}'" for t, h in non_words[:8]) + "."]
  open(os.path.join(FLAGS.out, "results.md"), "w").write("\n".join(lines) + "\n")
  json.dump({"rows": rows, "number_shares": shares, "non_words": non_words}, open(
      os.path.join(FLAGS.out, "results.json"), "w"), indent=1, default=str)
  print("\n".join(lines))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
