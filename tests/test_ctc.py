import itertools

import numpy as np
import pytest

from hwr_jax.ctc import decoders
from hwr_jax.ctc.text_decoder import TextDecoder
from hwr_jax.language.lexicon import Lexicon
from hwr_jax.language.ngrams import CharNgramLM


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
  # No word fits: fall back to the open-vocabulary result (unless told not to).
  none_fit = Lexicon(["ccc"])
  assert TextDecoder(charset, lexicon=none_fit).decode(probs, "lexicon")[0] == "abb"
  strict = TextDecoder(charset, lexicon=none_fit, fallback=False)
  assert strict.decode(probs, "lexicon")[0] == "ccc"   # closed vocabulary: always a word


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


def random_probs(rng, frames, classes, sharpness=3.0):
  logits = rng.normal(size=(frames, classes)) * sharpness
  probs = np.exp(logits)
  return probs / probs.sum(1, keepdims=True)


def test_matrix_kinds_are_recognised_or_refused_with_a_reason():
  rng = np.random.default_rng(0)
  probs = random_probs(rng, 7, 5)
  log_probs = np.log(probs)
  logits = log_probs + 3.7            # unnormalized: neither probabilities nor log-probabilities
  def same(a, b):
    return [p for p, _ in a] == [p for p, _ in b] and \
        [s for _, s in a] == pytest.approx([s for _, s in b])

  expected = decoders.prefix_beam_search(probs, 8)
  assert same(decoders.prefix_beam_search(log_probs, 8), expected)
  assert same(decoders.prefix_beam_search(logits, 8, kind="logits"), expected)
  with pytest.raises(decoders.MatrixError, match="kind='logits'"):
    decoders.prefix_beam_search(logits, 8)
  with pytest.raises(decoders.MatrixError, match="Not probabilities"):
    decoders.ctc_log_prob(log_probs, [1], kind="probs")
  with pytest.raises(decoders.MatrixError, match="Not log-probabilities"):
    TextDecoder("abcd", kind="log_probs").decode(probs, "beam")
  with pytest.raises(decoders.MatrixError, match="NaN"):
    decoders.prefix_beam_search(np.full((3, 4), np.nan))
  with pytest.raises(decoders.MatrixError, match="blank=7"):
    decoders.prefix_beam_search(probs, blank=7)
  with pytest.raises(decoders.MatrixError, match="shape"):
    decoders.ctc_log_prob(probs[0], [1])
  with pytest.raises(ValueError, match="charset of 4"):
    TextDecoder("abc").decode(probs, "best_path")
  # The text decoders agree on every kind.
  decoder = TextDecoder("abcd", beam_width=8)
  for name in ("best_path", "beam"):
    text, score = decoder.decode(probs, name)
    assert decoder.decode(log_probs, name) == (text, pytest.approx(score))
    assert TextDecoder("abcd", beam_width=8, kind="logits").decode(logits, name) == \
        (text, pytest.approx(score))


def test_the_blank_can_be_any_class():
  rng = np.random.default_rng(1)
  charset = "abcd"
  probs = random_probs(rng, 12, 5)
  last = np.roll(probs, -1, axis=1)   # the same matrix with the blank last
  assert decoders.best_path_decode(last[None], blank=4) == \
      [[k - 1 for k in decoders.best_path_decode(probs[None])[0]]]
  first = decoders.prefix_beam_search(probs, 8)
  moved = decoders.prefix_beam_search(last, 8, blank=4)
  assert [tuple(k + 1 for k in p) for p, _ in moved] == [p for p, _ in first]
  assert [s for _, s in moved] == pytest.approx([s for _, s in first])
  assert decoders.ctc_log_prob(last, [0, 2], blank=-1) == \
      pytest.approx(decoders.ctc_log_prob(probs, [1, 3]))
  lexicon = Lexicon(["ab", "ba", "cd", "dab"])
  lm = CharNgramLM(["abcd", "dcba"] * 5, order=3)
  blank_first = TextDecoder(charset, beam_width=8, lm=lm, lexicon=lexicon)
  blank_last = TextDecoder(charset, beam_width=8, lm=lm, lexicon=lexicon, blank=-1)
  for name in ("best_path", "beam", "beam_lm", "lexicon", "token_passing"):
    text, score = blank_first.decode(probs, name)
    assert blank_last.decode(last, name) == (text, pytest.approx(score)), name


