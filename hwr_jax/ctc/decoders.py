"""CTC decoders for (T, C) matrices of per-frame scores.

Every entry point takes the blank index (`blank`) and what the matrix holds
(`kind`: "probs", "log_probs", "logits", or "auto", which recognises
probabilities and log-probabilities and refuses anything else), and returns
label index sequences (map them to text with the model's charset).
"""

import dataclasses
import math

import numba
import numpy as np

NEG_INF = -np.inf
KINDS = ("auto", "probs", "log_probs", "logits")


class MatrixError(ValueError):
  """The matrix is not what the decoder was told (or could tell) it is."""


def _log_softmax(x: np.ndarray) -> np.ndarray:
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def as_log_probs(matrix, kind: str = "auto", blank: int = 0, tolerance: float = 1e-3
                 ) -> np.ndarray:
  """(..., T, C) probabilities, log-probabilities or logits -> float64
  log-probabilities, after checking the matrix is what `kind` says.
  "auto" accepts probabilities (rows in [0, 1] summing to 1) and
  log-probabilities (rows <= 0 whose exponentials sum to 1); logits must be
  declared, since any matrix could be logits."""
  if kind not in KINDS:
    raise MatrixError(f"kind must be one of {KINDS}, not {kind!r}.")
  m = np.asarray(matrix, np.float64)
  if m.ndim < 2 or m.shape[-1] < 2:
    raise MatrixError(f"Expected a (T, C) matrix with C >= 2 classes (blank included), got "
                      f"shape {m.shape}.")
  if not -m.shape[-1] <= blank < m.shape[-1]:
    raise MatrixError(f"blank={blank} is not a class of a matrix with {m.shape[-1]} classes.")
  if m.shape[-2] == 0:
    return m
  if np.isnan(m).any() or np.isposinf(m).any():
    raise MatrixError("The matrix holds NaN or +inf values: the model's output is broken.")
  if kind == "logits":
    if np.isneginf(m).all(-1).any():
      raise MatrixError("A frame of logits is -inf in every class.")
    return _log_softmax(m)
  is_probs = (m.min() >= 0) and (m.max() <= 1 + tolerance) and \
      np.allclose(m.sum(-1), 1, atol=tolerance)
  if kind == "probs" or (kind == "auto" and is_probs):
    if not is_probs:
      sums = m.sum(-1)
      raise MatrixError(
          f"Not probabilities: values in [{m.min():.3g}, {m.max():.3g}], rows sum to "
          f"{sums.min():.3g}..{sums.max():.3g} (should be [0, 1] and 1). Pass kind='log_probs' "
          f"or kind='logits' if that is what the matrix holds.")
    return np.log(np.maximum(m, 1e-30))
  with np.errstate(over="ignore"):
    is_log = m.max() <= tolerance and np.allclose(np.exp(m).sum(-1), 1, atol=tolerance)
  if not is_log:
    if kind == "log_probs":
      raise MatrixError("Not log-probabilities: the exponentials of a row do not sum to 1. Pass "
                        "kind='logits' if the matrix holds unnormalized scores.")
    raise MatrixError("The matrix holds neither probabilities (rows sum to 1) nor "
                      "log-probabilities (rows' exponentials sum to 1). If it holds logits, "
                      "pass kind='logits'.")
  return np.minimum(m, 0.0)


def best_path_decode(matrix, lengths: np.ndarray | None = None, blank: int = 0
                     ) -> list[list[int]]:
  """Greedy decoding of a batch (B, T, C): argmax per frame, repeats merged,
  blanks dropped. Vectorized over batch and time. Any kind of matrix (the
  argmax of probabilities, log-probabilities and logits agree)."""
  best = np.asarray(matrix).argmax(-1)                     # (B, T)
  b, t = best.shape
  lengths = np.full(b, t) if lengths is None else np.asarray(lengths)
  previous = np.concatenate([np.full((b, 1), -1), best[:, :-1]], axis=1)
  keep = (best != blank % np.shape(matrix)[-1]) & (best != previous) & \
      (np.arange(t)[None, :] < lengths[:, None])
  return [row[mask].tolist() for row, mask in zip(best, keep)]


