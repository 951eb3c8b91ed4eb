"""The CRNN reader: whole word images -> per-frame probabilities (one
compiled call per batch) -> a CTC decoder (`hwr_jax/ctc/`)."""

import numpy as np

from hwr_jax import inference
from hwr_jax.ctc.text_decoder import DECODERS, TextDecoder
from hwr_jax.data import vocabulary
from hwr_jax.language.defaults import decoder_resources
from hwr_jax.preprocess import image as image_steps
from hwr_jax.preprocess.word_input import InputGeometry, normalize
from hwr_jax.readers.base import (ImageError, Reader, ReaderError, Reading, decode,
                                  expect_model)


class CRNNReader(Reader):
  """Reads whole word images with a trained CRNN (a configs/words.py or
  configs/iam_words.py workdir) and a CTC decoder: best_path, beam, beam_lm,
  lexicon, token_passing or (lines, a charset with a space) word_beam. The
  lexicon and language model know the English word list and the words the
  model trained on (the workdir's vocabulary.tsv, if any)."""

  def __init__(self, workdir: str, checkpoint: str = "best", decoder: str = "best_path",
               beam_width: int = 16, lexicon_path: str | None = None,
               model: inference.Model | None = None, lm_weight: float = 0.5,
               word_lm_path: str | None = None):
    if decoder not in DECODERS:
      raise ReaderError(f"Unknown decoder {decoder!r}; choose from {DECODERS}.")
    if model is None:
      expect_model(workdir, "crnn", "the CRNN reader needs a word model "
                   "(python launch.py --config=configs/words.py)")
      model = inference.load_model(workdir, checkpoint, model_name="crnn")
    self.model, self.config, self.charset = model, model.config, model.charset
    self.decoder_name = decoder
    self.geometry = InputGeometry.of(self.config)
    counts = vocabulary.read(workdir) if workdir else None
    if decoder == "word_beam" and " " not in self.charset:
      raise ReaderError(f"{workdir}'s model has no space in its charset: word_beam reads "
                        f"lines; use lexicon for single words.")
    if lm_weight < 0:
      raise ReaderError(f"lm_weight must be >= 0, not {lm_weight}.")
    self.decoder = TextDecoder(self.charset, beam_width=beam_width, lm_weight=lm_weight,
                               **decoder_resources(decoder, counts, lexicon_path, word_lm_path))

  def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
    """(T_i, K + 1) per-frame probabilities of word images (blank = 0)."""
    return self.model.frame_probabilities(images)

  def prepare(self, image: np.ndarray) -> np.ndarray:
    """Any word image -> the model's input (its height, ink bright)."""
    gray = image_steps.to_gray(image)
    problem = image_steps.ink_problem(gray)
    if problem:
      raise ImageError(problem)
    return normalize(gray, self.geometry)

  def predict(self, prepared: list[np.ndarray]) -> list[np.ndarray]:
    return self.model.frame_probabilities(prepared, prepared=True)

  def finish(self, prepared: list[np.ndarray], frames: list[np.ndarray]) -> list[Reading]:
    """Decodes each word; its confidence is P(text | image) under the model
    (CTC, summed over alignments)."""
    readings = []
    for probs in frames:
      text, confidence = decode(self.decoder, self.decoder_name, self.charset, probs)
      readings.append(Reading(text, [], None, confidence, frames=probs))
    return readings
