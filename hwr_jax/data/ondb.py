"""The IAM On-Line Handwriting Database (IAM-OnDB): lines of pen strokes with
their text, read from a folder the user provides.

IAM-OnDB (https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database)
may be used for non-commercial research after registering with its owners;
this project never ships it. A folder is read as IAM-OnDB distributes it:

  lineStrokes/a01/a01-000/a01-000u-01.xml   one line of ink (`ink_files.read_ondb_xml`)
  ascii/a01/a01-000/a01-000u.txt            its form's text: the lines after `CSR:`,
                                            one per line file, in order (-01 is the first)

The split is the official one of IAM-OnDB's task 1 (`ondb_splits/`, form ids):
trainset (775 forms) -> training, testset_v (192) -> validation (model
selection), testset_f (544) -> test (the test set the literature reports);
testset_t (216) is training data too when `extra_training=True` (as in part
of the literature). A form whose line files and CSR lines differ in number
(e.g. a08-551z: 9 files, 8 lines) is skipped and counted.
"""

import collections
import dataclasses
import os

from hwr_jax.data.errors import DataError

SPLIT_FILES = {"train": "trainset.txt", "validation": "testset_v.txt",
               "test": "testset_f.txt", "extra": "testset_t.txt"}
SPLITS_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ondb_splits")


@dataclasses.dataclass(frozen=True)
class Line:
  line_id: str      # a01-000u-01
  form: str         # a01-000u
  text: str
  path: str         # the line's XML file
  split: str        # train | validation | test | extra (testset_t) | none


def split_forms() -> dict[str, str]:
  """form id -> split of the official task-1 lists."""
  forms = {}
  for split, name in SPLIT_FILES.items():
    with open(os.path.join(SPLITS_FOLDER, name), encoding="utf-8") as f:
      for form in filter(None, (line.strip() for line in f)):
        forms[form] = split
  return forms


def csr_lines(path: str) -> list[str]:
  """The transcription lines of a form's ascii file (its CSR section)."""
  with open(path, encoding="latin-1") as f:
    text = f.read().replace("\r\n", "\n")
  if "CSR:" not in text:
    raise DataError(f"{path}: no 'CSR:' section (not an IAM-OnDB ascii file)")
  return [line.strip() for line in text.split("CSR:", 1)[1].split("\n") if line.strip()]


@dataclasses.dataclass
class Catalogue:
  lines: list[Line]
  skipped_forms: list[str]          # line files and CSR lines differ in number
  counts: dict                      # split -> lines


def read_lines(root: str) -> Catalogue:
  """Every line of ink in an IAM-OnDB folder with its text and split."""
  strokes_root, ascii_root = (os.path.join(root, "lineStrokes"), os.path.join(root, "ascii"))
  for folder in (strokes_root, ascii_root):
    if not os.path.isdir(folder):
      raise DataError(f"{folder} not found: an IAM-OnDB folder holds lineStrokes/ and ascii/ "
                      "as IAM-OnDB distributes them (see docs/data.md).")
  by_form = collections.defaultdict(list)
  for folder, _, files in os.walk(strokes_root):
    for name in files:
      if name.endswith(".xml"):
        by_form[name[:-len("-01.xml")]].append(os.path.join(folder, name))
  splits = split_forms()
  lines, skipped = [], []
  for folder, _, files in os.walk(ascii_root):
    for name in sorted(files):
      if not name.endswith(".txt"):
        continue
      form = name[:-4]
      paths = sorted(by_form.get(form, []))
      if not paths:
        continue
      texts = csr_lines(os.path.join(folder, name))
      if len(texts) != len(paths):
        skipped.append(form)
        continue
      split = splits.get(form, splits.get(form.rstrip("abcdefghijklmnopqrstuvwxyz"), "none"))
      lines += [Line(os.path.basename(p)[:-4], form, t, p, split) for p, t in zip(paths, texts)]
  if not lines:
    raise DataError(f"{root}: no line files with transcriptions found.")
  lines.sort(key=lambda l: l.line_id)
  return Catalogue(lines, sorted(skipped), dict(collections.Counter(l.split for l in lines)))
