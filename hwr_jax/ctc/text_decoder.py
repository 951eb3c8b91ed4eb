"""Text from CTC matrices: the decoders of `decoders.py` and `dictionary.py`
with a charset, a character LM and a lexicon. The labels other than the
blank (`blank`, 0 unless told) are the charset's characters in order."""

import numpy as np

from hwr_jax.ctc import decoders
from hwr_jax.ctc.dictionary import DictionaryDecoder, WordBeamDecoder, label_maps
from hwr_jax.ctc.guides import char_lm_tables
from hwr_jax.language.lexicon import Lexicon
from hwr_jax.language.ngrams import CharNgramLM

DECODERS = ("best_path", "beam", "beam_lm", "lexicon", "token_passing", "word_beam")


class TextDecoder:
  """`decode(matrix, name)` -> (text, log score) with any of DECODERS.
  Matrices hold probabilities, log-probabilities or logits (`kind`; "auto"
  recognises the first two and refuses anything else)."""

  def __init__(self, charset: str, beam_width: int = 16, lm: CharNgramLM | None = None,
               lm_weight: float = 0.5, lexicon: Lexicon | None = None, blank: int = 0,
               kind: str = "auto", word_lm=None, word_lm_weight: float = 0.5,
               **dictionary_options):
    self.charset, self.blank, self.kind = charset, blank, kind
    self.beam_width = beam_width
    self.lm, self.lm_weight = lm, lm_weight
    self.lexicon = lexicon
    self.dictionary = DictionaryDecoder(
        charset, lexicon, blank=blank, beam_width=max(beam_width, 32),
        **dictionary_options) if lexicon else None
    # Lines (the charset has a space): word beam search, "ngrams" mode with a word model.
    self.word_beam_decoder = WordBeamDecoder(
        charset, lexicon, word_lm, blank, max(beam_width, 25), word_lm_weight,
        "ngrams" if word_lm is not None else "words") if lexicon and " " in charset else None
    self._lm_guides: dict = {}

  def chars(self, num_classes: int) -> list[str]:
    return label_maps(self.charset, num_classes, self.blank).chars

  def text(self, labels, num_classes: int | None = None) -> str:
    chars = self.chars(num_classes or len(self.charset) + 1)
    return "".join(chars[k] for k in labels)

  def best_path(self, matrices: np.ndarray, lengths=None) -> list[str]:
    """A batch (B, T, C) -> texts, vectorized."""
    return [self.text(l, matrices.shape[-1])
            for l in decoders.best_path_decode(matrices, lengths, self.blank)]

  def beam(self, matrix) -> tuple[str, float]:
    (labels, score), *_ = decoders.prefix_beam_search(matrix, self.beam_width, self.blank,
                                                      kind=self.kind)
    return self.text(labels, np.shape(matrix)[-1]), score

  def beam_lm(self, matrix) -> tuple[str, float]:
    if self.lm is None:
      raise ValueError("beam_lm needs a language model")
    num_classes = np.shape(matrix)[-1]
    if num_classes not in self._lm_guides:
      self._lm_guides[num_classes] = char_lm_tables(self.lm, self.chars(num_classes),
                                                     self.lm_weight)
    (labels, score), *_ = decoders.prefix_beam_search(
        matrix, self.beam_width, self.blank, guide=self._lm_guides[num_classes], kind=self.kind)
    return self.text(labels, num_classes), score

  def lexicon_word(self, matrix, search: str = "beam") -> tuple[str, float]:
    """The best dictionary word, number, or (when neither fits) the
    open-vocabulary text: `dictionary.DictionaryDecoder`."""
    if self.dictionary is None:
      raise ValueError("lexicon decoding needs a lexicon")
    found = self.dictionary.decode(matrix, self.kind, search)
    return found.text, found.score

  def decode(self, matrix, decoder: str) -> tuple[str, float]:
    """One (T, C) matrix with the named decoder -> (text, log score)."""
    if decoder == "best_path":
      log_probs = decoders.as_log_probs(matrix, self.kind, self.blank)
      labels = decoders.best_path_decode(log_probs[None], blank=self.blank)[0]
      return (self.text(labels, log_probs.shape[-1]),
              decoders.ctc_log_prob(log_probs, labels, self.blank, "log_probs"))
    if decoder == "beam":
      return self.beam(matrix)
    if decoder == "beam_lm":
      return self.beam_lm(matrix)
    if decoder == "lexicon":
      return self.lexicon_word(matrix)
    if decoder == "token_passing":
      return self.lexicon_word(matrix, search="token_passing")
    if decoder == "word_beam":
      if self.word_beam_decoder is None:
        raise ValueError("word_beam reads lines of words: it needs a lexicon and a charset with "
                         "a space.")
      found = self.word_beam_decoder.decode(matrix, self.kind)
      return found.text, found.score
    raise ValueError(f"Unknown decoder {decoder!r}; choose from {DECODERS}.")
