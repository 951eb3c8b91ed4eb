"""Dictionary decoding, measured on words drawn uniformly from the lexicon.

  python experiments/dictionary_decoding.py --crnn=runs/words --classifier=runs/dev_byclass

Test words: drawn uniformly from the 20,000-word lexicon (rare words as often
as common ones), 15 % Capitalized, 8 % ALL CAPS, 12 % digit strings; plus
out-of-lexicon words (wordfreq ranks beyond the lexicon) reported apart.
They are composed from held-out glyphs (neither model trained on them),
split in two halves: the case priors and the open-vocabulary margin of each reader
are calibrated on words made from one half, and the test words from the other.

Writes results.md / results.json to --out: CER / WER per decoder on the
in-lexicon words, how many of them came out as non-words, word accuracy on
the out-of-lexicon words, decoding ms per word, and the calibration curves.
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
from hwr_jax.data import word_synthesis  # noqa: E402
from hwr_jax.language import wordlists  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("classifier", "runs/dev_byclass", "Workdir of the character classifier.")
flags.DEFINE_string("crnn", "runs/words", "Workdir of the CRNN word reader.")
flags.DEFINE_integer("num_words", 1000, "In-lexicon test words.")
flags.DEFINE_integer("num_oov", 200, "Out-of-lexicon test words.")
flags.DEFINE_integer("num_calibration", 600, "Calibration words (10 % out of the lexicon).")
flags.DEFINE_float("digits", 0.12, "Share of digit strings.")
flags.DEFINE_integer("beam_width", 16, "Beam width of beam / beam_lm.")
flags.DEFINE_integer("seed", 3, "Seed of the word sets.")
flags.DEFINE_string("out", "outputs/dictionary_decoding", "Output folder.")
MARGINS = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, np.inf]
CASE_PRIORS = [(c, u) for c in (0.2, 0.35, 0.5, 0.7) for u in (0.1, 0.2)]  # P(Capitalized), P(UPPER)


def out_of_lexicon_words(lexicon_words: set, n: int = 20000) -> list[str]:
  """English words ranked after the lexicon's, none of them in it."""
  import wordfreq
  found = [w for w in wordfreq.top_n_list("en", 4 * n) if w.isascii() and w.isalpha()
           and w.lower() not in lexicon_words and 3 <= len(w) <= 12]
  return found[:n]


def word_set(n, n_oov, bank, rng, lexicon_words, oov_words):
  uniform = (lexicon_words, np.full(len(lexicon_words), 1 / len(lexicon_words)))
  images, texts = word_synthesis.sample_words(n, bank, rng, uniform, digits=FLAGS.digits)
  oov = (oov_words, np.full(len(oov_words), 1 / len(oov_words)))
  oov_images, oov_texts = word_synthesis.sample_words(n_oov, bank, rng, oov, digits=0.0)
  return images + oov_images, texts + oov_texts, np.r_[np.zeros(n, bool), np.ones(n_oov, bool)]


def calibrate(pairs, texts) -> tuple[float, list]:
  """The margin (nats by which the open reading must beat the best
  dictionary one) with the most words right; the curve."""
  curve = []
  for margin in MARGINS:
    right = [(o.text if (b is None or o.optical > b.optical + margin) else b.text) == t
             for (b, o), t in zip(pairs, texts)]
    curve.append((margin, float(np.mean(right))))
  best = max(curve, key=lambda mc: (mc[1], mc[0]))
  return best[0], curve


