"""A lexicon: a prefix trie over a word list (lowercased) with frequency
priors and each word's spellings as listed ("Finland", "iPhone")."""

import math

from hwr_jax.language.ngrams import EOW


class Lexicon:
  """A prefix trie over a word list (lowercased) with frequency priors and
  each word's spellings as listed ("Finland", "iPhone")."""

  def __init__(self, words, frequencies=None):
    self.root: dict = {}
    self.log_prior: dict[str, float] = {}
    self.spellings: dict[str, list[str]] = {}
    frequencies = frequencies if frequencies is not None else [1.0] * len(words)
    total = float(sum(frequencies))
    for word, freq in zip(words, frequencies):
      if not word:
        continue
      node = self.root
      for ch in word.lower():
        node = node.setdefault(ch, {})
      node[EOW] = True
      self.log_prior[word.lower()] = max(self.log_prior.get(word.lower(), -1e9),
                                         math.log(max(freq, 1e-12) / total))
      spellings = self.spellings.setdefault(word.lower(), [])
      if word not in spellings:
        spellings.append(word)

  def _node(self, prefix: str):
    node = self.root
    for ch in prefix.lower():
      node = node.get(ch)
      if node is None:
        return None
    return node

  def next_chars(self, prefix: str) -> set[str]:
    node = self._node(prefix)
    return {c for c in node if c != EOW} if node else set()

  def is_word(self, text: str) -> bool:
    node = self._node(text)
    return bool(node and node.get(EOW))

  @classmethod
  def from_file(cls, path: str) -> "Lexicon":
    """One word per line, optionally followed by a count/frequency (tab or space)."""
    words, freqs = [], []
    for line in open(path, encoding="utf-8"):
      parts = line.split()
      if parts:
        words.append(parts[0])
        freqs.append(float(parts[1]) if len(parts) > 1 else 1.0)
    if not words:
      raise ValueError(f"{path}: no words found")
    return cls(words, freqs)
