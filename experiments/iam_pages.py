"""The page reader on IAM's test writers' pages, rebuilt from the word crops.

  python experiments/iam_pages.py --workdir=runs/iam_lines --iam=IAM_FOLDER
  python experiments/iam_pages.py --workdir=runs/iam_lines --iam=IAM_FOLDER --split=validation
  python experiments/iam_pages.py --workdir=iam-lines --iam=IAM_FOLDER \
      --word_model=iam-words --word_decoder=lexicon      # as hwr-read --model=iam-lines reads

Every form of the split's writers (test: writer id % 7 == 3; choose settings
on --split=validation, never on the test pages) is rebuilt as a page from its
word crops at their boxes (`hwr_jax/data/iam_pages.py`: reconstructions, not
scans), and read as `hwr-read page.png` reads it: lines found
(`preprocess/lines.py`), each read by the line model, with each decoder.

Writes --out/results.md and results.json:
  - page CER / WER per decoder (line breaks count as spaces; WER also with
    every punctuation mark a word, as IAM's words.txt has them), also on the
    pages whose text no training writer copied (no word 6-gram in common
    with a training writer's line: IAM writers copied the same passages);
  - line finding: pages with the right number of lines, and truth lines
    found once / merged with another / split / missed;
  - seconds per page (warm, best path, one page per call);
  - robustness (best path): the pages turned by +-3 degrees, with lighter
    ink, on grey noisy paper, JPEG-compressed, at 150 instead of 300 dpi;
  - single IAM words of the same writers read by the same reader (the first
    decoder), against the word model's published number;
  - with --crops, the page CER / WER if every word were cut as IAM cut it:
    the word model on the words' own crops, joined as the pages' texts.
With --word_model, a word model re-reads each word of each line
(`readers/crnn.py`, CRNNReader word_reader); without it the line model reads alone.
The word language model (word_beam) and the character one (beam_lm) come
from the workdir's lm_lines.txt: training lines that share no word 6-gram
with a validation or test line of IAM (or of IAM-OnDB, when the run had
--config.words.ondb_path).
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from hwr_jax import runtime  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/iam_lines", "Workdir of a configs/iam_lines.py run.")
flags.DEFINE_string("iam", None, "The IAM folder (words.txt, forms.txt, words/).")
flags.DEFINE_enum("split", "test", ["test", "validation"], "Whose pages: test or validation writers.")
flags.DEFINE_list("decoders", ["best_path", "beam", "beam_lm", "word_beam"], "CTC decoders.")
flags.DEFINE_string("checkpoint", "best", "'best', 'latest' or a step.")
flags.DEFINE_string("word_model", "", "A word model (workdir or pretrained name, e.g. iam-words) "
                    "that re-reads each word of each line (crnn.CRNNReader word_reader).")
flags.DEFINE_string("word_decoder", "best_path", "With --word_model: its CTC decoder.")
flags.DEFINE_string("word_widths", "1", "With --word_model: each word also read stretched to "
                  "these widths (test-time augmentation; CRNNReader word_widths).")
flags.DEFINE_bool("crops", False, "With --word_model: also read every word of the pages from its "
                  "own IAM crop with the word model alone, joined as the page's text (the "
                  "pages as they would read with perfect line finding and cuts).")
flags.DEFINE_integer("max_pages", 0, "Read only this many pages (0: all).")
flags.DEFINE_bool("robustness", True, "Also read distorted copies of the pages (best path).")
flags.DEFINE_bool("words", True, "Also read the split's single words (best path).")
flags.DEFINE_string("out", "outputs/iam_pages", "Output folder.")
flags.mark_flags_as_required(["iam"])


# -- distortions of a page (robustness) -----------------------------------------

def turned(page: np.ndarray, degrees: float) -> np.ndarray:
  import cv2
  h, w = page.shape
  turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
  return cv2.warpAffine(page, turn, (w, h), borderValue=int(np.median(page)))


def lighter_ink(page: np.ndarray) -> np.ndarray:
  paper = float(np.median(page))
  return (paper - 0.45 * (paper - page.astype(np.float32))).astype(np.uint8)


def grey_noisy_paper(page: np.ndarray) -> np.ndarray:
  rng = np.random.default_rng(0)
  darker = page.astype(np.float32) * 0.8 + rng.normal(0, 8, page.shape)
  return np.clip(darker, 0, 255).astype(np.uint8)


def jpeg(page: np.ndarray, quality: int = 30) -> np.ndarray:
  import cv2
  return cv2.imdecode(cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, quality])[1],
                      cv2.IMREAD_GRAYSCALE)


def half_resolution(page: np.ndarray) -> np.ndarray:
  import cv2
  return cv2.resize(page, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


DISTORTIONS = {"turned +3 degrees": lambda p: turned(p, 3), "turned -3 degrees": lambda p: turned(p, -3),
               "lighter ink (45 % contrast)": lighter_ink, "grey noisy paper": grey_noisy_paper,
               "JPEG quality 30": jpeg, "150 dpi (half size)": half_resolution}


# -- line finding against the truth ---------------------------------------------

def line_matches(found: list, truth: list, scale: float = 1.0) -> dict:
  """Truth lines found once, merged (one found line covers several), split
  (several found lines cover one) or missed, matching boxes by the share of
  each truth line's height a found line covers."""
  def covers(f, t):
    f = [v / scale for v in f]
    dy = min(f[3], t[3]) - max(f[1], t[1])
    dx = min(f[2], t[2]) - max(f[0], t[0])
    return dx > 0 and dy > 0.5 * min(t[3] - t[1], f[3] - f[1])
  cover = np.array([[covers(f, t) for t in truth] for f in found], bool).reshape(len(found),
                                                                                 len(truth))
  per_truth, per_found = cover.sum(0), cover.sum(1)
  merged = sum(per_truth[j] >= 1 and any(per_found[cover[:, j]] > 1) for j in range(len(truth)))
  split = int(((per_truth > 1)).sum())
  missed = int((per_truth == 0).sum())
  return {"truth_lines": len(truth), "found_lines": len(found), "found_once": int(
      sum(per_truth[j] == 1 and per_found[cover[:, j]].max() == 1 for j in range(len(truth)))),
      "merged": int(merged), "split": split, "missed": missed,
      "right_count": len(found) == len(truth)}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from hwr_jax import inference, readers
  from hwr_jax.data import iam_pages
  from hwr_jax.evaluators.text import text_error_rates
  from hwr_jax.language.leakage import word_ngrams
  from hwr_jax.readers.crnn import parse_widths
  os.makedirs(FLAGS.out, exist_ok=True)
  all_pages = iam_pages.read_pages(FLAGS.iam)
  pages = [p for p in all_pages if p.split == FLAGS.split]
  if FLAGS.max_pages:
    pages = pages[:FLAGS.max_pages]
  training_grams = set().union(*(word_ngrams(l.text) for p in all_pages if p.split == "train"
                                 for l in p.lines))
  unseen = [not any(word_ngrams(l.text) & training_grams for l in p.lines) for p in pages]
  model = inference.load_model(FLAGS.workdir, FLAGS.checkpoint, model_name="crnn")
  word_reader = (readers.load_reader(FLAGS.word_model, "crnn", decoder=FLAGS.word_decoder)
                 if FLAGS.word_model else None)
  reader_of = {d: readers.load_reader(FLAGS.workdir, "crnn", FLAGS.checkpoint, decoder=d,
                                      model=model, word_reader=word_reader,
                                      word_widths=parse_widths(FLAGS.word_widths))
               for d in FLAGS.decoders}
  reader = reader_of[FLAGS.decoders[0]]
  images = [iam_pages.render_page(p) for p in pages]
  reader.read(images[0])   # compile

  hypotheses = {d: [] for d in FLAGS.decoders}
  seconds, finding = [], []
  for page, image in zip(pages, images):
    start = time.perf_counter()
    prepared = reader.prepare(image)
    frames = reader.predict([prepared])[0]
    first = reader_of[FLAGS.decoders[0]].finish_page(prepared, frames)
    seconds.append(time.perf_counter() - start)
    finding.append(line_matches([l.box for l in prepared.lines], [l.box for l in page.lines]))
    hypotheses[FLAGS.decoders[0]].append(first.text)
    for d in FLAGS.decoders[1:]:
      hypotheses[d].append(reader_of[d].finish_page(prepared, frames).text)
  flat = lambda text: " ".join(text.split())   # line breaks count as spaces
  references = [flat(p.text) for p in pages]
  rows = []
  for d in FLAGS.decoders:
    hyp = [flat(h) for h in hypotheses[d]]
    rates = text_error_rates(references, hyp)
    fresh = [i for i, u in enumerate(unseen) if u]
    rates["cer_unseen_text"] = text_error_rates([references[i] for i in fresh],
                                                [hyp[i] for i in fresh])["cer"] if fresh else None
    rows.append({"decoder": d, **rates})
  lines_total = {k: int(sum(f[k] for f in finding)) for k in
                 ("truth_lines", "found_lines", "found_once", "merged", "split", "missed",
                  "right_count")}

  robustness = {}
  if FLAGS.robustness:
    for name, distort in DISTORTIONS.items():
      hyp, right, failed = [], 0, 0
      for page, image in zip(pages, images):
        try:
          reading = reader.read(distort(image))
          hyp.append(flat(reading.text))
          right += len(reading.lines) == len(page.lines)
        except readers.ImageError:
          hyp.append("")
          failed += 1
      robustness[name] = {**text_error_rates(references, hyp), "right_count": right,
                          "unreadable": failed}

  crops = None
  if FLAGS.crops and word_reader is not None:
    readings = word_reader.read_files([w.path for page in pages for line in page.lines
                                       for w in line.words])
    read = iter(r.text if r.error is None else "" for r in readings)
    hyp = [flat("\n".join(iam_pages.line_text(line.words, [next(read) for _ in line.words])
                           for line in page.lines)) for page in pages]
    crops = text_error_rates(references, hyp)

  words = None
  if FLAGS.words:
    from hwr_jax.data import iam
    entries = [w for w in iam.read_words(FLAGS.iam) if w.ok and w.split == FLAGS.split]
    readings = reader.read_files([w.path for w in entries])
    kept = [(w.text, r.text) for w, r in zip(entries, readings) if r.error is None]
    words = {"count": len(kept), "unreadable": len(entries) - len(kept),
             **text_error_rates([t for t, _ in kept], [h for _, h in kept])}

  what = (f"IAM {FLAGS.split} writers' pages rebuilt from the word crops (reconstructions, not "
          f"scans): {len(pages)} pages, {lines_total['truth_lines']} lines, "
          f"{sum(unseen)} pages whose text no training writer copied")
  if FLAGS.word_model:
    what += (f"; each line's words re-read by {FLAGS.word_model} ({FLAGS.word_decoder}, widths "
             f"{FLAGS.word_widths}), the decoders below being the line model's")
  md = [what + f"; model {FLAGS.workdir} ({FLAGS.checkpoint} checkpoint); {os.cpu_count()} "
        f"CPU cores. Seconds per page (warm, one page per call, line finding + model + "
        f"{FLAGS.decoders[0]}): median {np.median(seconds):.2f}, max {np.max(seconds):.2f}.", "",
        "| decoder | page CER | page WER | WER, punctuation marks as words | CER ignoring case "
        "| CER, text no training writer copied |", "|---|---:|---:|---:|---:|---:|"]
  for r in rows:
    unseen_cer = f"{100 * r['cer_unseen_text']:.2f} %" if r["cer_unseen_text"] is not None else ""
    md.append(f"| {r['decoder']} | {100 * r['cer']:.2f} % | {100 * r['wer']:.2f} % | "
              f"{100 * r['wer_tokens']:.2f} % | {100 * r['cer_ignoring_case']:.2f} % | "
              f"{unseen_cer} |")
  md += ["", f"Line finding: right number of lines on {lines_total['right_count']} of "
         f"{len(pages)} pages; of {lines_total['truth_lines']} lines, {lines_total['found_once']} "
         f"found once, {lines_total['merged']} merged with another, {lines_total['split']} "
         f"split, {lines_total['missed']} missed ({lines_total['found_lines']} found)."]
  if robustness:
    md += ["", "| pages (best path) | page CER | page WER | right number of lines | unreadable |",
           "|---|---:|---:|---:|---:|"]
    base = next(r for r in rows if r["decoder"] == FLAGS.decoders[0])
    md.append(f"| as rebuilt | {100 * base['cer']:.2f} % | {100 * base['wer']:.2f} % | "
              f"{lines_total['right_count']} / {len(pages)} | 0 |")
    for name, r in robustness.items():
      md.append(f"| {name} | {100 * r['cer']:.2f} % | {100 * r['wer']:.2f} % | "
                f"{r['right_count']} / {len(pages)} | {r['unreadable']} |")
  if words:
    md += ["", f"Single words of the same writers (status ok, {words['count']} read, "
           f"{words['unreadable']} unreadable), same reader ({FLAGS.decoders[0]}): CER "
           f"{100 * words['cer']:.2f} %, WER {100 * words['wer']:.2f} % (the IAM word model: "
           "11.2 % CER best path)."]
  if crops:
    md += ["", f"Every word read from its own IAM crop by {FLAGS.word_model} alone "
           f"({FLAGS.word_decoder}), joined as the pages' texts (perfect line finding and cuts): "
           f"page CER {100 * crops['cer']:.2f} %, WER {100 * crops['wer']:.2f} % "
           f"({100 * crops['wer_tokens']:.2f} % with punctuation marks as words)."]
  with open(os.path.join(FLAGS.out, "results.md"), "w") as f:
    f.write("\n".join(md) + "\n")
  with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
    json.dump({"what": what, "decoders": rows, "line_finding": lines_total,
               "pages": [{"form": p.form, "seconds": s, "unseen_text": u, **f,
                          **{d: hypotheses[d][i] for d in FLAGS.decoders}}
                         for i, (p, s, u, f) in enumerate(zip(pages, seconds, unseen, finding))],
               "robustness": robustness, "words": words, "crops": crops}, f, indent=1)
  print("\n".join(md))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
