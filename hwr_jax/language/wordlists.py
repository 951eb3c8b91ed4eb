"""Word lists of general English: the most frequent words with their
frequencies (`wordfreq`), and texts sampled like handwriting from them. The
readers' lexicons and language models and the word synthesis use them."""

import string

import numpy as np

# Digits, capitals, lowercase letters (EMNIST ByClass's characters, in its order).
ALPHANUMERIC = string.digits + string.ascii_uppercase + string.ascii_lowercase

_WORD_LISTS: dict = {}   # size -> (words, weights), built once per process


def word_list(size: int = 20000) -> tuple[list[str], np.ndarray]:
  """The `size` most frequent purely alphabetic English words and their
  sampling weights (frequency ** 0.5, so rarer words still appear). Cached
  (in-process and in the user's cache folder): wordfreq takes ~0.5 s."""
  if size not in _WORD_LISTS:
    from importlib.metadata import version

    from hwr_jax import cache

    def build():
      import wordfreq
      words = [w for w in wordfreq.top_n_list("en", size * 2)
               if w.isascii() and w.isalpha()][:size]
      weights = np.array([wordfreq.word_frequency(w, "en") for w in words]) ** 0.5
      return words, weights / weights.sum()
    _WORD_LISTS[size] = cache.cached("wordlist", ("en", size, version("wordfreq")), build)
  words, weights = _WORD_LISTS[size]
  return list(words), weights.copy()


def sample_texts(n: int, rng: np.random.Generator, words=None, max_len: int = 12,
                 digits: float = 0.1, charset: str = ALPHANUMERIC) -> list[str]:
  """Texts as in handwriting: mostly lowercase words, some Capitalized (15 %),
  some ALL-CAPS (8 %), a `digits` share of digit strings, spelled in
  `charset`: a letter it lacks becomes its other case (Balanced's merged 'l'
  is 'L', Letters' 'A' is 'a'); all digit strings when it holds no letters,
  none when it holds no digits."""
  if not any(ch.isalpha() for ch in charset):
    digits = 1.0
  elif not any(ch.isdigit() for ch in charset):
    digits = 0.0
  allowed = set(charset)
  words, weights = words or word_list()
  # The draws of rng.choice(len(words), p=weights), without its O(len(words))
  # set-up per call: the same words for the same rng.
  cdf = np.cumsum(weights)
  cdf /= cdf[-1]
  texts = []
  while len(texts) < n:
    kind = rng.random()
    if kind < digits:
      text = "".join(rng.choice(list("0123456789"), rng.integers(1, 7)))
    else:
      text = words[int(cdf.searchsorted(rng.random(), side="right"))]
      if kind < digits + 0.15:
        text = text.capitalize()
      elif kind < digits + 0.23:
        text = text.upper()
    text = "".join(ch if ch in allowed else ch.swapcase() for ch in text)
    if len(text) <= max_len and allowed.issuperset(text):
      texts.append(text)
  return texts
