"""The CRNN reader: whole word images -> per-frame probabilities (one
compiled call per batch) -> a CTC decoder (`hwr_jax/ctc/`).

A line model (`reads_lines`: configs/iam_lines.py) reads pages:
their lines are found (`preprocess/lines.py`) and read in one batch, and each
word's box comes from the CTC alignment of its line's text. An image with one
line of writing (a word, a line) is read whole, as a word model reads it.
"""

import dataclasses
import re

import cv2
import numpy as np

from hwr_jax.ctc.decoders import ctc_align, ctc_log_prob
from hwr_jax.ctc.text_decoder import DECODERS, TextDecoder
from hwr_jax.data import vocabulary
from hwr_jax.language.defaults import decoder_resources
from hwr_jax.preprocess import image as image_steps, lines as page_lines
from hwr_jax.preprocess.word_input import (InputGeometry, normalize, normalize_with_span,
                                          reads_lines, soften)
from hwr_jax.readers.base import (ImageError, Line, Reader, ReaderError, Reading, Word,
                                  decode, expect_model, significant)


# An image less tall than this many of its strokes' heights is one word or line
# (IAM's word crops: up to ~4.5; a page of two lines with its margins: over 5).
ONE_LINE_IMAGE = 5.0
# Read by the line model where a word model re-reads a line's words: the
# punctuation at a word's edges (IAM's word crops hold it as tokens of its own).
EDGE_PUNCTUATION = '.,;:!?"()-'
# A word reader with these decoders (no dictionary, no language model) has its
# reading weighed against the line model's (CRNNReader.reread_words).
OPEN_DECODERS = ("best_path", "beam")
# Words the line model ran together (no space between them) are parted where
# the line shows a gap at least WORD_GAP times as wide as its word gaps (the
# median of those where it put spaces) and its frames there give a space at
# least SPACE_EVIDENCE probability (both chosen on the validation writers'
# pages: of 52 such gaps on 20 pages, 43 parted, 6 gaps inside words too).
WORD_GAP = 0.4
SPACE_EVIDENCE = 0.05


@dataclasses.dataclass
class _Page:
  lines: list[page_lines.PageLine]
  inputs: list[np.ndarray]                  # one model input per line
  spans: list[tuple[float, float]]          # input column -> line image column: x0, step
  skew: float = 0.0


