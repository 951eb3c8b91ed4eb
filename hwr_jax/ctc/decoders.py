"""CTC decoders for (T, C) matrices of per-frame probabilities.

All decoders take the blank index as a parameter and return label index
sequences (map them to text with the model's charset).
"""

import dataclasses
import math
from typing import Callable

import numpy as np

NEG_INF = -np.inf


def best_path_decode(probs: np.ndarray, lengths: np.ndarray | None = None,
                     blank: int = 0) -> list[list[int]]:
  """Greedy decoding of a batch (B, T, C): argmax per frame, repeats merged,
  blanks dropped. Vectorized over batch and time."""
  probs = np.asarray(probs)
  best = probs.argmax(-1)                                   # (B, T)
  b, t = best.shape
  lengths = np.full(b, t) if lengths is None else np.asarray(lengths)
  previous = np.concatenate([np.full((b, 1), -1), best[:, :-1]], axis=1)
  keep = (best != blank) & (best != previous) & (np.arange(t)[None, :] < lengths[:, None])
  return [row[mask].tolist() for row, mask in zip(best, keep)]


def _logsumexp(a: float, b: float) -> float:
  if a == NEG_INF:
    return b
  if b == NEG_INF:
    return a
  m = max(a, b)
  return m + math.log(math.exp(a - m) + math.exp(b - m))


@dataclasses.dataclass
class _Beam:
  blank: float = NEG_INF       # log P(prefix, path ends in blank)
  non_blank: float = NEG_INF   # log P(prefix, path ends in its last label)
  lm: float = 0.0              # accumulated log LM score of the prefix

  @property
  def total(self) -> float:
    return _logsumexp(self.blank, self.non_blank)


def prefix_beam_search(probs: np.ndarray, beam_width: int = 16, blank: int = 0,
                       lm_score: Callable[[tuple, int], float] | None = None,
                       lm_weight: float = 0.5, allowed: Callable[[tuple], set] | None = None,
                       candidate_threshold: float = 1e-3, blank_skip: float = 0.999,
                       ) -> list[tuple[tuple, float]]:
  """CTC prefix beam search on one (T, C) probability matrix.

  Speed: per frame only labels with probability above `candidate_threshold`
  (at most `beam_width` of them) are extended, and frames where blank has
  more than `blank_skip` of the mass are treated as pure blank (they can
  neither extend nor split a prefix). `lm_score(prefix, label)` adds
  `lm_weight` * log P_LM(label | prefix) when a label extends a prefix;
  `allowed(prefix)` (e.g. a lexicon trie) restricts which labels may extend
  it. Returns (prefix, log score) pairs, best first.
  """
  log_probs = np.log(np.maximum(np.asarray(probs, np.float64), 1e-30))
  beams: dict[tuple, _Beam] = {(): _Beam(blank=0.0)}
  for t in range(log_probs.shape[0]):
    frame = log_probs[t]
    if frame[blank] > math.log(blank_skip):
      for beam in beams.values():     # a blank frame: every path now ends in blank
        beam.blank, beam.non_blank = beam.total + frame[blank], NEG_INF
      continue
    candidates = np.flatnonzero(np.exp(frame) > candidate_threshold)
    candidates = candidates[candidates != blank]
    if len(candidates) > beam_width:
      candidates = candidates[np.argsort(frame[candidates])[-beam_width:]]
    new: dict[tuple, _Beam] = {}

    def get(prefix, lm):
      if prefix not in new:
        new[prefix] = _Beam(lm=lm)
      return new[prefix]

    for prefix, beam in beams.items():
      total = beam.total
      stay = get(prefix, beam.lm)
      stay.blank = _logsumexp(stay.blank, total + frame[blank])
      if prefix:                                     # repeat of the last label
        stay.non_blank = _logsumexp(stay.non_blank, beam.non_blank + frame[prefix[-1]])
      permitted = allowed(prefix) if allowed else None
      for c in candidates:
        c = int(c)
        if permitted is not None and c not in permitted:
          continue
        lm = beam.lm + (lm_weight * lm_score(prefix, c) if lm_score else 0.0)
        extended = get(prefix + (c,), lm)
        # The same label twice needs a blank in between.
        source = beam.blank if prefix and prefix[-1] == c else total
        extended.non_blank = _logsumexp(extended.non_blank, source + frame[c])
    beams = dict(sorted(new.items(), key=lambda kv: kv[1].total + kv[1].lm,
                        reverse=True)[:beam_width])
  return sorted(((p, b.total + b.lm) for p, b in beams.items()), key=lambda x: -x[1])


def ctc_log_prob(probs: np.ndarray, labels, blank: int = 0) -> float:
  """log P(labels | probs) under CTC: the forward algorithm over all
  alignments, in log space, vectorized over the 2L+1 states."""
  log_probs = np.log(np.maximum(np.asarray(probs, np.float64), 1e-30))
  states = np.full(2 * len(labels) + 1, blank)
  states[1::2] = labels
  # A state may skip the blank before it unless it repeats the label two back.
  skip = np.zeros(len(states), bool)
  skip[3::2] = states[3::2] != states[1:-2:2]
  alpha = np.full(len(states), NEG_INF)
  alpha[0] = log_probs[0, blank]
  if len(labels):
    alpha[1] = log_probs[0, states[1]]
  for t in range(1, len(log_probs)):
    step = np.full_like(alpha, NEG_INF)
    step[1:] = alpha[:-1]
    jump = np.full_like(alpha, NEG_INF)
    jump[2:] = np.where(skip[2:], alpha[:-2], NEG_INF)
    alpha = np.logaddexp(np.logaddexp(alpha, step), jump) + log_probs[t, states]
  return float(np.logaddexp(alpha[-1], alpha[-2]) if len(labels) else alpha[-1])
