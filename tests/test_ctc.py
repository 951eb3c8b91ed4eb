import itertools

import numpy as np
import pytest

from hwr_jax.ctc import decoders
from hwr_jax.ctc.decode import TextDecoder
from hwr_jax.ctc.language import CharNgramLM, Lexicon


def matrix(frames, num_labels=4, p=0.9):
  """(T, C) probabilities: each frame puts p on its label, the rest spread."""
  probs = np.full((len(frames), num_labels), (1 - p) / (num_labels - 1))
  probs[np.arange(len(frames)), frames] = p
  return probs


def test_best_path_merges_repeats_and_drops_blanks():
  probs = np.stack([matrix([1, 1, 0, 1, 2, 2, 0]), matrix([0, 0, 0, 0, 0, 0, 0]),
                    matrix([3, 0, 3, 3, 0, 0, 2])])
  assert decoders.best_path_decode(probs) == [[1, 1, 2], [], [3, 3, 2]]
  # Lengths cut the padded frames.
  assert decoders.best_path_decode(probs, lengths=np.array([3, 7, 2])) == [[1], [], [3]]


def test_beam_search_finds_what_best_path_misses():
  # Best path says blank at each frame, but summed over its alignments the
  # text "1" is more likely than the empty text.
  probs = np.array([[0.55, 0.45, 0.0], [0.55, 0.45, 0.0]]) + 1e-9
  assert decoders.best_path_decode(probs[None]) == [[]]
  (best, score), *_ = decoders.prefix_beam_search(probs, beam_width=4)
  assert best == (1,)
  # P("1") = 0.45*0.55 + 0.55*0.45 + 0.45*0.45 = 0.6975 > P("") = 0.3025
  assert np.exp(score) == pytest.approx(0.6975, rel=1e-4)


def test_beam_scores_equal_exact_ctc_probabilities():
  rng = np.random.default_rng(0)
  probs = rng.dirichlet(np.ones(3), size=5)
  beams = decoders.prefix_beam_search(probs, beam_width=50, candidate_threshold=0.0,
                                      blank_skip=1.0)
  for labels, score in beams[:5]:
    assert score == pytest.approx(decoders.ctc_log_prob(probs, list(labels)), abs=1e-4)
  # Brute force over all alignments for one text.
  target = (1, 2)
  total = 0.0
  for path in itertools.product(range(3), repeat=5):
    collapsed = [k for i, k in enumerate(path) if k and (i == 0 or path[i - 1] != k)]
    if tuple(collapsed) == target:
      total += np.prod(probs[np.arange(5), path])
  assert decoders.ctc_log_prob(probs, list(target)) == pytest.approx(np.log(total), abs=1e-4)


def test_all_blank_gives_empty_text():
  probs = matrix([0] * 6, p=0.9999)
  assert decoders.prefix_beam_search(probs)[0][0] == ()


def test_lm_and_lexicon_guide_the_beam():
  charset = "abc"
  # Frames read "ab?" where ? is ambiguous between b (0.5) and c (0.45).
  probs = np.array([[0.02, 0.96, 0.01, 0.01], [0.9, 0.04, 0.03, 0.03],
                    [0.02, 0.01, 0.96, 0.01], [0.9, 0.04, 0.03, 0.03],
                    [0.03, 0.02, 0.5, 0.45]])
  plain = TextDecoder(charset, beam_width=8)
  assert plain.decode(probs, "beam")[0] == "abb"
  lm = CharNgramLM(["abc"] * 50 + ["ab"] * 5, order=3)
  assert lm.prob("ab", "c") > lm.prob("ab", "b") > 0
  with_lm = TextDecoder(charset, beam_width=8, lm=lm, lm_weight=1.0)
  assert with_lm.decode(probs, "beam_lm")[0] == "abc"
  lexicon = Lexicon(["abc", "cab"], [10, 1])
  assert lexicon.next_chars("a") == {"b"} and lexicon.is_word("ABC")
  assert TextDecoder(charset, lexicon=lexicon).decode(probs, "lexicon")[0] == "abc"
  # No word fits: fall back to the open-vocabulary result, or return nothing.
  none_fit = Lexicon(["ccc"])
  assert TextDecoder(charset, lexicon=none_fit).decode(probs, "lexicon")[0] == "abb"
  strict = TextDecoder(charset, lexicon=none_fit, lexicon_fallback=False)
  assert strict.decode(probs, "lexicon")[0] == ""


def test_ctc_score_agrees_with_optax_ctc_loss():
  import jax.numpy as jnp
  import optax
  rng = np.random.default_rng(1)
  for labels in ([1, 2, 2, 3], [3], [], [2, 1, 2]):
    probs = rng.dirichlet(np.ones(4), size=9)
    n = max(1, len(labels))
    label_array = np.zeros((1, n), np.int32)
    label_array[0, :len(labels)] = labels
    padding = np.zeros((1, n), np.float32)
    padding[0, len(labels):] = 1
    loss = optax.ctc_loss(jnp.log(probs)[None], jnp.zeros((1, 9)), label_array, padding)
    assert decoders.ctc_log_prob(probs, labels) == pytest.approx(-float(loss[0]), abs=1e-4)
