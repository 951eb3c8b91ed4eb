"""A word reader trained on IAM, measured on the IAM test writers.

  python experiments/iam_words.py --workdir=runs/iam --iam=IAM_FOLDER

Reads every test-writer word whose segmentation IAM marks 'ok' (writer id
% 7 == 3; no test writer was trained on or used for model selection) with
each CTC decoder, through the same reader `hwr-read` uses, and writes to
--out: results.md (CER / WER per decoder, per kind of word, words/s, the
training minutes, the published reference numbers), results.json (with every
hypothesis), and val_cer.png (validation CER against training minutes).

The lexicon and character LM are the reader's defaults for this workdir:
the model's training words (its vocabulary.tsv) and the 20,000 most
frequent English words (wordfreq); never the test words.
"""

import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from hwr_jax import runtime  # noqa: E402
from hwr_jax.evaluators.text import kind_of, text_error_rates  # noqa: E402
from hwr_jax.data import iam, vocabulary  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/iam", "Workdir of a configs/iam_words.py run, or a "
                    "pretrained model's name (iam-words).")
flags.DEFINE_string("iam", None, "The IAM folder (words.txt, forms.txt, words/).")
flags.DEFINE_enum("split", "test", ["test", "validation"], "Which writers to read.")
flags.DEFINE_list("decoders", ["best_path", "beam", "beam_lm", "lexicon", "token_passing"],
                  "CTC decoders.")
flags.DEFINE_integer("beam_width", 16, "Beam width of the beam decoders.")
flags.DEFINE_float("lm_weight", 0.5, "beam_lm: weight of the character language model "
                   "(choose it with --split=validation, never on the test writers).")
flags.DEFINE_integer("max_words", 0, "Read only the first N words (0: all).")
flags.DEFINE_string("checkpoint", "best", "'best', 'latest' or a step.")
flags.DEFINE_string("out", "outputs/iam_words", "Output folder.")
flags.mark_flags_as_required(["iam"])

# Published word-level results on IAM (each on its own split, not this one): CER, WER.
REFERENCES = [
    ("CRNN + CTC article this project follows (50 epochs)", "10.72 %", "26.45 %"),
    ("SimpleHTR (githubharald), best path", "~10 %", "~25 % (word accuracy ~75 %)"),
]


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from hwr_jax import pretrained, readers
  workdir = pretrained.folder(FLAGS.workdir)
  os.makedirs(FLAGS.out, exist_ok=True)
  entries = [w for w in iam.read_words(FLAGS.iam) if w.ok and w.split == FLAGS.split]
  images, texts, unreadable = iam.load_images(entries[:FLAGS.max_words or None])
  writers = len({w.writer for w in entries})
  train_vocabulary = vocabulary.read(workdir) or collections.Counter()
  seen = np.array([t in train_vocabulary for t in texts])
  kinds = np.array([kind_of(t) for t in texts])
  print(f"{len(texts)} {FLAGS.split} words of {writers} writers ({unreadable} unreadable "
        f"skipped); {100 * seen.mean():.0f} % of them occur among the training words")

  rows = []
  for decoder in FLAGS.decoders:
    reader = readers.load_reader(workdir, "crnn", FLAGS.checkpoint, decoder=decoder,
                                 beam_width=FLAGS.beam_width, lm_weight=FLAGS.lm_weight)
    reader.read_many(images[:256])                    # compile the buckets it meets
    start = time.perf_counter()
    readings = reader.read_many(images)
    seconds = time.perf_counter() - start
    hypotheses = [r.text if r.error is None else "" for r in readings]
    result = {"decoder": decoder, **text_error_rates(texts, hypotheses),
              "words_per_second": len(texts) / seconds}
    for name, mask in [("unseen_words", ~seen), *((k, kinds == k) for k in sorted(set(kinds)))]:
      if mask.any():
        chosen = np.flatnonzero(mask)
        result[f"cer_{name}"] = text_error_rates(
            [texts[i] for i in chosen], [hypotheses[i] for i in chosen])["cer"]
        result[f"count_{name}"] = int(mask.sum())
    rows.append((result, hypotheses))
    print(json.dumps(result))

  from hwr_jax import run_log
  metrics = os.path.join(workdir, "metrics.jsonl")
  history = run_log.epoch_records(metrics) if os.path.exists(metrics) else []
  if history:
    best = min(history, key=lambda r: r["val_cer"])
    trained = (f"{FLAGS.checkpoint} checkpoint: epoch {best['epoch']} of {len(history)}, "
               f"{best['train_seconds'] / 60:.0f} training minutes; validation CER "
               f"{100 * best['val_cer']:.2f} %")
  else:
    trained = "a published model: its MODEL.md tells how it trained"
  results = [r for r, _ in rows]
  lines = [
      f"IAM words, {FLAGS.split} writers (writer id % 7 == {3 if FLAGS.split == 'test' else 4}, "
      f"status ok): {len(texts)} words of {writers} writers, {100 * (~seen).mean():.0f} % "
      f"of them never seen in training. Model: {FLAGS.workdir} ({trained}). "
      f"{os.cpu_count()} CPU cores.", "",
      "| reader | CER | WER | CER ignoring case | CER unseen words | words/s |",
      "|---|---:|---:|---:|---:|---:|"]
  for r in results:
    lines.append(f"| hwr-jax CRNN, {r['decoder']} | {100 * r['cer']:.2f} % | "
                 f"{100 * r['wer']:.2f} % | {100 * r['cer_ignoring_case']:.2f} % | "
                 f"{100 * r.get('cer_unseen_words', float('nan')):.2f} % | "
                 f"{r['words_per_second']:.0f} |")
  for name, cer, wer in REFERENCES:
    lines.append(f"| {name} (published, its own IAM split) | {cer} | {wer} | | | |")
  kind_names = sorted(set(kinds))
  lines += ["", "CER by kind of word (count):", "",
            "| decoder | " + " | ".join(f"{k} ({(kinds == k).sum()})" for k in kind_names) + " |",
            "|---|" + "---:|" * len(kind_names)]
  for r in results:
    lines.append(f"| {r['decoder']} | " + " | ".join(
        f"{100 * r[f'cer_{k}']:.1f} %" for k in kind_names) + " |")
  open(os.path.join(FLAGS.out, "results.md"), "w").write("\n".join(lines) + "\n")
  json.dump({"texts": texts, "results": results, "history": history,
             "hypotheses": {r["decoder"]: h for r, h in rows}},
            open(os.path.join(FLAGS.out, "results.json"), "w"), indent=1)
  if history:
    plot_history(history, os.path.join(FLAGS.out, "val_cer.png"))
  print("\n".join(lines))


def plot_history(history: list[dict], out_png: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  minutes = [r["train_seconds"] / 60 for r in history]
  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(minutes, [100 * r["val_cer"] for r in history], "o-", label="CER")
  ax.plot(minutes, [100 * r["val_wer"] for r in history], "s-", label="WER")
  ax.set(xlabel="training minutes", ylabel="% (validation writers, best path)",
         title="IAM words: validation error against training time")
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(out_png, dpi=110)
  plt.close(fig)


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
