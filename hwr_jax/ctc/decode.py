"""Text from CTC probability matrices: the decoders of `decoders.py` with a
charset, a character LM and a lexicon. Label 0 is the blank; label i + 1 is
`charset[i]`."""

import numpy as np

from hwr_jax.ctc import decoders
from hwr_jax.ctc.language import EOW, CharNgramLM, Lexicon

DECODERS = ("best_path", "beam", "beam_lm", "lexicon")


class TextDecoder:
  def __init__(self, charset: str, beam_width: int = 16, lm: CharNgramLM | None = None,
               lm_weight: float = 0.5, lexicon: Lexicon | None = None,
               lexicon_weight: float = 0.3, lexicon_fallback: bool = True,
               lexicon_min_ratio: float = 1e-3):
    self.charset = charset
    self.beam_width = beam_width
    self.lm, self.lm_weight = lm, lm_weight
    self.lexicon, self.lexicon_weight = lexicon, lexicon_weight
    self.lexicon_fallback = lexicon_fallback
    self.lexicon_min_ratio = lexicon_min_ratio
    self._by_char: dict[str, set[int]] = {}
    for i, ch in enumerate(charset):
      self._by_char.setdefault(ch.lower(), set()).add(i + 1)

  def text(self, labels) -> str:
    return "".join(self.charset[k - 1] for k in labels)

  def best_path(self, probs: np.ndarray, lengths=None) -> list[str]:
    """A batch (B, T, C) -> texts, vectorized."""
    return [self.text(l) for l in decoders.best_path_decode(probs, lengths)]

  def beam(self, probs: np.ndarray) -> tuple[str, float]:
    (labels, score), *_ = decoders.prefix_beam_search(probs, self.beam_width)
    return self.text(labels), score

  def _lm_score(self, prefix, label) -> float:
    return self.lm.log_prob(self.text(prefix), self.charset[label - 1])

  def beam_lm(self, probs: np.ndarray) -> tuple[str, float]:
    if self.lm is None:
      raise ValueError("beam_lm needs a language model")
    beams = decoders.prefix_beam_search(probs, self.beam_width, lm_score=self._lm_score,
                                        lm_weight=self.lm_weight)
    # Close each word: add the LM's end-of-word probability.
    scored = [(labels, score + self.lm_weight * self.lm.log_prob(self.text(labels), EOW))
              for labels, score in beams]
    labels, score = max(scored, key=lambda x: x[1])
    return self.text(labels), score

  def _allowed(self, prefix) -> set[int]:
    allowed = set()
    for ch in self.lexicon.next_chars(self.text(prefix)):
      allowed |= self._by_char.get(ch, set())
    return allowed

  def lexicon_word(self, probs: np.ndarray) -> tuple[str, float]:
    """The best dictionary word (optical score + weighted frequency prior).
    A word "fits" when its optical probability is at least
    `lexicon_min_ratio` times that of the open-vocabulary result; when none
    fits, that result is returned (fallback on) or an empty text (off)."""
    if self.lexicon is None:
      raise ValueError("lexicon decoding needs a lexicon")
    beams = decoders.prefix_beam_search(probs, self.beam_width, allowed=self._allowed)
    open_text, open_score = self.beam(probs)
    floor = open_score + np.log(self.lexicon_min_ratio)
    words = [(labels, score + self.lexicon_weight * self.lexicon.log_prior[self.text(labels).lower()])
             for labels, score in beams
             if score >= floor and self.lexicon.is_word(self.text(labels))]
    if words:
      labels, score = max(words, key=lambda x: x[1])
      return self.text(labels), score
    if self.lexicon_fallback:
      return open_text, open_score
    return "", float("-inf")

  def decode(self, probs: np.ndarray, decoder: str) -> tuple[str, float]:
    """One (T, C) matrix with the named decoder -> (text, log score)."""
    if decoder == "best_path":
      text = self.best_path(probs[None])[0]
      return text, decoders.ctc_log_prob(probs, [self.charset.index(c) + 1 for c in text])
    if decoder == "beam":
      return self.beam(probs)
    if decoder == "beam_lm":
      return self.beam_lm(probs)
    if decoder == "lexicon":
      return self.lexicon_word(probs)
    raise ValueError(f"Unknown decoder {decoder!r}; choose from {DECODERS}.")