@dataclasses.dataclass(frozen=True, eq=False)
class GuideTables:
  """A language model or lexicon as tables over S states (a state sums up a
  prefix: its trie node, its last characters): `next[s, c]` is the state
  after label c follows a prefix in state s (-1: forbidden), `rows[s, c]`
  the log-score that adds (one row (1, C): the same for every state), and
  `final[s]` the log-score of ending the text there (-inf: may not end).
  Built by `language.py`."""
  rows: np.ndarray      # (S, C) or (1, C) float32
  next: np.ndarray      # (S, C) int32
  final: np.ndarray     # (S,) float64
  initial: int = 0
  # Text of words (`language.word_tables`): the word each state ends (-1: none),
  # the label between words, and a word n-gram model's arrays with its weight.
  word_of_state: np.ndarray | None = None
  separator: int = -1
  word_lm: tuple | None = None
  lm_weight: float = 0.0

  def __post_init__(self):
    for name, dtype in (("rows", np.float32), ("next", np.int32), ("final", np.float64)):
      object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype))
    if self.word_of_state is None:
      object.__setattr__(self, "word_of_state", np.full(1, -1, np.int32))
    if self.word_lm is None:   # a vocabulary of one word, never used
      object.__setattr__(self, "word_lm", (np.zeros(1), np.zeros(0, np.int64), np.zeros(0),
                                           np.zeros(2), np.zeros(2)))


def no_guide(num_classes: int) -> GuideTables:
  return GuideTables(np.zeros((1, num_classes), np.float32), np.zeros((1, num_classes), np.int32),
                     np.zeros(1, np.float32))


@numba.njit(cache=True, inline="always")
def _logaddexp(a: float, b: float) -> float:
  if a == -np.inf:
    return b
  if b == -np.inf:
    return a
  return max(a, b) + math.log1p(math.exp(-abs(a - b)))


@numba.njit(cache=True)
def _word_log_prob(previous, word, lm):
  """log P(word | previous word) of a WordNgramLM's arrays (Witten-Bell
  interpolation of bigram and unigram; `previous` == vocabulary size: the
  start of the text)."""
  unigram, keys, counts, totals, types = lm
  p = math.exp(unigram[word])
  total = totals[previous]
  if total > 0:
    key = previous * len(unigram) + word
    i = np.searchsorted(keys, key)
    count = counts[i] if i < len(keys) and keys[i] == key else 0.0
    weight = total / (total + types[previous])
    p = weight * count / total + (1 - weight) * p
  return math.log(p)


