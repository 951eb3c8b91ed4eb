"""The decoders' inner loops, compiled with numba (`cache=True`: compiled once,
then loaded from `__pycache__`). Imported only by the decoders that need
them, so best-path reading never loads numba."""

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _logaddexp(a: float, b: float) -> float:
  if a == -np.inf:
    return b
  if b == -np.inf:
    return a
  return max(a, b) + math.log1p(math.exp(-abs(a - b)))


@numba.njit(cache=True)
def word_log_prob(previous, word, lm):
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
def beam_search(log_probs, blank, beam_width, max_candidates, log_threshold, log_skip,
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
          word_score = lm_weight * word_log_prob(previous[p], word_of_state[state[p]], word_lm)
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
      score[b] += lm_weight * word_log_prob(previous[b], word_of_state[state[b]], word_lm)
  return labels[:n], length[:n], score


@numba.njit(cache=True)
def ctc_forward(log_probs, states, lengths, blank):
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