def kind_of(text: str) -> str:
  if text.isdigit():
    return "digits"
  if text.isupper() and len(text) > 1:
    return "ALL CAPS"
  return "Capitalized" if text[:1].isupper() else "lowercase"


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from hwr_jax.ctc.text_decoder import TextDecoder
  from hwr_jax.ctc.dictionary import segments_as_frames
  from hwr_jax.language.defaults import default_language_model, default_lexicon
  from hwr_jax.readers.crnn import CRNNReader
  from hwr_jax.readers.segmentation import SegmentationReader
  os.makedirs(FLAGS.out, exist_ok=True)
  bank = word_synthesis.heldout_bank(checkpoints.load_workdir_config(FLAGS.classifier).data)
  halves = np.arange(len(bank.labels)) % 2
  calibration_bank, test_bank = bank.subset(halves == 0), bank.subset(halves == 1)
  lexicon_words = wordlists.word_list()[0]
  oov_words = out_of_lexicon_words(set(lexicon_words))
  rng = np.random.default_rng([FLAGS.seed, 50_000])
  cal_images, cal_texts, _ = word_set(int(0.9 * FLAGS.num_calibration),
                                      FLAGS.num_calibration - int(0.9 * FLAGS.num_calibration),
                                      calibration_bank, rng, lexicon_words, oov_words)
  images, texts, is_oov = word_set(FLAGS.num_words, FLAGS.num_oov, test_bank, rng, lexicon_words,
                                   oov_words)
  texts = np.array(texts, object)
  print(f"{len(cal_texts)} calibration words, {(~is_oov).sum()} in-lexicon + {is_oov.sum()} "
        f"out-of-lexicon test words")

  crnn = CRNNReader(FLAGS.crnn)
  lexicon = default_lexicon()   # no training vocabulary: a configs/words.py model has none
  decoder = TextDecoder(crnn.charset, beam_width=FLAGS.beam_width, lm=default_language_model(),
                        lexicon=lexicon)
  crnn.probabilities(images[:64])
  start = time.perf_counter()
  matrices = crnn.probabilities(images)
  model_ms = 1000 * (time.perf_counter() - start) / len(images)
  cal_matrices = crnn.probabilities(cal_images)
  segmenter = SegmentationReader(FLAGS.classifier)
  segment_lexicon = SegmentationReader(FLAGS.classifier, decoder="lexicon")
  seg_decoder = segment_lexicon.dictionary

  def segment_probs(batch):
    """Segmentations and each one's characters' distributions (as the
    dictionary reads them)."""
    prepared = [segmenter.prepare(im) for im in batch]
    probs = segmenter.predict(prepared)
    out, k = [], 0
    for p in prepared:
      out.append(probs[k:k + len(p.crops)])
      k += len(p.crops)
    return prepared, out

  def segment_frames(prepared, probs):
    return [segments_as_frames(segment_lexicon._likelihoods(p, s.boxes))
            for s, p in zip(prepared, probs)]

  calibration = {}
  for name, dictionary, mats, kind in (
      ("CRNN lexicon", decoder.dictionary, cal_matrices, "probs"),
      ("segmentation lexicon", seg_decoder, segment_frames(*segment_probs(cal_images)), "probs")):
    # The case priors (Capitalized, UPPER) and then the margin, on the calibration words.
    tried = []
    for capitalized, upper in CASE_PRIORS:
      dictionary.case_log_priors.update(capitalized=np.log(capitalized), upper=np.log(upper))
      pairs = [dictionary.best_and_open(m, kind) for m in mats]
      margin, curve = calibrate(pairs, cal_texts)
      tried.append((dict(curve)[margin], capitalized, upper, margin, curve))
    accuracy, capitalized, upper, margin, curve = max(tried, key=lambda x: x[0])
    dictionary.case_log_priors.update(capitalized=np.log(capitalized), upper=np.log(upper))
    dictionary.open_margin, dictionary.fallback = margin, bool(np.isfinite(margin))
    calibration[name] = {"margin": margin, "curve": curve, "capitalized": capitalized,
                         "upper": upper, "case_priors_tried": [t[:4] for t in tried]}
    print(f"{name}: case priors Capitalized {capitalized}, UPPER {upper}; open-vocabulary "
          f"margin {margin} nats (word accuracy on the calibration words: {accuracy:.3f})")

  rows = {}
  for name in ("best_path", "beam", "beam_lm", "lexicon", "token_passing"):
    decoder.decode(matrices[0], name)
    start = time.perf_counter()
    rows[f"CRNN {name}"] = ([decoder.decode(m, name)[0] for m in matrices],
                            1000 * (time.perf_counter() - start) / len(matrices))
  prepared, seg_probs = segment_probs(images)
  start = time.perf_counter()
  rows["segmentation (word rules)"] = ([r.text for r in segmenter.finish(prepared, np.concatenate(
      seg_probs))], 1000 * (time.perf_counter() - start) / len(images))
  start = time.perf_counter()
  rows["segmentation lexicon"] = (
      [seg_decoder.decode(m, "probs").text for m in segment_frames(prepared, seg_probs)],
      1000 * (time.perf_counter() - start) / len(images))

  lexicon_set = set(lexicon.spellings)
  results = []
  for name, (hyps, ms) in rows.items():
    hyps = np.array(hyps, object)
    inlex = ~is_oov
    non_words = [(t, h) for t, h in zip(texts[inlex], hyps[inlex])
                 if not t.isdigit() and h.lower() not in lexicon_set]
    per_kind = {k: text_error_rates(list(texts[inlex][m]), list(hyps[inlex][m]))["wer"]
                for k in ("lowercase", "Capitalized", "ALL CAPS", "digits")
                for m in [np.array([kind_of(t) == k for t in texts[inlex]])] if m.any()}
    result = {"decoder": name, **text_error_rates(list(texts[inlex]), list(hyps[inlex])),
              "wer_per_kind": per_kind, "in_lexicon_read_as_non_words": len(non_words),
              "non_word_examples": non_words[:8],
              "oov_word_accuracy": float(np.mean(hyps[is_oov] == texts[is_oov])),
              "decode_ms_per_word": ms}
    results.append(result)
    print(json.dumps({k: v for k, v in result.items() if k != "non_word_examples"}))

  lines = [f"{(~is_oov).sum()} test words drawn uniformly from the 20,000-word lexicon "
           f"({100 * FLAGS.digits:.0f} % digit strings, 15 % Capitalized, 8 % ALL CAPS) and "
           f"{is_oov.sum()} out-of-lexicon words, composed from held-out glyphs (test half); "
           f"case priors and margins calibrated on {len(cal_texts)} words of the other half: "
           + ", ".join(f"{k}: Capitalized {v['capitalized']}, UPPER {v['upper']}, margin "
                       f"{v['margin']} nats" for k, v in calibration.items())
           + f". CRNN {FLAGS.crnn} ({model_ms:.1f} ms/word for the model), classifier "
           f"{FLAGS.classifier}; {os.cpu_count()} CPU cores.", "",
           "| decoder | CER | WER | WER lower / Cap / CAPS / digits | in-lexicon words read as "
           "non-words | out-of-lexicon words right | decoding ms/word |",
           "|---|---:|---:|---|---:|---:|---:|"]
  for r in results:
    kinds = " / ".join(f"{100 * r['wer_per_kind'].get(k, np.nan):.0f}"
                       for k in ("lowercase", "Capitalized", "ALL CAPS", "digits"))
    lines.append(f"| {r['decoder']} | {100 * r['cer']:.1f} % | {100 * r['wer']:.1f} % | {kinds} | "
                 f"{r['in_lexicon_read_as_non_words']} | {100 * r['oov_word_accuracy']:.0f} % | "
                 f"{r['decode_ms_per_word']:.2f} |")
  open(os.path.join(FLAGS.out, "results.md"), "w").write("\n".join(lines) + "\n")
  json.dump({"results": results, "calibration": calibration, "texts": list(texts),
             "hypotheses": {k: list(v[0]) for k, v in rows.items()}},
            open(os.path.join(FLAGS.out, "results.json"), "w"), indent=1)
  print("\n".join(lines))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