def test_no_candidate_is_scored_minus_infinity():
  probs = matrix([1, 0, 2, 0, 3])
  lexicon = Lexicon(["abcabcabcabc"])      # longer than 5 frames can spell
  assert decoders.prefix_beam_search(probs, 8)
  for labels, score in decoders.prefix_beam_search(probs, 50, candidate_threshold=0):
    assert np.isfinite(score)
  from hwr_jax.ctc.guides import label_chars, lexicon_tables
  guide = lexicon_tables(lexicon, label_chars("abc", 4))
  assert decoders.prefix_beam_search(probs, 8, guide=guide) == []
  # The dictionary decoder then reads the open-vocabulary text, or nothing.
  assert TextDecoder("abc", lexicon=lexicon).decode(probs, "lexicon")[0] == "abc"
  assert TextDecoder("abc", lexicon=lexicon, fallback=False).decode(probs, "lexicon")[0] == ""


def test_batched_ctc_scores_equal_one_at_a_time_and_beam_search_scores():
  rng = np.random.default_rng(2)
  probs = random_probs(rng, 9, 4, sharpness=1.0)
  texts = [[1, 2, 2, 3], [3], [], [2, 1, 2], [1] * 5, [1, 2] * 5]  # the last: too long for 9 frames
  batch = decoders.ctc_log_probs(probs, texts)
  assert batch[-1] == -np.inf
  for text, score in zip(texts[:-1], batch[:-1]):
    assert score == pytest.approx(decoders.ctc_log_prob(probs, text))
  probs = probs[:6]                   # every prefix of 6 frames fits in the beam
  for labels, score in decoders.prefix_beam_search(probs, 1000, candidate_threshold=0,
                                                   blank_skip=1.0)[:20]:
    assert score == pytest.approx(decoders.ctc_log_prob(probs, labels), abs=1e-6)


def test_language_model_tables_score_exactly_as_the_model():
  from hwr_jax.ctc.guides import char_lm_tables, label_chars
  texts = ["the", "then", "there", "hat", "that", "eat", "tea"] * 3
  lm = CharNgramLM(texts, order=4)
  chars = label_chars("aehtnr", 7)
  tables = char_lm_tables(lm, chars, weight=0.5)
  for prefix in ["", "t", "th", "the", "then", "tta", "rrr", "hatn"]:
    state = tables.initial
    for ch in prefix:
      state = tables.next[state, chars.index(ch)]
    expected = 0.5 * np.array([lm.log_prob(prefix, c) for c in chars[1:]])
    assert tables.rows[state, 1:] == pytest.approx(expected, abs=1e-5), prefix
    assert tables.final[state] == pytest.approx(0.5 * lm.log_prob(prefix, "$"))


def dictionary_matrix(charset, frames, p=0.9):
  """One frame per entry: a character (or a tuple of equally likely ones), or
  None for blank; the rest of the mass spread."""
  probs = np.full((len(frames), len(charset) + 1), 1e-4)
  for t, f in enumerate(frames):
    options = [0] if f is None else [0 if c is None else charset.index(c) + 1 for c in f]
    probs[t, options] = p / len(options)
  return probs / probs.sum(1, keepdims=True)


def test_dictionary_decoder_reads_case_variants_numbers_and_repeats():
  charset = "0123456789abcdefghilnoprstuvwxyABCDEFGHILNOPRSTUVWXY"
  # Words of a lexicon of 5,000 (a number's prior is then higher than one word's).
  rng = np.random.default_rng(4)
  filler = ["".join(rng.choice(list("bdhtuvwxy"), 6)) for _ in range(4994)]
  lexicon = Lexicon(["crane", "Finland", "all", "al", "og", "see"] + filler)
  decoder = TextDecoder(charset, lexicon=lexicon)

  def read(*frames, name="lexicon"):
    return decoder.decode(dictionary_matrix(charset, frames), name)[0]

  for name in ("lexicon", "token_passing"):
    # The optical model cannot tell c from C: the word as listed wins ...
    assert read(("c", "C"), None, "r", "a", "n", "e", name=name) == "crane"
    # ... but clear capitals give the Capitalized or UPPER variant.
    assert read("C", "r", "a", "n", "e", name=name) == "Crane"
    assert read("C", "R", "A", "N", "E", name=name) == "CRANE"
    assert read(("f", "F"), "i", "n", "l", "a", "n", "d", name=name) == "Finland"
    # A repeated letter needs a blank between; without one it is read once.
    assert read("a", "l", None, "l", name=name) == "all"
    assert read("a", "l", "l", name=name) == "al"
    # A trie-guided beam misled by one bad letter still finds the word.
    assert read("s", "e", None, ("e", "c"), name=name) == "see"
    # Numbers are an open class: '09' is read as the number, not 'og'.
    assert read(("0", "o"), ("9", "g"), name=name) == "09"
    assert read("4", "0", None, "0", "7", name=name) == "4007"


