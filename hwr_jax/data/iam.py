"""The IAM Handwriting Database's words, read from a folder the user provides.

IAM (https://fki.tic.heia-fr.ch/databases/iam-handwriting-database) may be used
for non-commercial research after registering with its owners; this project
never ships it. A folder is read as IAM distributes it:

  words.txt (or ascii/words.txt)   one line per word image:
      a01-000u-00-00 ok 154 408 768 27 51 AT A
      id, segmentation status (ok | err), grey level, box x y w h, tag, text
  forms.txt (or ascii/forms.txt)   one line per form: form id, writer id, ...
  words/a01/a01-000u/a01-000u-00-00.png

What the real files hold is handled: CRLF line endings, '#' comments,
transcriptions that contain spaces (everything after the tag), empty image
files (a01-117-05-02.png is 0 bytes in IAM itself) and images missing for
some lines (both reported, then skipped).

The split is fixed and writer-independent (no writer is in two splits):
writer id % 7 == 3 -> test, % 7 == 4 -> validation, every other writer ->
training. Judge a reader on the test writers, select models on validation.
"""

import dataclasses
import os

from hwr_jax.data.errors import DataError

SPLITS = ("train", "validation", "test")


def writer_split(writer: int) -> str:
  """'train', 'validation' or 'test' for an IAM writer id."""
  return {3: "test", 4: "validation"}.get(writer % 7, "train")


@dataclasses.dataclass(frozen=True)
class Word:
  word_id: str      # a01-000u-00-00
  ok: bool          # IAM's word segmentation status is 'ok' (not 'err')
  text: str
  path: str         # the image file
  writer: int
  split: str
  grey: int = 0     # the grey level IAM gives for binarizing the word's line (ink is darker)
  box: tuple[int, int, int, int] | None = None   # x, y, w, h on the scanned form; None: not given


def find_file(root: str, name: str) -> str | None:
  for path in (os.path.join(root, name), os.path.join(root, "ascii", name)):
    if os.path.isfile(path):
      return path
  return None


def read_forms(path: str) -> dict[str, int]:
  """form id -> writer id, from IAM's forms.txt."""
  writers = {}
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      if line.startswith("#") or not line.strip():
        continue
      fields = line.split()
      try:
        writers[fields[0]] = int(fields[1])
      except (IndexError, ValueError):
        raise DataError(f"{path}:{number}: expected 'form-id writer-id ...', "
                        f"got {line.strip()!r}") from None
  return writers


def line_texts(root: str, split: str = "test") -> list[str]:
  """The text of every line of the `split` writers' forms (all its words,
  'err' ones included, in order): what language models must not contain."""
  lines: dict[str, list[str]] = {}
  for word in read_words(root):
    if word.split == split:
      lines.setdefault(word.word_id.rsplit("-", 1)[0], []).append(word.text)
  return [" ".join(words) for words in lines.values()]


def read_words(root: str) -> list[Word]:
  """Every word line of `root`'s words.txt, with its writer and split."""
  words_file, forms_file = find_file(root, "words.txt"), find_file(root, "forms.txt")
  missing = [n for n, p in (("words.txt", words_file), ("forms.txt", forms_file)) if p is None]
  if missing:
    raise DataError(
        f"{root}: {' and '.join(missing)} not found (looked in the folder and its ascii/). "
        "An IAM folder holds words.txt, forms.txt and words/ as IAM distributes them; get them "
        "at https://fki.tic.heia-fr.ch/databases/iam-handwriting-database (free registration, "
        "non-commercial research).")
  writers = read_forms(forms_file)
  images = os.path.join(root, "words")
  result = []
  with open(words_file, encoding="utf-8") as f:   # universal newlines: CRLF is fine
    for number, line in enumerate(f, 1):
      if line.startswith("#") or not line.strip():
        continue
      fields = line.split()
      if len(fields) < 9 or fields[1] not in ("ok", "err"):
        raise DataError(f"{words_file}:{number}: not an IAM words.txt line: {line.strip()!r}")
      word_id = fields[0]
      parts = word_id.split("-")
      form = "-".join(parts[:2])
      if form not in writers:
        raise DataError(f"{words_file}:{number}: form {form} is not in {forms_file}.")
      writer = writers[form]
      path = os.path.join(images, parts[0], form, word_id + ".png")
      try:
        grey, x, y, w, h = map(int, fields[2:7])
      except ValueError:
        raise DataError(f"{words_file}:{number}: grey level and box are not integers: "
                        f"{line.strip()!r}") from None
      box = (x, y, w, h) if min(x, y) >= 0 and min(w, h) > 0 else None   # IAM: -1 -1 -1 -1
      result.append(Word(word_id, fields[1] == "ok", " ".join(fields[8:]), path, writer,
                         writer_split(writer), grey, box))
  return result


def load_images(entries: list[Word]) -> tuple[list, list[str], int]:
  """(grayscale images, their texts, how many were skipped) of word entries;
  an image that is missing, unreadable or empty is skipped and counted."""
  import cv2
  images, texts, skipped = [], [], 0
  for w in entries:
    image = cv2.imread(w.path, cv2.IMREAD_GRAYSCALE) if os.path.isfile(w.path) else None
    if image is None or image.size == 0:
      skipped += 1
      continue
    images.append(image)
    texts.append(w.text)
  return images, texts, skipped
