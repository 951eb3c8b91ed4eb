"""IAM lines and pages, rebuilt from the word crops at their boxes.

IAM's words.txt gives each word's box on its scanned form and every word
image is exactly that crop, so pasting the crops back at their boxes rebuilds
the handwritten part of each form with its real layout, spacing, slant and
baselines; the boxes also give every line's place and text. These are
reconstructions, not scans: every number measured on them says so.

A page is put on one paper: a shade and a little noise for the whole page;
a crop's pixels darker than its line's grey level (IAM's binarization
threshold) are ink and keep their grey, the rest become that paper, so no crop
edge shows. Overlapping crops combine by the darker pixel. Every word of a
form is used ('err' ones included: they are ink on the page); a word IAM
gives no box for (-1 -1 -1 -1) or whose image is missing or empty is left
out of the page and of its line's text (counted in `PageTruth.missing`).

Texts: a line's words joined by spaces, except that a punctuation token
(. , ; : ! ? ' " ( ) -) or a clitic ('s, n't) joins its neighbour without a
space when their boxes are closer than a quarter of the line's median word
height (IAM splits "tomorrow." into two tokens; the page shows one word).
"""

import dataclasses
import os

import cv2
import numpy as np

from hwr_jax.data import iam

MARGIN = 48          # paper around the written part of a page, pixels
PUNCTUATION = set(".,;:!?'\"()-")


@dataclasses.dataclass(frozen=True)
class TruthWord:
  text: str
  box: tuple[int, int, int, int]   # x0, y0, x1, y1 on the rebuilt page
  path: str
  grey: int
  ok: bool = True                  # IAM's segmentation status ('err': badly cut)


@dataclasses.dataclass(frozen=True)
class TruthLine:
  line_id: str                     # a01-000u-00
  text: str
  box: tuple[int, int, int, int]   # x0, y0, x1, y1: the union of its words' boxes
  words: tuple[TruthWord, ...]


@dataclasses.dataclass(frozen=True)
class PageTruth:
  form: str                        # a01-000u
  writer: int
  split: str
  size: tuple[int, int]            # height, width of the rebuilt page
  lines: tuple[TruthLine, ...]
  missing: int                     # words left out: no box, or no image

  @property
  def text(self) -> str:
    return "\n".join(line.text for line in self.lines)


def joins(left: TruthWord, right: TruthWord, height: float) -> bool:
  """Whether two neighbouring tokens are one written word (no space)."""
  def punct(text):
    return all(c in PUNCTUATION for c in text)
  clitic = right.text.startswith("'") or right.text == "n't"
  close = right.box[0] - left.box[2] < 0.25 * height
  return close and (punct(left.text) or punct(right.text) or clitic)


def line_text(words: list[TruthWord], texts: list[str] | None = None) -> str:
  """A line's words joined (`joins`); `texts`: other texts for its words
  (readings of them), joined as the truth is."""
  height = float(np.median([w.box[3] - w.box[1] for w in words]))
  texts = [w.text for w in words] if texts is None else texts
  text = texts[0]
  for left, right, right_text in zip(words, words[1:], texts[1:]):
    text += ("" if joins(left, right, height) else " ") + right_text
  return text


def read_pages(root: str) -> list[PageTruth]:
  """Every form of an IAM folder as a page of lines (in IAM's line order,
  which is reading order), with boxes in the rebuilt page's coordinates."""
  forms: dict[str, list[iam.Word]] = {}
  for word in iam.read_words(root):
    forms.setdefault(word.word_id.rsplit("-", 2)[0], []).append(word)
  pages = []
  for form, words in forms.items():
    usable = [w for w in words
              if w.box is not None and os.path.isfile(w.path) and os.path.getsize(w.path) > 0]
    if not usable:
      continue
    xs = [w.box[0] for w in usable]
    ys = [w.box[1] for w in usable]
    x_end = max(w.box[0] + w.box[2] for w in usable)
    y_end = max(w.box[1] + w.box[3] for w in usable)
    dx, dy = min(xs) - MARGIN, min(ys) - MARGIN
    by_line: dict[str, list[TruthWord]] = {}
    for w in usable:
      x, y, bw, bh = w.box
      by_line.setdefault(w.word_id.rsplit("-", 1)[0], []).append(
          TruthWord(w.text, (x - dx, y - dy, x + bw - dx, y + bh - dy), w.path, w.grey,
                    w.ok))
    lines = []
    for line_id, line_words in by_line.items():
      line_words.sort(key=lambda t: t.box[0])
      box = (min(t.box[0] for t in line_words), min(t.box[1] for t in line_words),
             max(t.box[2] for t in line_words), max(t.box[3] for t in line_words))
      lines.append(TruthLine(line_id, line_text(line_words), box, tuple(line_words)))
    pages.append(PageTruth(form, words[0].writer, words[0].split,
                           (y_end - dy + MARGIN, x_end - dx + MARGIN), tuple(lines),
                           len(words) - len(usable)))
  return pages


