"""Character n-gram language model and lexicon trie for guiding CTC beam search.

Both work on lowercased characters: case is left to the optical model.
"""

import collections
import math

BOW, EOW = "^", "$"   # word boundaries


class CharNgramLM:
  """Character n-gram model with Witten-Bell interpolation (every character
  seen in training keeps a non-zero probability in every context)."""

  def __init__(self, texts, order: int = 4, weights=None):
    self.order = order
    self.counts = [collections.defaultdict(collections.Counter) for _ in range(order)]
    vocabulary = set()
    for text, weight in zip(texts, weights if weights is not None else [1.0] * len(texts)):
      chars = BOW * (order - 1) + text.lower() + EOW
      vocabulary.update(text.lower())
      for i in range(order - 1, len(chars)):
        for n in range(order):
          self.counts[n][chars[i - n:i]][chars[i]] += weight
    self.vocabulary = sorted(vocabulary) + [EOW]
    self._cache: dict = {}

  def prob(self, context: str, char: str) -> float:
    """P(char | context), context being the text so far (lowercased here)."""
    context = (BOW * (self.order - 1) + context.lower())[-(self.order - 1):] if self.order > 1 else ""
    key = (context, char.lower())
    if key not in self._cache:
      p = 1.0 / len(self.vocabulary)                 # order -1: uniform
      for n in range(self.order):                   # unigram up to full order
        counter = self.counts[n].get(context[len(context) - n:] if n else "")
        if not counter:
          continue
        total, types = sum(counter.values()), len(counter)
        lam = total / (total + types)
        p = lam * counter.get(char.lower(), 0.0) / total + (1 - lam) * p
      self._cache[key] = p
    return self._cache[key]

  def log_prob(self, context: str, char: str) -> float:
    return math.log(max(self.prob(context, char), 1e-12))


class Lexicon:
  """A prefix trie over a word list with frequency priors."""

  def __init__(self, words, frequencies=None):
    self.root: dict = {}
    self.log_prior: dict[str, float] = {}
    frequencies = frequencies if frequencies is not None else [1.0] * len(words)
    total = float(sum(frequencies))
    for word, freq in zip(words, frequencies):
      node = self.root
      for ch in word.lower():
        node = node.setdefault(ch, {})
      node[EOW] = True
      self.log_prior[word.lower()] = max(self.log_prior.get(word.lower(), -1e9),
                                         math.log(max(freq, 1e-12) / total))

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