def test_a_model_of_real_text_reads_a_frequent_mark_not_a_rare_number():
  """IAM's '"' looks like a '1'. With the synthesized words' priors (numbers:
  10 % of words) the number wins; with the real-text priors of a model whose
  training words hold few numbers and many quotation marks, the mark does."""
  import collections

  from hwr_jax.language.defaults import real_text_priors
  charset = '"01abcdefghijklmnopqrstuvwxyz'
  rng = np.random.default_rng(0)
  filler = ["".join(rng.choice(list("bdhtuvwxy"), 6)) for _ in range(4998)]
  counts = collections.Counter({'"': 300, "the": 900, "1": 2, **{w: 1 for w in filler}})
  lexicon = Lexicon(sorted(counts), [counts[w] for w in sorted(counts)])
  look_alike = dictionary_matrix(charset, [('"', "1")])
  assert TextDecoder(charset, lexicon=lexicon).decode(look_alike, "lexicon")[0] == "1"
  real = TextDecoder(charset, lexicon=lexicon, **real_text_priors(counts))
  assert real.decode(look_alike, "lexicon")[0] == '"'
  # A clear number is still read as one.
  assert real.decode(dictionary_matrix(charset, ["1", None, "0"]), "lexicon")[0] == "10"


def test_the_open_vocabulary_reading_wins_only_by_the_margin():
  charset = "abcdefghijklmnopqrstuvwxyz"
  lexicon = Lexicon(["hello", "help", "world"])
  clear = dictionary_matrix(charset, "xylophone", p=0.99)   # clearly not a word of the lexicon
  close = dictionary_matrix(charset, ["h", "e", "l", "p", None, ("s", None)], p=0.9)
  assert TextDecoder(charset, lexicon=lexicon, open_margin=5.0).decode(clear, "lexicon")[0] == \
      "xylophone"
  assert TextDecoder(charset, lexicon=lexicon, open_margin=1e6).decode(clear, "lexicon")[0] in \
      ("hello", "help", "world")
  from hwr_jax.ctc.dictionary import DictionaryDecoder
  best, open_reading = DictionaryDecoder(charset, lexicon).best_and_open(close)
  assert best.text == "help" and best.source == "word" and open_reading.text in ("help", "helps")
  # "help" and maybe a stray letter: within the margin, so the dictionary word is read.
  assert TextDecoder(charset, lexicon=lexicon, open_margin=5.0).decode(close, "lexicon")[0] \
      == "help"


def test_token_passing_finds_the_best_single_alignment_of_every_word():
  from hwr_jax.ctc.dictionary import fold_case, token_passing
  from hwr_jax.ctc.guides import label_chars, lexicon_tables
  rng = np.random.default_rng(3)
  charset = "abcd"
  words = ["a", "ab", "abba", "bad", "cab", "dad", "add", "ca"]
  lexicon = Lexicon(words)
  chars = label_chars(charset, 5)
  log_probs, folded = fold_case(np.log(random_probs(rng, 8, 5, sharpness=1.5)), chars)
  found = dict(token_passing(log_probs, lexicon_tables(lexicon, folded), folded, n=len(words)))

  def viterbi(word):   # brute force over every path of 8 frames
    best = -np.inf
    for path in itertools.product(range(5), repeat=8):
      collapsed = [k for i, k in enumerate(path) if k and (i == 0 or path[i - 1] != k)]
      if collapsed == [charset.index(c) + 1 for c in word]:
        best = max(best, log_probs[np.arange(8), path].sum())
    return best

  for word in words:
    assert found[word] == pytest.approx(viterbi(word)), word


def test_segments_as_frames_tolerate_split_and_merged_characters():
  from hwr_jax.ctc.dictionary import DictionaryDecoder, segments_as_frames
  charset = "abcdefghijklmnopqrstuvwxyz"
  lexicon = Lexicon(["morning", "moaning", "rn", "in"])
  decoder = DictionaryDecoder(charset, lexicon, fallback=False)   # as the segmentation reader

  def segments(*rows):   # each row: {char: probability}, the rest spread
    probs = np.full((len(rows), len(charset)), 1e-3)
    for i, row in enumerate(rows):
      for ch, p in row.items():
        probs[i, charset.index(ch)] = p
    return probs / probs.sum(1, keepdims=True)

  # "m" cut into two pieces that look like "r" and "n" (with a little "m" in each) ...
  split = segments({"r": 0.5, "m": 0.3}, {"n": 0.5, "m": 0.3}, {"o": 0.9}, {"r": 0.9},
                   {"n": 0.9}, {"i": 0.9}, {"n": 0.9}, {"g": 0.9})
  assert decoder.decode(segments_as_frames(split), "probs").text == "morning"
  # ... and "rn" merged into one segment that looks like "m".
  merged = segments({"m": 0.9}, {"o": 0.9}, {"m": 0.5, "r": 0.2, "n": 0.2}, {"i": 0.9},
                    {"n": 0.9}, {"g": 0.9})
  assert decoder.decode(segments_as_frames(merged), "probs").text == "morning"