def paper(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
  """One sheet: a light grey shade with a little noise."""
  shade = rng.uniform(215, 245)
  sheet = shade + rng.normal(0, 2.0, shape)
  return np.clip(sheet, 0, 255).astype(np.uint8)


def paste(sheet: np.ndarray, words, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
  """`words`' crops onto `sheet` at their boxes (moved by -offset): their ink
  (darker than the line's grey level) by the darker pixel."""
  ox, oy = offset
  for word in words:
    crop = cv2.imread(word.path, cv2.IMREAD_GRAYSCALE)
    if crop is None or crop.size == 0:
      continue
    x0, y0 = word.box[0] - ox, word.box[1] - oy
    h, w = crop.shape
    region = sheet[y0:y0 + h, x0:x0 + w]
    crop = crop[:region.shape[0], :region.shape[1]]
    ink = crop < word.grey
    region[ink] = np.minimum(region[ink], crop[ink])
  return sheet


def page_seed(form: str) -> list[int]:
  return [int.from_bytes(form.encode()[:16].ljust(16, b"\0"), "little") % (2 ** 63)]


def render_page(page: PageTruth) -> np.ndarray:
  """The rebuilt page (uint8 grey, dark ink on light paper); the same every
  time (its paper is a function of the form id)."""
  sheet = paper(page.size, np.random.default_rng(page_seed(page.form)))
  return paste(sheet, [w for line in page.lines for w in line.words])


def render_line(page: PageTruth, line: TruthLine, margin: int = 8) -> np.ndarray:
  """One line alone on its page's paper (no ink of the lines around it), as a
  line finder cuts it out of the page: its words' box with `margin`."""
  x0, y0, x1, y1 = line.box
  x0, y0 = max(0, x0 - margin), max(0, y0 - margin)
  rng = np.random.default_rng(page_seed(page.form) + [len(line.line_id), int(line.line_id[-2:])])
  sheet = paper((y1 + margin - y0, x1 + margin - x0), rng)
  return paste(sheet, line.words, (x0, y0))


def write_once(path: str, image) -> None:
  """`image()` written to `path` (a PNG) unless it is there: whole or not at
  all (written aside, then moved)."""
  if not os.path.exists(path):
    cv2.imwrite(path + ".tmp.png", image())
    os.replace(path + ".tmp.png", path)


def files_per_line(root: str, name: str, files_of) -> dict[str, list[tuple[str, str, int]]]:
  """split -> [(PNG path, text, writer)] of the images `files_of(page,
  line, folder)` writes for each rebuilt line of the IAM folder `root` (and
  returns as [(path, text)]), written once under the cache folder `name`
  (keyed by words.txt's size and time): training data as any word folder is."""
  from hwr_jax import cache
  words_file = iam.find_file(root, "words.txt")
  # The images are as current as the listing: a folder per key, rendered anew when it changes.
  key = (name, 1, os.path.abspath(root), cache.file_stamp(words_file))

  def build(folder):
    result = {split: [] for split in iam.SPLITS}
    for page in read_pages(root):
      for line in page.lines:
        result[page.split] += [(path, text, page.writer)
                               for path, text in files_of(page, line, folder)]
    return result

  return cache.cached_files(name, key, build)


def line_files(root: str) -> dict[str, list[tuple[str, str, int]]]:
  """split -> [(PNG path, text, writer)] of every rebuilt line (`render_line`)."""
  def one(page, line, folder):
    path = os.path.join(folder, line.line_id + ".png")
    write_once(path, lambda: render_line(page, line))
    return [(path, line.text)]
  return files_per_line(root, "iam-lines", one)


def word_cuts(page: PageTruth, line: TruthLine, margin: int = 8
              ) -> list[tuple[np.ndarray, TruthWord]]:
  """Each word of a line cut from the line's image as the page reader cuts
  it for a word model (`readers/crnn.py`): the line's full height, from the
  middle of the gap before the word to the middle of the gap after it, the
  line softened (`preprocess/word_input.soften`); (image, word) per word."""
  from hwr_jax.preprocess.word_input import soften
  image = soften(render_line(page, line, margin))
  x0 = max(0, line.box[0] - margin)
  words = line.words
  cuts = []
  for k, word in enumerate(words):
    left = word.box[0] if k == 0 else (words[k - 1].box[2] + word.box[0]) // 2
    right = word.box[2] if k == len(words) - 1 else (word.box[2] + words[k + 1].box[0]) // 2
    left, right = max(0, min(left, word.box[0]) - x0), max(right, word.box[2]) - x0
    if right - left >= 2:
      cuts.append((image[:, left:right], word))
  return cuts


def word_cut_files(root: str) -> dict[str, list[tuple[str, str, int]]]:
  """split -> [(PNG path, text, writer)] of every word of the rebuilt lines
  that IAM marks 'ok' (as the IAM word source: 'err' words are badly cut),
  cut as the page reader cuts it (`word_cuts`)."""
  def cuts(page, line, folder):
    out = []
    for k, (cut, word) in enumerate(word_cuts(page, line)):
      if word.ok:
        path = os.path.join(folder, f"{line.line_id}-{k:02d}.png")
        write_once(path, lambda: cut)
        out.append((path, word.text))
    return out
  return files_per_line(root, "iam-word-cuts", cuts)