class CRNNReader(Reader):
  """Reads whole word images with a trained CRNN (a configs/words.py or
  configs/iam_words.py workdir) and a CTC decoder: best_path, beam, beam_lm,
  lexicon, token_passing or (lines, a charset with a space) word_beam. The
  lexicon and language model know the English word list and the words the
  model trained on (the workdir's vocabulary.tsv, if any).
  `word_reader` (a line model's reader only): a word model's reader that
  re-reads each word of each line, cut where the CTC alignment of the line's
  text puts it (`pieces`); the line model gives the spaces and the
  punctuation at words' edges. With `word_widths` other than (1,), each cut
  is also read stretched to those widths (test-time augmentation). A word
  stays as read when it has one candidate; else (an open decoder: the line
  model's reading is a candidate too; several widths: each one's reading)
  the candidate most likely under all the word readings' frames and the
  line model's frames together (CTC, the product of the probabilities),
  less any edge punctuation the line's text keeps beside it (`shed`).
  `word_gap`: a piece of the line model's reading that spans a gap in the ink
  this share of the line's word gaps wide, where its frames give a space some
  probability, is read as two words (WORD_GAP; 0: never)."""

  def __init__(self, workdir: str, checkpoint: str = "best", decoder: str = "best_path",
               beam_width: int = 16, lexicon_path: str | None = None,
               model=None, lm_weight: float = 0.5,
               word_lm_path: str | None = None, word_reader: "CRNNReader | None" = None,
               word_widths: tuple[float, ...] = (1.0,), word_gap: float = WORD_GAP):
    if decoder not in DECODERS:
      raise ReaderError(f"Unknown decoder {decoder!r}; choose from {DECODERS}.")
    if model is None:
      expect_model(workdir, "crnn", "the CRNN reader needs a word model "
                   "(python launch.py --config=configs/words.py)")
      from hwr_jax import inference   # (here: a model given, e.g. onnxruntime's, needs no JAX)
      model = inference.load_model(workdir, checkpoint, model_name="crnn")
    self.model, self.config, self.charset = model, model.config, model.charset
    self.decoder_name = decoder
    self.geometry = InputGeometry.of(self.config)
    self.reads_lines = reads_lines(self.config, self.charset)
    if word_reader is not None and (not self.reads_lines or word_reader.reads_lines):
      raise ReaderError("word_reader: a word model re-reads the words of a line model's "
                        "lines; give a line model (configs/iam_lines.py) and a word model "
                        "(configs/iam_words.py).")
    if not word_widths or min(word_widths) <= 0:
      raise ReaderError(f"word_widths must be positive, not {word_widths}.")
    self.word_reader, self.word_widths = word_reader, tuple(word_widths)
    self.word_gap = word_gap
    counts = vocabulary.read(workdir) if workdir else None
    if decoder == "word_beam" and " " not in self.charset:
      raise ReaderError(f"{workdir}'s model has no space in its charset: word_beam reads "
                        f"lines; use lexicon for single words.")
    if lm_weight < 0:
      raise ReaderError(f"lm_weight must be >= 0, not {lm_weight}.")
    lm_lines = vocabulary.read_lm_lines(workdir) if workdir and self.reads_lines else None
    self.decoder = TextDecoder(self.charset, beam_width=beam_width, lm_weight=lm_weight,
                               **decoder_resources(decoder, counts, lexicon_path, word_lm_path,
                                                   lm_lines))

  def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
    """(T_i, K + 1) per-frame probabilities of word images (blank = 0)."""
    return self.model.frame_probabilities(images)

  def prepare(self, image: np.ndarray):
    """Any word image -> the model's input (its height, ink bright); with a
    line model, any page, line or word image -> its lines' inputs."""
    gray = image_steps.to_gray(image)
    if self.reads_lines:
      return self.prepare_page(gray)
    problem = image_steps.ink_problem(gray)
    if problem:
      raise ImageError(problem)
    return normalize(gray, self.geometry)

  def prepare_page(self, gray: np.ndarray) -> _Page:
    found, skew = find_lines(gray)
    if len(found) <= 1:   # a word or a line: read as it is, as the model trained
      problem = image_steps.ink_problem(gray)
      if problem:
        raise ImageError(problem)
      h, w = gray.shape
      found = [page_lines.PageLine(gray, (0, 0, w, h), np.array([[0, 0], [w, 0], [w, h], [0, h]],
                                   np.float64), (0.0, 0.0), (1.0, 0.0))]
    inputs, spans = [], []
    for line in found:
      prepared, x0, step = normalize_with_span(line.image, self.geometry)
      inputs.append(prepared)
      spans.append((x0, step))
    return _Page(found, inputs, spans, skew)

  def predict(self, prepared: list):
    if not self.reads_lines:
      return self.model.frame_probabilities(prepared, prepared=True)
    frames = self.model.frame_probabilities([x for page in prepared for x in page.inputs],
                                            prepared=True)
    out, start = [], 0
    for page in prepared:
      out.append(frames[start:start + len(page.inputs)])
      start += len(page.inputs)
    return out

  def finish(self, prepared: list, frames: list) -> list[Reading]:
    """Decodes each word (or line); its confidence is P(text | image) under
    the model (CTC, summed over alignments)."""
    if self.reads_lines:
      return [self.finish_page(page, page_frames) for page, page_frames in zip(prepared, frames)]
    readings = []
    for probs in frames:
      text, confidence = decode(self.decoder, self.decoder_name, self.charset, probs)
      readings.append(Reading(text, [], None, confidence, frames=probs))
    return readings

  def finish_page(self, page: _Page, frames: list[np.ndarray]) -> Reading:
    read = [decode(self.decoder, self.decoder_name, self.charset, probs) for probs in frames]
    aligned, confidences = [t for t, _ in read], [c for _, c in read]
    alignments = [self.align(text, probs) for text, probs in zip(aligned, frames)]
    texts = aligned
    if self.word_reader is not None:
      texts = self.reread_words(page, aligned, alignments, frames)
      for k, probs in enumerate(frames):
        if texts[k] != aligned[k]:   # still P(text | line image) under the line model
          confidences[k] = significant(np.exp(label_log_prob(self.charset, probs, texts[k])))
    lines = []
    for line, (x0, step), text, confidence, spans, first, probs in zip(
        page.lines, page.spans, texts, confidences, alignments, aligned, frames):
      boxes = self.word_boxes(first, spans, line, x0, step)
      if len(text.split()) != len(boxes):   # words parted: each one's frames anew
        boxes = self.word_boxes(text, self.align(text, probs), line, x0, step) or boxes
      for word, final in zip(boxes, text.split()):   # re-read words keep their boxes
        word.text = final
      lines.append(Line(text, confidence, line.box, boxes))
    text = "\n".join(l.text for l in lines)
    confidence = significant(np.prod([l.confidence for l in lines]))   # as the ink reader's
    return Reading(text, [], None, confidence, frames=frames[0] if len(frames) == 1 else None,
                   lines=lines)

  def align(self, text: str, probs: np.ndarray) -> np.ndarray | None:
    """(len(text), 2) first and last frame of each character (Viterbi)."""
    if not text.strip():
      return None
    try:
      return ctc_align(probs, [self.charset.index(c) + 1 for c in text], kind="probs")
    except ValueError:
      return None

  def reread_words(self, page: _Page, texts: list[str], alignments: list,
                   frames: list[np.ndarray]) -> list[str]:
    """The lines' texts with each word (less its edge punctuation) as the word
    reader reads its cut of the line image: one batch for the page."""
    columns = self.geometry.columns_per_frame
    cuts, where = [], []   # where: (line, a, b, [(f0, f1) of each part of the piece])
    for k, (line, (x0, step), text, spans) in enumerate(zip(page.lines, page.spans, texts,
                                                            alignments)):
      if spans is None:
        continue
      found = pieces(text)
      starts = [x0 + spans[a, 0] * columns * step for a, _, _ in found]
      ends = [x0 + (spans[b - 1, 1] + 1) * columns * step for _, b, _ in found]
      # Faint ink made full contrast (the word reader's ink check suits a word
      # image, not a cut of light ink that the page's line finding found).
      image = cv2.normalize(line.image, None, 0, 255, cv2.NORM_MINMAX)
      image = soften(image)   # stroke edges as a scan's
      ink = (255 - image.astype(np.int32)).sum(0)   # per column
      width = image.shape[1]
      bounds = [0] + [gap_column(ink, e, a) for e, a in zip(ends[:-1], starts[1:])] + [width]
      frame_of = lambda x: (x - x0) / (columns * step)   # line-image column -> frame
      splits = (partings(image, text, found, bounds, frames[k][:, self.charset.index(" ") + 1],
                         frame_of, self.word_gap) if self.word_gap else {})
      for j, (a, b, reread) in enumerate(found):
        left, right = bounds[j], bounds[j + 1]
        if reread and right > left:
          edges = [left] + splits.get(j, []) + [right]
          cuts += [image[:, l:r] for l, r in zip(edges, edges[1:])]
          where.append((k, a, b, [(max(0, int(frame_of(l))), int(np.ceil(frame_of(r))))
                                  for l, r in zip(edges, edges[1:])]))   # each part's frames
    if not cuts:
      return texts
    widths = self.word_widths
    readings = self.word_reader.read_many([
        cut if w == 1 else cv2.resize(cut, (max(2, round(cut.shape[1] * w)), cut.shape[0]),
                                      interpolation=cv2.INTER_AREA)
        for cut in cuts for w in widths])
    n, chosen = 0, []
    for k, a, b, parts in where:
      words = []
      for f0, f1 in parts:
        read = [r for r in readings[n * len(widths):(n + 1) * len(widths)] if r.error is None]
        n += 1
        candidates = {"".join(r.text.split()) for r in read} - {""}   # no spaces inside a word
        if self.word_reader.decoder_name in OPEN_DECODERS and len(parts) == 1:
          candidates.add(texts[k][a:b])
        score = lambda c: (label_log_prob(self.charset, frames[k][f0:f1], c)
                           + sum(label_log_prob(self.word_reader.charset, r.frames, c)
                                 for r in read))
        if candidates:
          words.append(max(sorted(candidates), key=score) if len(candidates) > 1
                       else candidates.pop())
      if len(words) == len(parts):   # else (a part unread) the line model's reading stays
        before = re.search(r"\S*$", texts[k][:a]).group()
        after = re.match(r"\S*", texts[k][b:]).group()
        chosen.append((k, a, b, shed(" ".join(words), before, after)))
    out = list(texts)
    for k, a, b, best in sorted(chosen, key=lambda c: (c[0], -c[1])):
      out[k] = out[k][:a] + best + out[k][b:]
    return out

  def word_boxes(self, text: str, spans: np.ndarray | None, line, x0: float, step: float
                 ) -> list[Word]:
    """Each word of a line's text with its box on the page: the frames the
    CTC alignment (`align`) gives its characters, mapped back through the
    line's cut."""
    if spans is None:
      return []
    columns = self.geometry.columns_per_frame
    height = line.image.shape[0]
    (ox, oy), (dx, dy) = line.origin, line.direction
    words = []
    for match, (a, b) in zip(re.finditer(r"\S+", text), word_frames(text, spans)):
      a, b = x0 + a * columns * step, x0 + b * columns * step
      # The line image's rectangle a..b x 0..height, on the page ((-dy, dx): down).
      xs = [ox + x * dx - y * dy for x in (a, b) for y in (0, height)]
      ys = [oy + x * dy + y * dx for x in (a, b) for y in (0, height)]
      words.append(Word(match.group(), (round(min(xs), 1), round(min(ys), 1),
                                        round(max(xs), 1), round(max(ys), 1))))
    return words


