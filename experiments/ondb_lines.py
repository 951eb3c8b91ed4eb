"""The ink reader on IAM-OnDB's test set (testset_f), per decoder.

  python experiments/ondb_lines.py --workdir=runs/ondb --ondb=ONDB_FOLDER
  python experiments/ondb_lines.py --workdir=runs/ondb --ondb=ONDB_FOLDER --split=validation

Reads every line of testset_f (3,859 lines; or testset_v with
--split=validation: choose settings there, never on the test set) with each
CTC decoder through the evaluator `launch.py --mode=evaluate` uses
(`hwr_jax/evaluators/text.py`), and measures the reader `hwr-read` uses on
single lines (warm, one line per call, ink file parsing excluded). Writes
--out/results.md (CER / WER per decoder, the published numbers beside them,
training minutes, speed) and results.json.

The language models (word_beam's word bigram model, beam_lm's character
4-gram model) are built from the workdir's lm_lines.txt: training lines that
share no word 6-gram with a validation or test line (`language/leakage.py`).
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
flags.DEFINE_string("workdir", "runs/ondb", "Workdir of a configs/ondb_lines.py run.")
flags.DEFINE_string("ondb", None, "The IAM-OnDB folder (lineStrokes/, ascii/).")
flags.DEFINE_enum("split", "test", ["test", "validation"], "testset_f or testset_v.")
flags.DEFINE_list("decoders", ["best_path", "beam", "beam_lm", "word_beam"], "CTC decoders.")
flags.DEFINE_string("checkpoint", "best", "'best', 'latest' or a step.")
flags.DEFINE_integer("latency_lines", 100, "Lines read one at a time for the latency.")
flags.DEFINE_string("out", "outputs/ondb_lines", "Output folder.")
flags.mark_flags_as_required(["ondb"])

# Published results on IAM-OnDB (testset_f unless said): CER, WER.
REFERENCES = [
    ("Graves et al. 2009, BLSTM + CTC, dictionary + language model", "", "20.3 % "
     "(word accuracy 79.7 %)"),
    ("Carbune et al. 2020, Bezier curves + BLSTM + CTC (state of the art)", "~4 %", ""),
]


def line_latency(workdir: str, ondb: str, lines: int) -> dict:
  """Median and 90th-percentile ms to read one line of ink, warm, with the
  reader hwr-read uses (best path)."""
  from hwr_jax import readers
  from hwr_jax.data import ink_files, ondb as ondb_data
  reader = readers.load_reader(workdir, "ink", FLAGS.checkpoint)
  catalogue = ondb_data.read_lines(ondb)
  chosen = [l for l in catalogue.lines if l.split == FLAGS.split][:lines]
  strokes = [ink_files.read_ondb_xml(l.path) for l in chosen]
  for s in strokes:                 # compile every length bucket first
    reader.read(s)
  times = []
  for s in strokes:
    start = time.perf_counter()
    reader.read(s)
    times.append(1000 * (time.perf_counter() - start))
  return {"ms_per_line_median": float(np.median(times)),
          "ms_per_line_p90": float(np.percentile(times, 90)), "lines_timed": len(times)}


def line_splitting(ondb: str) -> dict:
  """How often `preprocess/ink.split_lines` cuts the split's forms, all their
  lines of ink joined into one, into exactly their lines."""
  import collections

  from hwr_jax.data import ink_files, ondb as ondb_data
  from hwr_jax.preprocess import ink
  forms = collections.defaultdict(list)
  for line in ondb_data.read_lines(ondb).lines:
    if line.split == FLAGS.split:
      forms[line.form].append(line)
  exact = 0
  for lines in forms.values():
    strokes, owner = [], {}
    for k, line in enumerate(lines):
      for stroke in ink_files.read_ondb_xml(line.path):
        strokes.append(stroke)
        owner[id(stroke)] = k
    found = ink.split_lines(strokes)
    exact += len(found) == len(lines) and all(
        len({owner[id(s)] for s in group}) == 1 for group in found)
  return {"forms": len(forms), "forms_split_exactly": exact}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from hwr_jax import run_log
  from hwr_jax.checkpoints import load_workdir_config
  from hwr_jax.evaluators import text
  os.makedirs(FLAGS.out, exist_ok=True)
  config = load_workdir_config(FLAGS.workdir)
  config.ink.update(source="ondb", path=FLAGS.ondb)
  results = text.evaluate_checkpoint(config, FLAGS.workdir, FLAGS.checkpoint, FLAGS.split,
                                     FLAGS.decoders)
  speed = line_latency(FLAGS.workdir, FLAGS.ondb, FLAGS.latency_lines)
  splitting = line_splitting(FLAGS.ondb)
  history = run_log.epoch_records(os.path.join(FLAGS.workdir, "metrics.jsonl"))
  best = min(history, key=lambda r: r["val_cer"])
  rows = list(results["decoders"].values())
  lines = [
      f"IAM-OnDB, {results['what']}: {results['num_words']} lines. Model: {FLAGS.workdir} "
      f"({FLAGS.checkpoint} checkpoint: epoch {best['epoch']} of {len(history)}, "
      f"{best['train_seconds'] / 60:.0f} training minutes; validation CER (testset_v, best "
      f"path) {100 * best['val_cer']:.2f} %). {os.cpu_count()} CPU cores. One line read "
      f"warm: median {speed['ms_per_line_median']:.1f} ms, 90th percentile "
      f"{speed['ms_per_line_p90']:.1f} ms ({speed['lines_timed']} lines, best path). Lines "
      f"found in whole forms (all lines of ink of a form joined): "
      f"{splitting['forms_split_exactly']} of {splitting['forms']} forms split exactly.", "",
      "| reader | CER | WER | CER ignoring case | lines/s |", "|---|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(f"| hwr-jax ink reader, {r['decoder']} | {100 * r['cer']:.2f} % | "
                 f"{100 * r['wer']:.2f} % | {100 * r['cer_ignoring_case']:.2f} % | "
                 f"{r['texts_per_second']:.0f} |")
  for name, cer, wer in REFERENCES:
    lines.append(f"| {name} (published) | {cer} | {wer} | | |")
  with open(os.path.join(FLAGS.out, "results.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  with open(os.path.join(FLAGS.out, "results.json"), "w") as f:
    json.dump({"results": results, "speed": speed, "line_splitting": splitting,
               "history": history}, f, indent=1)
  print("\n".join(lines))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
