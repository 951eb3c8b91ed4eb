"""Dictionary decoding: the best-scoring word of a lexicon (in the case it is
written), or a number, or (only when the image is clearly neither) the
open-vocabulary reading.

Candidates come from a lexicon-trie beam search on the case-folded matrix
(upper and lower case of a letter summed, so the beam holds different words
rather than case variants of one), from a digits-only beam search and from
the open beam search (its text in the case shape people write that scores
best: lower, Capitalized or UPPER). Each word's case variants (as listed, lower,
Capitalized, UPPER) and the numbers are then scored exactly: log P(text |
matrix) under CTC (the forward algorithm, compiled), plus
log-priors: a word's is log P(word) (between uniform over the lexicon and its
frequency: `frequency_weight`) + log P(case), a number's log(share of
numbers) - digits * log(10). The open-vocabulary text wins
only when its CTC score beats the best dictionary candidate's by more than
`open_margin` nats (8: calibrated for the CRNN on words apart from the test
words, experiments/dictionary_decoding.py; `fallback=False`: never). These
defaults suit synthesized words; a model trained on real text reads with
`language/defaults.py: real_text_priors` (chosen on IAM's validation writers).

With `search="token_passing"`, the word candidates are instead the lexicon
words with the best single alignment (Viterbi; token passing of Graves et
al., 2009, without a grammar), every word scored at once.

`WordBeamDecoder` reads lines of words (word beam search); the segmentation
reader's characters become a CTC matrix with `segments_as_frames`.
"""

import dataclasses
import functools

import numpy as np

from hwr_jax.ctc import decoders
from hwr_jax.ctc.guides import (char_class_tables, label_chars, lexicon_tables, spell,
                                trie_arrays, word_tables)
from hwr_jax.language.lexicon import Lexicon

# Relative weights of a word's spellings. Capitalized 0.5 and UPPER 0.1: the best on the
# calibration words of experiments/dictionary_decoding.py (CRNN; 0.2 did as well but one word).
CASE_LOG_PRIORS = {"listed": np.log(0.7), "capitalized": np.log(0.5), "upper": np.log(0.1),
                   "lower": np.log(0.05)}
NUMBER_SHARE = 0.1   # of all words, numbers (their digits uniform)


@dataclasses.dataclass
class Decoded:
  text: str
  score: float        # log P(text | matrix) + log-priors
  optical: float      # log P(text | matrix) under CTC
  source: str         # "word", "number", "open", "words" (a line) or "none"


@dataclasses.dataclass(frozen=True)
class LabelMaps:
  """A charset's labels in a matrix of some number of classes: each label's
  character ("" for the blank), their case-folded classes (upper and lower
  case of a letter as one, lowercase), and each character's label."""
  chars: list[str]
  folded: list[str]
  folding: np.ndarray          # (C, C') one-hot: label -> folded class
  to_label: dict


@functools.lru_cache(maxsize=16)
def label_maps(charset: str, num_classes: int, blank: int = 0) -> LabelMaps:
  return _maps(label_chars(charset, num_classes, blank))


def _maps(chars: list[str]) -> LabelMaps:
  folded: list[str] = []
  index = []
  for ch in chars:
    key = ch.lower()
    if key not in folded or key == "":
      folded.append(key)
    index.append(len(folded) - 1 if key == "" else folded.index(key))
  folding = np.zeros((len(chars), len(folded)))
  folding[np.arange(len(chars)), index] = 1.0
  return LabelMaps(chars, folded, folding, {c: k for k, c in enumerate(chars) if c})


def fold_case(log_probs: np.ndarray, chars: list[str], maps: LabelMaps | None = None
              ) -> tuple[np.ndarray, list[str]]:
  """Sums upper and lower case of each letter: (T, C) log-probabilities ->
  (T, C') and the folded labels' characters (lowercase; the blank stays "")."""
  maps = maps or _maps(chars)
  with np.errstate(divide="ignore"):
    return np.log(np.exp(log_probs) @ maps.folding), maps.folded


def case_variants(word: str, spellings: list[str]) -> list[tuple[str, str]]:
  """(text, case) of a lexicon word: its listed spellings, then lower,
  Capitalized and UPPER where they differ."""
  out = [(s, "listed") for s in spellings]
  for text, case in ((word.capitalize(), "capitalized"), (word.upper(), "upper"),
                     (word.lower(), "lower")):
    if text not in [t for t, _ in out]:
      out.append((text, case))
  return out