def parse_widths(text: str) -> tuple[float, ...]:
  """'1,0.8,1.25' -> (1.0, 0.8, 1.25): `word_widths` as a model.json or a
  flag gives them; ValueError for anything but numbers."""
  return tuple(float(w) for w in str(text).split(","))


def find_lines(gray: np.ndarray) -> tuple[list[page_lines.PageLine], float]:
  """The lines of writing of a grey image, top to bottom, and its skew
  (degrees); at most one line for a word or a line image."""
  image_steps.check_size(gray)
  try:
    layout = page_lines.find(gray)
  except ImageError:   # the page checks do not suit tight crops: read it whole (or say why not)
    return [], 0.0
  if len(layout.lines) <= 3 and gray.shape[0] < ONE_LINE_IMAGE * layout.text_height:
    return layout.lines[:1], layout.skew   # a few strokes tall: a word or line, whatever its profile
  return layout.lines, layout.skew


def label_log_prob(charset: str, probs: np.ndarray, text: str) -> float:
  """log P(text | frames) under CTC; -inf for a text the charset cannot spell
  or the frames cannot hold."""
  if not text or any(c not in charset for c in text) or len(probs) < len(text):
    return -np.inf
  return float(ctc_log_prob(probs, [charset.index(c) + 1 for c in text]))


