"""CTC decoders for (T, C) matrices of per-frame scores.

Every entry point takes the blank index (`blank`) and what the matrix holds
(`kind`: "probs", "log_probs", "logits", or "auto", which recognises
probabilities and log-probabilities and refuses anything else), and returns
label index sequences (map them to text with the model's charset).
"""

import dataclasses
import functools
import math

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


@functools.lru_cache(maxsize=8)
def no_guide(num_classes: int) -> GuideTables:
  return GuideTables(np.zeros((1, num_classes), np.float32), np.zeros((1, num_classes), np.int32),
                     np.zeros(1, np.float32))


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
  return search(as_log_probs(matrix, kind, blank), beam_width, blank, guide,
                candidate_threshold, blank_skip, max_candidates)


def search(log_probs: np.ndarray, beam_width: int = 16, blank: int = 0,
           guide: GuideTables | None = None, candidate_threshold: float = 1e-3,
           blank_skip: float = 0.999, max_candidates: int | None = None
           ) -> list[tuple[tuple, float]]:
  """`prefix_beam_search` on log-probabilities already checked by
  `as_log_probs` (decoders that read one matrix several ways check it once)."""
  num_classes = log_probs.shape[1]
  guide = guide or no_guide(num_classes)
  if guide.rows.shape[1] != num_classes:
    raise MatrixError(f"The guide's tables have {guide.rows.shape[1]} classes, the matrix "
                      f"{num_classes}.")
  if beam_width < 1:
    raise ValueError(f"beam_width must be >= 1, not {beam_width}.")
  from hwr_jax.ctc import compiled   # numba: imported by the decoders that need it
  labels, length, score = compiled.beam_search(
      np.ascontiguousarray(log_probs), blank % num_classes, beam_width,
      max(1, min(max_candidates or beam_width, num_classes - 1)),
      math.log(max(candidate_threshold, 1e-300)), math.log(blank_skip),
      guide.rows, guide.next, guide.final, guide.initial, guide.word_of_state, guide.separator,
      guide.word_lm, guide.lm_weight)
  return [(tuple(labels[i, :length[i]].tolist()), float(score[i]))
          for i in np.argsort(-score, kind="stable") if np.isfinite(score[i])]


def ctc_log_probs(matrix, texts: list, blank: int = 0, kind: str = "auto") -> np.ndarray:
  """log P(labels | matrix) under CTC for many label sequences: the forward
  algorithm over all alignments (compiled). Sequences too long for the
  matrix get -inf."""
  return forward_scores(as_log_probs(matrix, kind, blank), texts, blank)


def forward_scores(log_probs: np.ndarray, texts: list, blank: int = 0) -> np.ndarray:
  """`ctc_log_probs` of log-probabilities already checked by `as_log_probs`."""
  blank %= log_probs.shape[1]
  if not texts:
    return np.zeros(0)
  lengths = np.array([len(t) for t in texts], np.int64)
  if log_probs.shape[0] == 0:
    return np.where(lengths == 0, 0.0, NEG_INF)
  states = np.full((len(texts), 2 * lengths.max() + 1), blank, np.int64)
  for i, t in enumerate(texts):
    states[i, 1:2 * len(t):2] = t
  from hwr_jax.ctc import compiled
  return compiled.ctc_forward(np.ascontiguousarray(log_probs), states, lengths, blank)


def ctc_states(labels: list, blank: int) -> tuple[np.ndarray, np.ndarray]:
  """CTC's 2L + 1 states of a label sequence (blank, l1, blank, l2, ...,
  blank) and which of them may be entered from two states back: a label may
  skip the blank before it unless it repeats the label two back."""
  states = np.full(2 * len(labels) + 1, blank)
  states[1::2] = labels
  skip = np.zeros(len(states), bool)
  skip[3::2] = states[3::2] != states[1:-2:2]
  return states, skip


def ctc_log_prob(matrix, labels, blank: int = 0, kind: str = "auto") -> float:
  """log P(labels | matrix) under CTC (summed over all alignments) of one
  label sequence: the forward algorithm in numpy, vectorized over its 2L + 1
  states (what a reader's confidence needs, without compiling anything;
  `ctc_log_probs` scores many sequences, compiled)."""
  log_probs = as_log_probs(matrix, kind, blank)
  blank %= log_probs.shape[1]
  labels = list(labels)
  if len(log_probs) == 0:
    return 0.0 if not labels else NEG_INF
  states, skip = ctc_states(labels, blank)
  alpha = np.full(len(states), NEG_INF)
  alpha[0] = log_probs[0, blank]
  if labels:
    alpha[1] = log_probs[0, states[1]]
  for t in range(1, len(log_probs)):
    step = np.full_like(alpha, NEG_INF)
    step[1:] = alpha[:-1]
    jump = np.full_like(alpha, NEG_INF)
    jump[2:] = np.where(skip[2:], alpha[:-2], NEG_INF)
    alpha = np.logaddexp(np.logaddexp(alpha, step), jump) + log_probs[t, states]
  return float(np.logaddexp(alpha[-1], alpha[-2]) if labels else alpha[-1])


def ctc_align(matrix, labels, blank: int = 0, kind: str = "auto") -> np.ndarray:
  """The most likely CTC alignment of `labels` to the frames (Viterbi): an
  (L, 2) array of each label's first and last frame (inclusive). Where a
  word lies in a line comes from it. Labels that cannot be aligned (more
  than the frames hold) raise ValueError."""
  log_probs = as_log_probs(matrix, kind, blank)
  blank %= log_probs.shape[1]
  labels = list(labels)
  n_frames = len(log_probs)
  if not labels:
    return np.zeros((0, 2), np.int64)
  states, skip = ctc_states(labels, blank)
  score = np.full(len(states), NEG_INF)
  score[0] = log_probs[0, blank]
  score[1] = log_probs[0, states[1]]
  came_from = np.zeros((n_frames, len(states)), np.int8)   # 0 stay, 1 step, 2 jump
  for t in range(1, n_frames):
    step = np.full_like(score, NEG_INF)
    step[1:] = score[:-1]
    jump = np.full_like(score, NEG_INF)
    jump[2:] = np.where(skip[2:], score[:-2], NEG_INF)
    options = np.stack([score, step, jump])
    came_from[t] = np.argmax(options, 0)
    score = options.max(0) + log_probs[t, states]
  state = len(states) - 1 if score[-1] >= score[-2] else len(states) - 2
  if not np.isfinite(score[state]):
    raise ValueError(f"{len(labels)} labels do not fit in {n_frames} frames.")
  spans = np.full((len(labels), 2), -1, np.int64)
  for t in range(n_frames - 1, -1, -1):
    if state % 2:
      k = state // 2
      spans[k, 0] = t
      if spans[k, 1] < 0:
        spans[k, 1] = t
    state -= int(came_from[t, state])   # (an int8 would make `state` one, and overflow)
  return spans
