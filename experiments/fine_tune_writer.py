"""Fine-tuning a pretrained reader on one new hand: a few hundred labelled
words of one IAM validation writer, the rest of that writer's words held out.

  python experiments/fine_tune_writer.py --model=iam-lines --iam=IAM_FOLDER \\
      --writer=151 --config=configs/iam_lines.py [--epochs=5] [--out=runs/writer151]

The writer's words IAM marks 'ok', by form: the forms in order until
--share of the words are reached are the fine-tuning words (a labels.tsv folder,
the format a user's own words come in; its last tenth is the validation set of
the fine-tuning run), the writer's other forms are held out (other text, the
same hand). Reads the held-out words with the model before and after
fine-tuning (`launch.py --config.init_from=MODEL`, every other setting the
config's) and prints one JSON object: CER / WER before and after (best path).
A validation writer's words only: never fine-tune or judge on a test writer.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def error_rates(model: str, pairs: list[tuple[str, str]]) -> dict:
  from hwr_jax.evaluators.text import text_error_rates
  from hwr_jax.readers import load_reader
  readings = load_reader(model, decoder="best_path").read_files([p for p, _ in pairs])
  rates = text_error_rates([t for _, t in pairs], [r.text for r in readings])
  return {k: round(100 * v, 2) for k, v in rates.items()}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", required=True, help="pretrained name or workdir")
  parser.add_argument("--iam", required=True)
  parser.add_argument("--writer", type=int, default=151)
  parser.add_argument("--config", default="configs/iam_lines.py")
  parser.add_argument("--epochs", type=int, default=5)
  parser.add_argument("--learning_rate", type=float, default=3e-4)
  parser.add_argument("--share", type=float, default=0.6, help="of the words, to fine-tune on")
  parser.add_argument("--out", default="runs/writer151")
  args = parser.parse_args()
  from hwr_jax.data import iam
  words = [w for w in iam.read_words(args.iam) if w.writer == args.writer and w.ok]
  if iam.writer_split(args.writer) == "test":
    raise SystemExit(f"writer {args.writer} is a test writer: choose a validation writer")
  forms = sorted({w.word_id.rsplit("-", 2)[0] for w in words})
  tune_forms, count = [], 0
  for form in forms:
    if count >= args.share * len(words):
      break
    tune_forms.append(form)
    count += sum(w.word_id.startswith(form + "-") for w in words)
  tune = [w for w in words if w.word_id.rsplit("-", 2)[0] in tune_forms]
  held_out = [(w.path, w.text) for w in words if w.word_id.rsplit("-", 2)[0] not in tune_forms]
  folder = os.path.join(args.out, "words")
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "labels.tsv"), "w", encoding="utf-8") as f:
    f.writelines(f"{os.path.abspath(w.path)}\t{w.text}\n" for w in tune)
  before = error_rates(args.model, held_out)
  workdir = os.path.join(args.out, "run")
  command = [sys.executable, os.path.join(ROOT, "launch.py"), f"--config={args.config}",
             f"--workdir={workdir}", "--config.words.source=folder",
             f"--config.words.path={folder}", f"--config.init_from={args.model}",
             f"--config.num_epochs={args.epochs}", f"--config.learning_rate={args.learning_rate}",
             "--config.batch_size=16", "--config.warmup_epochs=0.5"]
  subprocess.run(command, check=True, cwd=ROOT)
  after = error_rates(workdir, held_out)
  print(json.dumps({"writer": args.writer, "model": args.model, "fine_tune_forms": tune_forms,
                    "fine_tune_words": len(tune), "held_out_forms": sorted(set(forms) - set(tune_forms)),
                    "held_out_words": len(held_out), "epochs": args.epochs,
                    "command": " ".join(command[1:]), "before": before, "after": after}, indent=1))


if __name__ == "__main__":
  main()
