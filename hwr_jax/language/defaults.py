"""The language resources a reader uses by default for a model: a lexicon and
a character language model of general English, joined with the model's own
training words when it has them (`data/vocabulary.py`: never validation or
test texts), and the dictionary decoder's priors for real text.

  decoder_resources(decoder, counts)   what `ctc.TextDecoder` needs for a decoder
"""

import collections

import numpy as np

from hwr_jax.language import wordlists

LM_TEXTS, LM_ORDER = 20000, 4
# The decoders that read with a lexicon (and those that need a character LM).
LEXICON_DECODERS = ("lexicon", "token_passing", "word_beam")


def english_and(counts) -> tuple[list[str], np.ndarray]:
  """The 20,000 most frequent English words with their sampling weights,
  joined with a model's training vocabulary (`counts`; None: none); each
  half carries half the prior mass."""
  english, weights = wordlists.word_list()
  if not counts:
    return english, weights
  texts = sorted(counts)
  train = np.array([counts[t] for t in texts], np.float64)
  return english + texts, np.concatenate([0.5 * weights, 0.5 * train / train.sum()])


def default_language_model(counts=None):
  """beam_lm's character 4-gram model. A model of synthesized words: 20,000
  texts sampled like them (seed 0). A model with a training vocabulary:
  those texts and the English word list, weighted. Cached in the user's
  cache folder (building it takes ~0.4 s)."""
  from importlib.metadata import version

  from hwr_jax import cache
  from hwr_jax.language.ngrams import CharNgramLM

  if counts:
    def build_from_vocabulary():   # only on a cache miss
      texts, weights = english_and(counts)
      return CharNgramLM(texts, order=LM_ORDER, weights=list(weights))
    key = ("vocabulary", LM_ORDER, sorted(counts.items()), version("wordfreq"))
    return cache.cached("char-lm", key, build_from_vocabulary)

  def build():
    return CharNgramLM(wordlists.sample_texts(LM_TEXTS, np.random.default_rng(0)),
                       order=LM_ORDER)
  return cache.cached("char-lm", (LM_TEXTS, LM_ORDER, 0, version("wordfreq")), build)


def default_lexicon(counts=None):
  """The 20,000 most frequent English words, with their frequencies as
  priors, plus the model's training vocabulary when it has one."""
  from hwr_jax.language.lexicon import Lexicon
  return Lexicon(*english_and(counts))


def number_share(counts: collections.Counter) -> float:
  """The share of digit-only texts among the training words (each counted
  as often as it occurs), Laplace-smoothed so that it is never 0 or 1: the
  dictionary decoder's prior for reading a word as a number."""
  total = sum(counts.values())
  digits = sum(c for text, c in counts.items() if text.isdigit())
  return (digits + 1) / (total + 2)


def real_text_priors(counts) -> dict:
  """The dictionary decoder's priors for a model trained on real text (a
  workdir with a vocabulary): numbers as rare as among its training words
  (IAM: 0.44 %, not the synthesized words' 10 %), word priors halfway between
  uniform and the words' frequencies, and a 12-nat open-vocabulary margin.
  Chosen on the IAM validation writers (experiments/iam_dictionary_priors.py):
  lexicon CER 9.69 % -> 9.31 %, WER 18.99 % -> 17.26 % (test writers: docs/results.md)."""
  return dict(number_share=number_share(counts), frequency_weight=0.5, open_margin=12.0)


def lines_language_model(lines: list[str]):
  """A character 4-gram model of running text (lines of words: the space is
  a character like any other). Cached in the user's cache folder."""
  from hwr_jax import cache
  from hwr_jax.language.ngrams import CharNgramLM
  return cache.cached("char-lm", ("lines", LM_ORDER, lines),
                      lambda: CharNgramLM(lines, order=LM_ORDER))


def decoder_resources(decoder: str, counts=None, lexicon_path: str | None = None,
                      word_lm_path: str | None = None, lm_lines: list[str] | None = None
                      ) -> dict:
  """The keyword arguments of `ctc.TextDecoder` for `decoder`: the character
  LM (beam_lm), the lexicon (a file's, else `default_lexicon`), a word bigram
  model (word_beam: `word_lm_path`, an ARPA file or running text, one line
  per line; else `lm_lines`), and the priors of `real_text_priors` when the model
  has a training vocabulary (`counts`). A line reader's `lm_lines` (its
  training lines, `data/vocabulary.read_lm_lines`) make its character LM."""
  from hwr_jax.language.lexicon import Lexicon
  out = dict(real_text_priors(counts)) if counts else {}
  if decoder == "beam_lm":
    out["lm"] = lines_language_model(lm_lines) if lm_lines else default_language_model(counts)
  if decoder in LEXICON_DECODERS:
    out["lexicon"] = Lexicon.from_file(lexicon_path) if lexicon_path else default_lexicon(counts)
  if decoder == "word_beam" and (word_lm_path or lm_lines):
    from hwr_jax.language.ngrams import WordNgramLM, is_arpa, read_arpa
    vocabulary = sorted(out["lexicon"].spellings)
    if word_lm_path and is_arpa(word_lm_path):
      out["word_lm"] = read_arpa(word_lm_path, vocabulary)
      return out
    if word_lm_path:
      with open(word_lm_path, encoding="utf-8") as f:
        lm_lines = f.read().splitlines()
    out["word_lm"] = WordNgramLM([line.split() for line in lm_lines], vocabulary)
  return out
