"""The CRNN reader: whole word images -> per-frame probabilities (one
compiled call per batch) -> a CTC decoder (`hwr_jax/ctc/`).

A line model (`reads_lines`: configs/iam_lines.py) reads pages:
their lines are found (`preprocess/lines.py`) and read in one batch, and each
word's box comes from the CTC alignment of its line's text. An image with one
line of writing (a word, a line) is read whole, as a word model reads it.
"""

import dataclasses

import numpy as np

from hwr_jax.ctc.text_decoder import DECODERS, TextDecoder
from hwr_jax.data import vocabulary
from hwr_jax.language.defaults import decoder_resources
from hwr_jax.preprocess import image as image_steps, lines as page_lines
from hwr_jax.preprocess.word_input import (InputGeometry, normalize, normalize_with_span,
                                          reads_lines)
from hwr_jax.readers.base import (ImageError, Line, Reader, ReaderError, Reading, Word,
                                  decode, expect_model, significant)


# An image less tall than this many of its strokes' heights is one word or line
# (IAM's word crops: up to ~4.5; a page of two lines with its margins: over 5).
ONE_LINE_IMAGE = 5.0


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
  model trained on (the workdir's vocabulary.tsv, if any)."""

  def __init__(self, workdir: str, checkpoint: str = "best", decoder: str = "best_path",
               beam_width: int = 16, lexicon_path: str | None = None,
               model=None, lm_weight: float = 0.5,
               word_lm_path: str | None = None):
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
    image_steps.check_size(gray)
    try:
      layout = page_lines.find(gray)
      found, skew = layout.lines, layout.skew
      if len(found) <= 3 and gray.shape[0] < ONE_LINE_IMAGE * layout.text_height:
        found = found[:1]   # a few strokes tall: a word or line, whatever its ink's profile
    except ImageError:   # the page checks do not suit tight crops: read it whole (or say why not)
      found, skew = [], 0.0
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
    lines = []
    for line, (x0, step), probs in zip(page.lines, page.spans, frames):
      text, confidence = decode(self.decoder, self.decoder_name, self.charset, probs)
      words = self.word_boxes(text, probs, line, x0, step)
      lines.append(Line(text, confidence, line.box, words))
    text = "\n".join(l.text for l in lines)
    confidence = significant(np.prod([l.confidence for l in lines]))   # as the ink reader's
    return Reading(text, [], None, confidence, frames=frames[0] if len(frames) == 1 else None,
                   lines=lines)

  def word_boxes(self, text: str, probs: np.ndarray, line, x0: float, step: float
                 ) -> list[Word]:
    """Each word of a line's text with its box on the page: the frames the
    CTC alignment gives its characters, mapped back through the line's cut."""
    from hwr_jax.ctc.decoders import ctc_align
    if not text.strip():
      return []
    try:
      spans = ctc_align(probs, [self.charset.index(c) + 1 for c in text], kind="probs")
    except ValueError:
      return []
    columns = self.geometry.columns_per_frame
    height = line.image.shape[0]
    (ox, oy), (dx, dy) = line.origin, line.direction
    words, start = [], None
    for k, c in enumerate(text + " "):
      if c != " " and start is None:
        start = k
      elif c == " " and start is not None:
        a = x0 + spans[start, 0] * columns * step
        b = x0 + (spans[k - 1, 1] + 1) * columns * step
        # The line image's rectangle a..b x 0..height, on the page ((-dy, dx): down).
        xs = [ox + x * dx - y * dy for x in (a, b) for y in (0, height)]
        ys = [oy + x * dy + y * dx for x in (a, b) for y in (0, height)]
        words.append(Word(text[start:k], (round(min(xs), 1), round(min(ys), 1),
                                          round(max(xs), 1), round(max(ys), 1))))
        start = None
    return words