@numba.njit(cache=True)
def _beam_search(log_probs, blank, beam_width, max_candidates, log_threshold, log_skip,
                 rows, next_state, final, initial, word_of_state, separator, word_lm, lm_weight):
  """Prefix beam search on one (T, C) log-probability matrix, compiled
  (numba): W beams x K candidate labels per frame in flat arrays; prefixes
  are told apart by a 64-bit hash (and their length). With a `separator`
  label (>= 0), the guide's states are a lexicon trie's and the text is
  words: the separator may follow a whole word only, adds `lm_weight` * log
  P(word | previous word) and returns to the trie's root."""
  num_frames, num_classes = log_probs.shape
  w = beam_width
  guided_rows = rows.shape[0] > 1
  # The beams: optical log-scores of their paths ending in blank / in the last
  # label, the guide's summed score, labels, hash, the parent prefix's hash.
  p_blank = np.full(w, -np.inf)
  p_label = np.full(w, -np.inf)
  guided = np.zeros(w)
  labels = np.zeros((w, max(num_frames, 1)), np.int32)
  length = np.zeros(w, np.int64)
  hashes = np.zeros(w, np.uint64)
  parent_hash = np.zeros(w, np.uint64)
  state = np.full(w, initial, np.int64)
  start_of_text = len(word_lm[0])
  previous = np.full(w, start_of_text, np.int64)    # word mode: the last whole word
  p_blank[0] = 0.0
  n = 1
  cand = np.zeros(max_candidates, np.int64)
  entries = w + w * max_candidates
  e_score = np.empty(entries)
  e_blank = np.empty(entries)
  e_label = np.empty(entries)
  e_guided = np.empty(entries)
  e_parent = np.empty(entries, np.int64)
  e_char = np.empty(entries, np.int64)
  total = np.empty(w)
  last = np.empty(w, np.int64)
  merged_from = np.empty(w, np.int64)
  multiplier = np.uint64(0x9E3779B97F4A7C15)
  for t in range(num_frames):
    frame = log_probs[t]
    for b in range(n):
      total[b] = _logaddexp(p_blank[b], p_label[b])
    if frame[blank] > log_skip:            # a blank frame: every path now ends in blank
      for b in range(n):
        p_blank[b] = total[b] + frame[blank]
        p_label[b] = -np.inf
      continue
    # The K most likely labels above the threshold (insertion into a sorted list).
    k = 0
    for c in range(num_classes):
      if c == blank or frame[c] <= log_threshold:
        continue
      if k < max_candidates:
        k += 1
      elif frame[c] <= frame[cand[k - 1]]:
        continue
      i = k - 1
      while i > 0 and frame[cand[i - 1]] < frame[c]:
        cand[i] = cand[i - 1]
        i -= 1
      cand[i] = c
    for b in range(n):
      last[b] = labels[b, length[b] - 1] if length[b] > 0 else -1
    # Stays; and p + last(q) == q merges into beam q (at most one such p).
    m = 0
    for q in range(n):
      stay_label = p_label[q] + frame[last[q]] if last[q] >= 0 else -np.inf
      merged_from[q] = -1
      if last[q] >= 0:
        for p in range(n):
          if hashes[p] == parent_hash[q] and length[p] + 1 == length[q]:
            source = p_blank[p] if last[p] == last[q] else total[p]
            stay_label = _logaddexp(stay_label, source + frame[last[q]])
            merged_from[q] = p
            break
      e_blank[m] = total[q] + frame[blank]
      e_label[m] = stay_label
      e_guided[m] = guided[q]
      e_score[m] = _logaddexp(e_blank[m], stay_label) + guided[q]
      e_parent[m] = q
      e_char[m] = -1
      m += 1
    # Extensions by each candidate, except those that are already a beam.
    for p in range(n):
      row = rows[state[p]] if guided_rows else rows[0]
      allowed = next_state[state[p]]
      for j in range(k):
        c = cand[j]
        word_score = 0.0
        if c == separator:
          if word_of_state[state[p]] < 0:
            continue
          word_score = lm_weight * _word_log_prob(previous[p], word_of_state[state[p]], word_lm)
        elif allowed[c] < 0 or row[c] == -np.inf:
          continue
        is_beam = False
        for q in range(n):
          if merged_from[q] == p and last[q] == c:
            is_beam = True
            break
        if is_beam:
          continue
        source = p_blank[p] if last[p] == c else total[p]
        e_blank[m] = -np.inf
        e_label[m] = source + frame[c]
        e_guided[m] = guided[p] + (word_score if c == separator else row[c])
        e_score[m] = e_label[m] + e_guided[m]
        e_parent[m] = p
        e_char[m] = c
        m += 1
    order = np.argsort(-e_score[:m], kind="mergesort")
    new_n = 0
    new_labels = np.empty_like(labels)
    new_length = np.empty_like(length)
    new_hashes = np.empty_like(hashes)
    new_parent_hash = np.empty_like(parent_hash)
    new_state = np.empty_like(state)
    new_previous = np.empty_like(previous)
    for i in order[:w]:
      if e_score[i] == -np.inf:
        break
      p, c = e_parent[i], e_char[i]
      new_labels[new_n] = labels[p]
      p_blank[new_n], p_label[new_n], guided[new_n] = e_blank[i], e_label[i], e_guided[i]
      if c >= 0:
        new_labels[new_n, length[p]] = c
        new_length[new_n] = length[p] + 1
        new_hashes[new_n] = hashes[p] * multiplier + np.uint64(c + 1)
        new_parent_hash[new_n] = hashes[p]
        if c == separator:
          new_state[new_n] = initial
          new_previous[new_n] = word_of_state[state[p]]
        else:
          new_state[new_n] = next_state[state[p], c]
          new_previous[new_n] = previous[p]
      else:
        new_length[new_n] = length[p]
        new_hashes[new_n] = hashes[p]
        new_parent_hash[new_n] = parent_hash[p]
        new_state[new_n] = state[p]
        new_previous[new_n] = previous[p]
      new_n += 1
    n = new_n
    labels, length, hashes, parent_hash, state, previous = (
        new_labels, new_length, new_hashes, new_parent_hash, new_state, new_previous)
  score = np.empty(n)
  for b in range(n):
    score[b] = _logaddexp(p_blank[b], p_label[b]) + guided[b] + final[state[b]]
    if separator >= 0 and word_of_state[state[b]] >= 0:   # the last word's LM score
      score[b] += lm_weight * _word_log_prob(previous[b], word_of_state[state[b]], word_lm)
  return labels[:n], length[:n], score