def line_matrix(charset, frames, p=0.9):
  """Frames: a character, None (blank) or {character: probability}."""
  probs = np.full((len(frames), len(charset) + 1), 1e-3)
  for t, f in enumerate(frames):
    for c, q in (f.items() if isinstance(f, dict) else [(f, p)]):
      probs[t, 0 if c is None else charset.index(c) + 1] = q
  return probs / probs.sum(1, keepdims=True)


def test_word_bigram_model_is_a_distribution_and_knows_the_start_of_a_line():
  import functools

  from hwr_jax.ctc.guides import word_log_prob
  from hwr_jax.language.ngrams import WordNgramLM
  vocabulary = ["the", "cat", "sat", "on", "mat", "cot"]
  lm = WordNgramLM([["The", "cat", "sat", "on", "the", "mat"], ["the", "cot", "xyz", "sat"]],
                   vocabulary)
  log_prob = functools.partial(word_log_prob, lm)
  for previous in [None] + vocabulary:
    total = sum(np.exp(log_prob(previous, w)) for w in vocabulary)
    assert total == pytest.approx(1.0), previous
  assert log_prob("the", "cat") > log_prob("the", "sat")
  assert log_prob(None, "the") > log_prob(None, "cat")
  assert log_prob("cot", "sat") < log_prob("cat", "sat")   # 'xyz' broke that chain


def test_word_beam_search_reads_lines_of_lexicon_words():
  from hwr_jax.language.ngrams import WordNgramLM
  charset = " abcdehmnostT"
  lexicon = Lexicon(["the", "cat", "cot", "sat", "on", "mat", "The"])
  lm = WordNgramLM([["the", "cat", "sat", "on", "the", "mat"]] * 5 + [["the", "cot"]],
                   sorted(lexicon.spellings))
  # "The c?t sat": the optical model slightly prefers 'cot'; a stray 'h' in "sat".
  probs = line_matrix(charset, ["T", "h", "e", None, " ", "c", {"o": 0.5, "a": 0.4}, "t", " ",
                                "s", {"a": 0.5, "h": 0.4}, "t"])
  words = TextDecoder(charset, lexicon=lexicon)                  # Words mode: the lexicon alone
  assert words.decode(probs, "word_beam")[0] == "The cot sat"
  ngrams = TextDecoder(charset, lexicon=lexicon, word_lm=lm, word_lm_weight=1.0)
  assert ngrams.decode(probs, "word_beam")[0] == "The cat sat"
  # A separator only after a whole word: "th e" cannot be read as two words.
  probs = line_matrix(charset, ["t", "h", " ", "e", None, " ", "o", "n"])
  assert words.decode(probs, "word_beam")[0] in ("the on", "The on")
  with pytest.raises(ValueError, match="space"):
    TextDecoder("abc", lexicon=Lexicon(["abc"])).decode(matrix([1, 0]), "word_beam")


def test_the_open_vocabulary_reading_keeps_to_the_cases_people_write():
  """Not a lexicon word, read with mixed case letters by the beam ('vOLcAno'
  with o/O and c/C look-alikes): the open reading is lower, Capitalized or
  UPPER, whichever scores best under CTC, never the mixture."""
  charset = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
  lexicon = Lexicon(["hello", "help", "world"])
  frames = ["v", ("O", "o"), ("L", "l"), ("c", "C"), "a", "n", ("O", "o")]
  probs = dictionary_matrix(charset, frames, p=0.99)
  probs[[1, 2, 3, 6], [charset.index(c) + 1 for c in "OLcO"]] *= 1.2   # the beam's mixture
  probs /= probs.sum(1, keepdims=True)
  assert decoders.best_path_decode(probs[None])[0] == [charset.index(c) + 1 for c in "vOLcanO"]
  text = TextDecoder(charset, lexicon=lexicon, open_margin=5.0).decode(probs, "lexicon")[0]
  assert text == "volcano"
