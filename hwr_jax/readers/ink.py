"""The ink reader: pen strokes (lines of online handwriting) -> lines of text.

Strokes are split into lines by their vertical position
(`preprocess/ink.split_lines`), each line normalized (`preprocess/ink.normalize`)
and read by an ink model (a configs/ondb_lines.py workdir) in one compiled
call per batch, then decoded with a CTC decoder: best_path, beam, beam_lm or
word_beam (lines of dictionary words, with a word bigram model when given).
"""

import dataclasses

import numpy as np

from hwr_jax.ctc.text_decoder import TextDecoder
from hwr_jax.data import ink_files, vocabulary
from hwr_jax.language.defaults import decoder_resources
from hwr_jax.preprocess import ink
from hwr_jax.readers.base import (Line, Reader, ReaderError, Reading, decode, expect_model,
                                  significant)

DECODERS = ("best_path", "beam", "beam_lm", "word_beam")


@dataclasses.dataclass
class Ink:
  """Strokes as read from a file, with what was repaired in them."""
  strokes: list[np.ndarray]
  notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Prepared:
  lines: list[np.ndarray]                        # model features per line
  boxes: list[tuple[float, float, float, float]]
  notes: list[str]


class InkReader(Reader):
  """Reads ink (IAM-OnDB XML, InkML, JSON strokes; or strokes in Python) with
  a trained ink model and a CTC decoder."""
  input_error = ink_files.InkError

  def __init__(self, workdir: str, checkpoint: str = "best", decoder: str = "best_path",
               beam_width: int = 16, lexicon_path: str | None = None,
               model=None, lm_weight: float = 0.5,
               word_lm_path: str | None = None):
    if decoder not in DECODERS:
      raise ReaderError(f"The ink reader reads lines with {DECODERS}, not {decoder!r}.")
    if model is None:
      expect_model(workdir, "ink", "the ink reader needs an ink model "
                   "(python launch.py --config=configs/ondb_lines.py)")
      from hwr_jax import inference   # (here: a model given, e.g. onnxruntime's, needs no JAX)
      model = inference.load_model(workdir, checkpoint, model_name="ink")
    if lm_weight < 0:
      raise ReaderError(f"lm_weight must be >= 0, not {lm_weight}.")
    self.model, self.config, self.charset = model, model.config, model.charset
    self.decoder_name = decoder
    counts = vocabulary.read(workdir) if workdir else None
    lm_lines = vocabulary.read_lm_lines(workdir) if workdir else None
    self.decoder = TextDecoder(self.charset, beam_width=beam_width, lm_weight=lm_weight,
                               **decoder_resources(decoder, counts, lexicon_path, word_lm_path,
                                                   lm_lines))

  def load(self, path: str) -> Ink:
    notes = []
    return Ink(ink_files.read_ink(path, notes), notes)

  def prepare(self, strokes) -> _Prepared:
    """Strokes (a list of (n, 2) or (n, 3) arrays, or an `Ink`) -> the
    model's features of each line, top to bottom."""
    if isinstance(strokes, Ink):   # from a file: read_ink has checked it
      strokes, notes = strokes.strokes, strokes.notes
    else:
      notes = []
      strokes = ink_files.check_strokes(strokes, notes)
    lines, boxes = [], []
    for line in ink.split_lines(strokes):
      xy = np.concatenate([s[:, :2] for s in line])
      lines.append(ink.normalize(line))
      boxes.append(tuple(round(float(v), 1) for v in (*xy.min(0), *xy.max(0))))
    return _Prepared(lines, boxes, notes)

  def predict(self, prepared: list[_Prepared]) -> list[np.ndarray]:
    """Every line of every input in one batched call."""
    return self.model.ink_frame_probabilities([line for p in prepared for line in p.lines])

  def finish(self, prepared: list[_Prepared], frames: list[np.ndarray]) -> list[Reading]:
    """Decodes each line; a line's confidence is P(text | ink) under the
    model (CTC, summed over alignments); the reading's is their product."""
    readings, k = [], 0
    for p in prepared:
      lines = []
      for box in p.boxes:
        text, confidence = decode(self.decoder, self.decoder_name, self.charset, frames[k])
        k += 1
        lines.append(Line(text, confidence, box))
      confidence = float(np.prod([l.confidence for l in lines]))
      readings.append(Reading("\n".join(l.text for l in lines), [], None,
                              significant(confidence), lines=lines, notes=p.notes))
    return readings