def prefix_beam_search(matrix, beam_width: int = 16, blank: int = 0,
                       guide: GuideTables | None = None, kind: str = "auto",
                       candidate_threshold: float = 1e-3, blank_skip: float = 0.999,
                       max_candidates: int | None = None) -> list[tuple[tuple, float]]:
  """CTC prefix beam search on one (T, C) matrix, compiled (numba).

  Per frame the `max_candidates` (default: `beam_width`) most likely labels
  above `candidate_threshold` extend each prefix, and frames where blank
  holds more than `blank_skip` of the mass are pure blank (they neither
  extend nor split a prefix). A `guide` (language model or lexicon tables)
  adds its log-scores to extensions and forbids labels (-inf). Returns
  (prefix, log score) pairs, best first: log P(prefix | matrix) summed over
  the alignments the beam kept, plus the guide's scores (and its `final`
  score); prefixes scored -inf are never returned.
  """
  log_probs = as_log_probs(matrix, kind, blank)
  num_classes = log_probs.shape[1]
  guide = guide or no_guide(num_classes)
  if guide.rows.shape[1] != num_classes:
    raise MatrixError(f"The guide's tables have {guide.rows.shape[1]} classes, the matrix "
                      f"{num_classes}.")
  if beam_width < 1:
    raise ValueError(f"beam_width must be >= 1, not {beam_width}.")
  labels, length, score = _beam_search(
      np.ascontiguousarray(log_probs), blank % num_classes, beam_width,
      max(1, min(max_candidates or beam_width, num_classes - 1)),
      math.log(max(candidate_threshold, 1e-300)), math.log(blank_skip),
      guide.rows, guide.next, guide.final, guide.initial, guide.word_of_state, guide.separator,
      guide.word_lm, guide.lm_weight)
  return [(tuple(labels[i, :length[i]].tolist()), float(score[i]))
          for i in np.argsort(-score, kind="stable") if np.isfinite(score[i])]


@numba.njit(cache=True)
def _ctc_forward(log_probs, states, lengths, blank):
  """The CTC forward algorithm for each row of `states` (its first 2L + 1
  entries: blank, label, blank, ...), in log space, compiled."""
  num_frames = log_probs.shape[0]
  out = np.empty(len(lengths))
  for i in range(len(lengths)):
    size = 2 * lengths[i] + 1
    alpha = np.full(size, -np.inf)
    alpha[0] = log_probs[0, blank]
    if size > 1:
      alpha[1] = log_probs[0, states[i, 1]]
    new = np.empty(size)
    for t in range(1, num_frames):
      for s in range(size):
        a = alpha[s]
        if s > 0:
          a = _logaddexp(a, alpha[s - 1])
        # A label may skip the blank before it unless it repeats the label two back.
        if s > 1 and s % 2 == 1 and states[i, s] != states[i, s - 2]:
          a = _logaddexp(a, alpha[s - 2])
        new[s] = a + log_probs[t, states[i, s]]
      alpha, new = new, alpha
    out[i] = alpha[size - 1] if size == 1 else _logaddexp(alpha[size - 1], alpha[size - 2])
  return out


def ctc_log_probs(matrix, texts: list, blank: int = 0, kind: str = "auto") -> np.ndarray:
  """log P(labels | matrix) under CTC for many label sequences: the forward
  algorithm over all alignments (compiled). Sequences too long for the
  matrix get -inf."""
  log_probs = as_log_probs(matrix, kind, blank)
  blank %= log_probs.shape[1]
  if not texts:
    return np.zeros(0)
  lengths = np.array([len(t) for t in texts], np.int64)
  if log_probs.shape[0] == 0:
    return np.where(lengths == 0, 0.0, NEG_INF)
  states = np.full((len(texts), 2 * lengths.max() + 1), blank, np.int64)
  for i, t in enumerate(texts):
    states[i, 1:2 * len(t):2] = t
  return _ctc_forward(np.ascontiguousarray(log_probs), states, lengths, blank)


def ctc_log_prob(matrix, labels, blank: int = 0, kind: str = "auto") -> float:
  """log P(labels | matrix) under CTC (summed over all alignments)."""
  return float(ctc_log_probs(matrix, [list(labels)], blank, kind)[0])