def gap_column(ink: np.ndarray, end: float, start: float) -> int:
  """Where to cut between a piece of a line that ends at column `end` and the
  next, which starts at `start` (CTC frames: each character's spike, often
  inside its strokes): the column of least ink between the two, the middle
  of the emptiest run; halfway if they overlap."""
  a, b = int(np.floor(min(end, start))), int(np.ceil(max(end, start)))
  a, b = max(0, a), min(len(ink), b)
  if end >= start or b - a < 2:
    return int(np.clip(round((end + start) / 2), 0, len(ink)))
  segment = ink[a:b]
  emptiest = np.flatnonzero(segment == segment.min())
  return a + int(emptiest[len(emptiest) // 2])


def partings(image: np.ndarray, text: str, found: list, bounds: list[int], space: np.ndarray,
             frame_of, word_gap: float) -> dict[int, list[int]]:
  """Where to part each piece (`pieces` of `text`, cut at `bounds`) of a
  line into words the line model ran together: the middles of the empty
  column runs inside it at least `word_gap` times the line's median word gap
  (the runs at bounds where the text has a space) wide, where the frames'
  space probabilities `space` reach SPACE_EVIDENCE (`frame_of`: column ->
  frame). {} for a line with fewer than two word gaps to measure."""
  runs = empty_runs(image)
  spaced = [bounds[j + 1] for j in range(len(found) - 1)
            if " " in text[found[j][1]:found[j + 1][0] + 1]]
  gaps = [b - a for a, b in runs if any(a <= x < b for x in spaced)]
  if len(gaps) < 2:
    return {}
  least = word_gap * float(np.median(gaps))
  frame = lambda x: int(np.clip(frame_of(x), 0, len(space) - 1))
  return {j: [(a + b) // 2 for a, b in runs
              if b - a >= least and bounds[j] < a and b < bounds[j + 1]
              and space[frame(a):frame(b) + 1].max() >= SPACE_EVIDENCE]
          for j in range(len(found))}


def empty_runs(image: np.ndarray) -> list[tuple[int, int]]:
  """(first, last + 1) columns of each run of columns without ink (Otsu's
  threshold) of a dark-ink line image, between inked columns."""
  _, ink = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
  inked = np.flatnonzero(ink.any(0))
  if len(inked) < 2:
    return []
  jumps = np.flatnonzero(np.diff(inked) > 1)
  return [(int(inked[j]) + 1, int(inked[j + 1])) for j in jumps]


def shed(word: str, before: str, after: str) -> str:
  """A word model's reading of a cut less the edge punctuation the line's
  text keeps beside it (`before`, `after`: the line model's punctuation at
  the word's edges): IAM's word crops hold "Mr." whole, the line model reads
  "Mr" and "." and would give "Mr.."."""
  def overlap(a: str, b: str) -> int:   # the longest punctuation end of a that begins b
    return max((n for n in range(1, len(a) + 1)
                if all(c in EDGE_PUNCTUATION for c in a[-n:]) and b.startswith(a[-n:])),
               default=0)
  shorn = word[:len(word) - overlap(word, after)]
  shorn = shorn[overlap(shorn[::-1], before[::-1]):]   # the same at its start
  return shorn or word


def word_frames(text: str, spans: np.ndarray) -> list[tuple[int, int]]:
  """(first frame, last frame + 1) of each word (run of non-spaces) of a
  text whose characters' frames are `spans` (`CRNNReader.align`)."""
  return [(int(spans[m.start(), 0]), int(spans[m.end() - 1, 1]) + 1)
          for m in re.finditer(r"\S+", text)]


def pieces(text: str) -> list[tuple[int, int, bool]]:
  """A line's text as (start, end, re-read) character ranges: each word, with
  the punctuation at its edges as pieces of their own (not re-read)."""
  out = []
  for match in re.finditer(r"\S+", text):
    start, end = match.span()
    a, b = start, end
    while a < b and text[a] in EDGE_PUNCTUATION:
      a += 1
    while b > a and text[b - 1] in EDGE_PUNCTUATION:
      b -= 1
    out += [(s, e, reread) for s, e, reread in ((start, a, False), (a, b, True), (b, end, False))
            if e > s]
  return out
