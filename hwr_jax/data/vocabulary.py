"""The words a word model trained on, saved beside its checkpoints.

A run on real word images (IAM, a labels.tsv folder) writes
`<workdir>/vocabulary.tsv`: each distinct training text and its count. The
CRNN reader's lexicon and character language model are built from it (with
a general English word list), so they know the dataset's words, spelling,
punctuation and case, and never its validation or test texts.
"""

import collections
import os

FILE = "vocabulary.tsv"


def _write(workdir: str, name: str, text: str) -> None:
  """Writes `workdir/name` whole or not at all."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, name)
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(path + ".tmp", path)


def write(workdir: str, counts: collections.Counter) -> None:
  _write(workdir, FILE, "".join(f"{text}\t{count}\n" for text, count in counts.most_common()
                                if "\t" not in text and "\n" not in text))


def read(workdir: str) -> collections.Counter | None:
  """The vocabulary of the run in `workdir`; None when it has none (a model
  of synthesized words)."""
  path = os.path.join(workdir, FILE)
  if not os.path.exists(path):
    return None
  counts = collections.Counter()
  with open(path, encoding="utf-8") as f:
    for line in f:
      text, _, count = line.rstrip("\n").rpartition("\t")
      if text:
        counts[text] += int(count)
  return counts


LM_LINES_FILE = "lm_lines.txt"


def write_lm_lines(workdir: str, lines: list[str]) -> None:
  """The running text a line reader's language models are built from
  (`<workdir>/lm_lines.txt`, one line of text per line): its training lines
  less any that share a word 6-gram with a test line (`language/leakage.py`)."""
  _write(workdir, LM_LINES_FILE, "".join(l + "\n" for l in lines if "\n" not in l))


def read_lm_lines(workdir: str) -> list[str] | None:
  path = os.path.join(workdir, LM_LINES_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    return [line.rstrip("\n") for line in f if line.strip()]


CLASS_COUNTS_FILE = "class_counts.json"


def write_class_counts(workdir: str, charset: str, labels) -> None:
  """A classifier's training examples per class (`<workdir>/class_counts.json`):
  the prior the segmentation reader divides out to turn its posteriors into
  likelihoods for dictionary decoding."""
  import json

  import numpy as np
  counts = np.bincount(np.asarray(labels), minlength=len(charset)).tolist()
  _write(workdir, CLASS_COUNTS_FILE, json.dumps({"charset": charset, "counts": counts}))


def read_class_counts(workdir: str, charset: str):
  """The class counts of the run in `workdir` (a numpy array in `charset`'s
  order), or None when it has none or they are of another charset."""
  import json

  import numpy as np
  path = os.path.join(workdir, CLASS_COUNTS_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    data = json.load(f)
  return np.array(data["counts"], np.float64) if data.get("charset") == charset else None
