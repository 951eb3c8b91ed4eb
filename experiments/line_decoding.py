"""Word beam search on lines of real handwriting (IAM), against the
character decoders.

  python experiments/line_decoding.py --workdir=runs/iam --iam=IAM_FOLDER

The IAM word model reads words, not lines (it never learned to emit a space
for the gap between words), so a line's matrix is built from its words' own
matrices, in order, with one frame between them that puts 0.9 on the space
(what a line model emits at a gap). The lines are those of the validation
writers whose words all have segmentation status 'ok' (the test writers stay
untouched). The word bigram model is trained on the training writers' lines
(words.txt in order); the lexicon is the reader's (English word list +
training vocabulary).

Writes results.md / results.json to --out.
"""

import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from hwr_jax import runtime  # noqa: E402
from hwr_jax.evaluators.text import text_error_rates  # noqa: E402
from hwr_jax.data import iam, vocabulary  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/iam", "Workdir of a configs/iam_words.py run.")
flags.DEFINE_string("iam", None, "The IAM folder (words.txt, forms.txt, words/).")
flags.DEFINE_integer("max_lines", 300, "Lines to read.")
flags.DEFINE_integer("beam_width", 25, "Beam width.")
flags.DEFINE_float("word_lm_weight", 0.5, "Weight of the word bigram model (0.5: the best of "
                   "0.2, 0.5 and 1 on the first 40 of these validation lines).")
flags.DEFINE_string("out", "outputs/line_decoding", "Output folder.")
flags.mark_flags_as_required(["iam"])


def lines_of(entries):
  """{line id: [words in order]} of IAM word entries."""
  lines = collections.defaultdict(list)
  for w in entries:
    lines[w.word_id.rsplit("-", 1)[0]].append(w)
  return lines


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from hwr_jax.ctc.text_decoder import TextDecoder
  from hwr_jax.language.ngrams import WordNgramLM
  from hwr_jax.language.defaults import default_language_model, default_lexicon
  from hwr_jax.readers.crnn import CRNNReader
  os.makedirs(FLAGS.out, exist_ok=True)
  entries = iam.read_words(FLAGS.iam)
  train_lines = [[w.text for w in line] for line in lines_of(
      [w for w in entries if w.split == "train"]).values()]
  val_lines = [line for line in lines_of([w for w in entries if w.split == "validation"]).values()
               if all(w.ok and os.path.isfile(w.path) for w in line)][:FLAGS.max_lines]
  reader = CRNNReader(FLAGS.workdir)
  if " " not in reader.charset:
    raise SystemExit(f"{FLAGS.workdir}'s charset has no space.")
  counts = vocabulary.read(FLAGS.workdir)
  lexicon = default_lexicon(counts)
  word_lm = WordNgramLM(train_lines, sorted(lexicon.spellings))
  space = reader.charset.index(" ") + 1
  matrices, texts = [], []
  for line in val_lines:
    images = [cv2.imread(w.path, cv2.IMREAD_GRAYSCALE) for w in line]
    if any(im is None or im.size == 0 for im in images):
      continue
    parts = reader.probabilities(images)
    gap = np.full((1, parts[0].shape[1]), 0.1 / (parts[0].shape[1] - 1))
    gap[0, space] = 0.9
    pieces = []
    for k, part in enumerate(parts):
      pieces += [part] + ([gap] if k + 1 < len(parts) else [])
    matrices.append(np.concatenate(pieces))
    texts.append(" ".join(w.text for w in line))
  in_lexicon = np.mean([w.lower() in lexicon.spellings for t in texts for w in t.split()])
  print(f"{len(texts)} validation lines ({sum(len(t.split()) for t in texts)} words, "
        f"{100 * in_lexicon:.1f} % of them in the lexicon); word bigrams from "
        f"{len(train_lines)} training lines")

  plain = TextDecoder(reader.charset, beam_width=FLAGS.beam_width,
                      lm=default_language_model(counts), lexicon=lexicon)
  words_mode = TextDecoder(reader.charset, beam_width=FLAGS.beam_width, lexicon=lexicon)
  ngrams = TextDecoder(reader.charset, beam_width=FLAGS.beam_width, lexicon=lexicon,
                       word_lm=word_lm, word_lm_weight=FLAGS.word_lm_weight)
  rows = [("best_path", plain, "best_path"), ("beam", plain, "beam"),
          ("beam_lm (char 4-gram)", plain, "beam_lm"),
          ("word_beam, Words mode (lexicon only)", words_mode, "word_beam"),
          ("word_beam, NGrams mode (lexicon + word bigrams)", ngrams, "word_beam")]
  results, hypotheses = [], {}
  for name, decoder, which in rows:
    decoder.decode(matrices[0], which)
    start = time.perf_counter()
    hyps = [decoder.decode(m, which)[0] for m in matrices]
    ms = 1000 * (time.perf_counter() - start) / len(matrices)
    hypotheses[name] = hyps
    result = {"decoder": name, **text_error_rates(texts, hyps), "ms_per_line": ms}
    results.append(result)
    print(json.dumps(result))
  lines = [f"{len(texts)} lines of the IAM validation writers (every word 'ok'; "
           f"{100 * in_lexicon:.1f} % of their words in the lexicon), matrices of "
           f"{FLAGS.workdir}'s word model joined by a space frame; beam {FLAGS.beam_width}; "
           f"word bigrams from {len(train_lines)} training-writer lines; "
           f"{os.cpu_count()} CPU cores.",
           "", "| decoder | CER | WER | ms per line |", "|---|---:|---:|---:|"]
  for r in results:
    lines.append(f"| {r['decoder']} | {100 * r['cer']:.2f} % | {100 * r['wer']:.2f} % | "
                 f"{r['ms_per_line']:.1f} |")
  open(os.path.join(FLAGS.out, "results.md"), "w").write("\n".join(lines) + "\n")
  json.dump({"results": results, "texts": texts, "hypotheses": hypotheses},
            open(os.path.join(FLAGS.out, "results.json"), "w"), indent=1)
  print("\n".join(lines))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