class DictionaryDecoder:
  """Reads one (T, C) matrix as a lexicon word, a number, or, when neither
  fits, the open-vocabulary text (see the module's docstring)."""

  def __init__(self, charset: str, lexicon: Lexicon, blank: int = 0, beam_width: int = 32,
               num_words: int = 8, frequency_weight: float = 0.0,
               case_log_priors: dict | None = None, number_share: float = NUMBER_SHARE,
               open_margin: float = 8.0, fallback: bool = True):
    self.charset, self.lexicon, self.blank = charset, lexicon, blank
    self.beam_width, self.num_words = beam_width, num_words
    self.frequency_weight = frequency_weight
    self.case_log_priors = dict(CASE_LOG_PRIORS, **(case_log_priors or {}))
    self.number_share, self.open_margin, self.fallback = number_share, open_margin, fallback
    self._uniform = -np.log(max(len(lexicon.log_prior), 1))
    self._guides: dict = {}

  def _setup(self, num_classes: int):
    """Label maps and guides for matrices of `num_classes` classes (cached)."""
    if num_classes not in self._guides:
      maps = label_maps(self.charset, num_classes, self.blank)
      self._guides[num_classes] = (maps, lexicon_tables(self.lexicon, maps.folded),
                                   char_class_tables(maps.chars, str.isdigit))
    return self._guides[num_classes]

  def candidates(self, log_probs: np.ndarray, search: str = "beam"
                 ) -> list[tuple[str, str, float]]:
    """(text, source, log-prior) of every text worth scoring exactly, for
    log-probabilities checked by `decoders.as_log_probs`."""
    maps, words_guide, digits_guide = self._setup(log_probs.shape[1])
    folded = maps.folded
    folded_probs, _ = fold_case(log_probs, maps.chars, maps)
    if search == "token_passing":
      found = [w for w, _ in token_passing(folded_probs, words_guide, folded, self.num_words)]
    else:
      # Any letter the trie allows may extend a prefix, however unlikely: the
      # word is scored exactly afterwards.
      found = ["".join(folded[k] for k in labels) for labels, _ in decoders.search(
          folded_probs, self.beam_width, folded.index(""), words_guide,
          candidate_threshold=1e-12)[:self.num_words]]
    out = []
    word_share = np.log(1 - self.number_share)
    for word in found:
      prior = word_share + self.frequency_weight * self.lexicon.log_prior[word] + \
          (1 - self.frequency_weight) * self._uniform
      for text, case in case_variants(word, self.lexicon.spellings[word]):
        out.append((text, "word", prior + self.case_log_priors[case]))
    for labels, _ in decoders.search(log_probs, 4, self.blank, digits_guide)[:2]:
      out.append(("".join(maps.chars[k] for k in labels), "number",
                  np.log(self.number_share) - len(labels) * np.log(10)))
    return out

  def best_and_open(self, matrix, kind: str = "auto", search: str = "beam"
                    ) -> tuple[Decoded | None, Decoded]:
    """The best dictionary candidate (None if none can be aligned) and the
    open-vocabulary reading, each scored; `decode` picks between them."""
    log_probs = decoders.as_log_probs(matrix, kind, self.blank)
    maps = self._setup(log_probs.shape[1])[0]
    to_label = maps.to_label
    found = [c for c in self.candidates(log_probs, search) if all(ch in to_label for ch in c[0])]
    (open_labels, _), *_ = decoders.search(log_probs, self.beam_width, self.blank)
    open_text = "".join(maps.chars[k] for k in open_labels)
    # The open reading in the cases people write (lower, Capitalized, UPPER),
    # never a mixture the beam may prefer ('OCCascOnS'); characters the
    # model lacks in a case keep the case it read.
    shapes = [t for t in dict.fromkeys((open_text.lower(), open_text.capitalize(),
                                        open_text.upper()))
              if all(c in to_label for c in t)] or [open_text]
    texts = [t for t, _, _ in found] + shapes
    optical = decoders.forward_scores(log_probs, [[to_label[c] for c in t] for t in texts],
                                      self.blank)
    n = len(found)
    scores = optical[:n] + np.array([p for _, _, p in found])
    best = None
    if n and np.isfinite(scores.max()):
      i = int(np.argmax(scores))
      best = Decoded(found[i][0], float(scores[i]), float(optical[i]), found[i][1])
    k = n + int(np.argmax(optical[n:]))
    return best, Decoded(texts[k], float(optical[k]), float(optical[k]), "open")

  def decode(self, matrix, kind: str = "auto", search: str = "beam") -> Decoded:
    """`search`: how word candidates are found, "beam" (trie-guided beam
    search) or "token_passing"."""
    best, open_reading = self.best_and_open(matrix, kind, search)
    if best is not None and (not self.fallback or
                             open_reading.optical <= best.optical + self.open_margin):
      return best
    if not self.fallback:
      return Decoded("", decoders.NEG_INF, decoders.NEG_INF, "none")
    return open_reading


def token_passing(log_probs: np.ndarray, tables, folded: list[str], n: int = 8
                  ) -> list[tuple[str, float]]:
  """The `n` lexicon words (lowercase) with the best single CTC alignment
  (Viterbi: token passing without a grammar) on a case-folded (T, C')
  log-probability matrix, with that alignment's log-probability. Every word
  is scored at once, on the lexicon's trie (`language.lexicon_tables`): each
  node holds a token for its label and one for the blank after it, and a
  frame is a few array operations over all nodes (words share prefixes)."""
  parent, label, words_end = trie_arrays(tables)
  blank = folded.index("")
  num_nodes = len(parent)
  on_label = np.full(num_nodes, decoders.NEG_INF)     # best path ending in the node's label
  on_blank = np.full(num_nodes, decoders.NEG_INF)     # ... in a blank after it
  on_blank[0] = log_probs[0, blank]
  first = parent == 0
  on_label[first] = log_probs[0, label[first]]
  may_skip = label != label[parent]   # a blank is needed between two equal labels
  for t in range(1, len(log_probs)):
    from_parent = np.maximum(on_blank[parent],
                             np.where(may_skip, on_label[parent], decoders.NEG_INF))
    new_label = np.maximum(on_label, from_parent) + log_probs[t, label]
    on_blank = np.maximum(on_blank, on_label) + log_probs[t, blank]
    on_label = new_label
    on_label[0] = decoders.NEG_INF
  end = np.where(words_end, np.maximum(on_label, on_blank), decoders.NEG_INF)
  top = np.argsort(-end, kind="stable")[:n]
  return [(spell(s, parent, label, folded), float(end[s])) for s in top if np.isfinite(end[s])]


def segments_as_frames(char_probs: np.ndarray, segmentation_error: float = 0.05,
                       skip: float = 1e-3) -> np.ndarray:
  """A segmentation reader's (N, K) per-character probabilities as a CTC
  matrix (2N, K + 1), blank first. Each segment becomes two frames: its
  distribution (blank: `skip`), then the blank with probability 1 -
  `segmentation_error` and its distribution with the rest. A segment is
  then read as one character at little cost, a character split into two
  segments once (its frames run on through the second frame), two merged
  characters as two (one per frame), each of these at a cost of
  `segmentation_error`, and a stray segment left unread at `skip`."""
  probs = np.asarray(char_probs, np.float64)
  first = np.concatenate([np.full((len(probs), 1), skip), (1 - skip) * probs], axis=1)
  second = np.concatenate([np.full((len(probs), 1), 1 - segmentation_error),
                           segmentation_error * probs], axis=1)
  return np.stack([first, second], axis=1).reshape(2 * len(probs), -1)


class WordBeamDecoder:
  """Lines of lexicon words (word beam search, Scheidl et al. 2018): a beam
  search on the case-folded matrix in which words follow the lexicon's trie,
  the separator (" ") may only follow a whole word, and a word bigram model
  scores each word given the previous one ("ngrams" mode; "words": the
  dictionary alone). Each word's case is then chosen among its variants by
  the exact CTC score of the line (plus the case prior), one word at a time."""

  def __init__(self, charset: str, lexicon: Lexicon, word_lm=None, blank: int = 0,
               beam_width: int = 25, lm_weight: float = 0.5, mode: str = "ngrams",
               separator: str = " "):
    if mode not in ("words", "ngrams"):
      raise ValueError(f"mode is 'words' or 'ngrams', not {mode!r}.")
    if mode == "ngrams" and word_lm is None:
      raise ValueError("The 'ngrams' mode needs a word n-gram model (language.WordNgramLM).")
    self.charset, self.lexicon, self.word_lm, self.blank = charset, lexicon, word_lm, blank
    self.beam_width, self.lm_weight = beam_width, lm_weight
    self.mode, self.separator = mode, separator
    self._tables: dict = {}

  def decode(self, matrix, kind: str = "auto") -> Decoded:
    log_probs = decoders.as_log_probs(matrix, kind, self.blank)
    maps = label_maps(self.charset, log_probs.shape[1], self.blank)
    folded, to_label = maps.folded, maps.to_label
    folded_probs, _ = fold_case(log_probs, maps.chars, maps)
    if log_probs.shape[1] not in self._tables:
      self._tables[log_probs.shape[1]] = word_tables(
          self.lexicon, folded, self.separator, self.word_lm if self.mode == "ngrams" else None,
          self.lm_weight)
    found = decoders.search(folded_probs, self.beam_width, folded.index(""),
                            self._tables[log_probs.shape[1]], candidate_threshold=1e-12)
    if not found:
      return Decoded("", decoders.NEG_INF, decoders.NEG_INF, "none")
    labels, score = found[0]
    words = "".join(folded[k] for k in labels).split(self.separator)
    line = [self.lexicon.spellings[w][0] for w in words]
    for i, word in enumerate(words):   # each word's case, the others fixed
      variants = [(t, c) for t, c in case_variants(word, self.lexicon.spellings[word])
                  if all(ch in to_label for ch in t)]
      texts = [self.separator.join(line[:i] + [t] + line[i + 1:]) for t, _ in variants]
      optical = decoders.forward_scores(log_probs, [[to_label[c] for c in t] for t in texts],
                                        self.blank)
      best = int(np.argmax(optical + np.array([CASE_LOG_PRIORS[c] for _, c in variants])))
      line[i] = variants[best][0]
    text = self.separator.join(line)
    optical = float(decoders.forward_scores(log_probs, [[to_label[c] for c in text]],
                                            self.blank)[0])
    return Decoded(text, score, optical, "words")
