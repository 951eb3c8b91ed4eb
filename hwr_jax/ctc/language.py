"""Character n-gram language model and lexicon trie for guiding CTC beam search,
and both as the tables `decoders.prefix_beam_search` follows (`GuideTables`).

Both work on lowercased characters: case is left to the optical model.
"""

import collections
import math

import numpy as np

from hwr_jax.ctc.decoders import NEG_INF, GuideTables

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

  def log_probs(self, context: str, chars, padded: bool = False) -> np.ndarray:
    """log P(char | context) for each of `chars`, one interpolation pass.
    `padded`: the context is used as given (no begin-of-word padding)."""
    if not padded:
      context = (BOW * (self.order - 1) + context.lower())[-(self.order - 1):] \
          if self.order > 1 else ""
    chars = [c.lower() for c in chars]
    p = np.full(len(chars), 1.0 / len(self.vocabulary))
    for n in range(min(self.order, len(context) + 1)):
      counter = self.counts[n].get(context[len(context) - n:] if n else "")
      if not counter:
        continue
      total, types = sum(counter.values()), len(counter)
      lam = total / (total + types)
      p = lam * np.array([counter.get(c, 0.0) for c in chars]) / total + (1 - lam) * p
    return np.log(np.maximum(p, 1e-12))


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


def label_chars(charset: str, num_classes: int, blank: int = 0) -> list[str]:
  """The character of each label of a (T, num_classes) matrix: the labels
  other than `blank` are the charset in order ("" for the blank)."""
  blank %= num_classes
  if len(charset) != num_classes - 1:
    raise ValueError(f"A matrix of {num_classes} classes needs a charset of {num_classes - 1} "
                     f"characters (plus the blank), not {len(charset)}.")
  chars = list(charset)
  chars.insert(blank, "")
  return chars


def char_lm_tables(lm: CharNgramLM, chars: list[str], weight: float) -> GuideTables:
  """A character n-gram model as beam-search tables: `weight` * log P(char |
  the prefix's last characters) per extension, and of the end of the word at
  the end. A state is the longest context the model has counts for (a
  longer one it never saw scores the same), so the tables are exact."""
  contexts = sorted({ctx for n in range(lm.order) for ctx in lm.counts[n]}, key=len)
  index = {ctx: i for i, ctx in enumerate(contexts)}
  lowered = [c.lower() for c in chars]
  keep = lm.order - 1

  def state_of(text: str) -> int:
    text = text[-keep:] if keep else ""
    while text not in index:
      text = text[1:]
    return index[text]

  rows = np.zeros((len(contexts), len(chars)), np.float32)
  next_state = np.full((len(contexts), len(chars)), -1, np.int32)
  final = np.zeros(len(contexts))
  for s, ctx in enumerate(contexts):
    rows[s] = weight * lm.log_probs(ctx, [c or EOW for c in lowered], padded=True)
    final[s] = weight * lm.log_probs(ctx, [EOW], padded=True)[0]
    for label, ch in enumerate(lowered):
      if ch:
        next_state[s, label] = state_of(ctx + ch)
  return GuideTables(rows, next_state, final, state_of(BOW * keep))


def lexicon_tables(lexicon: Lexicon, chars: list[str]) -> GuideTables:
  """A lexicon trie as beam-search tables: only labels that continue a word
  of the lexicon (case-insensitively) may extend a prefix, and only a whole
  word may end the text. A state is a trie node."""
  by_char: dict[str, list[int]] = {}
  for label, ch in enumerate(chars):
    if ch:
      by_char.setdefault(ch.lower(), []).append(label)
  nodes = [lexicon.root]
  ids = {id(lexicon.root): 0}
  for node in nodes:                        # breadth first; the list grows as it goes
    for ch, child in node.items():
      if ch != EOW and ch in by_char and id(child) not in ids:
        ids[id(child)] = len(nodes)
        nodes.append(child)
  next_state = np.full((len(nodes), len(chars)), -1, np.int32)
  final = np.full(len(nodes), NEG_INF)
  for s, node in enumerate(nodes):
    for ch, child in node.items():
      if ch == EOW:
        final[s] = 0.0
      elif ch in by_char:
        next_state[s, by_char[ch]] = ids[id(child)]
  return GuideTables(np.zeros((1, len(chars)), np.float32), next_state, final, 0)


def trie_arrays(tables: GuideTables):
  """The parent, label and word-end flag of each node of `lexicon_tables`
  (node 0: the root); computed once per tables."""
  if "_trie" not in tables.__dict__:
    states, labels = np.nonzero(tables.next >= 0)
    parent = np.zeros(len(tables.next), np.int64)
    label = np.zeros(len(tables.next), np.int64)
    parent[tables.next[states, labels]] = states
    label[tables.next[states, labels]] = labels
    object.__setattr__(tables, "_trie", (parent, label, np.isfinite(tables.final)))
  return tables.__dict__["_trie"]


def spell(node: int, parent, label, chars: list[str]) -> str:
  """The text of a trie node: its labels' characters from the root."""
  spelled = []
  while node:
    spelled.append(chars[label[node]])
    node = parent[node]
  return "".join(reversed(spelled))


def char_class_tables(chars: list[str], accept) -> GuideTables:
  """Only labels whose characters pass `accept` (e.g. str.isdigit), at
  least one of them."""
  allowed = np.array([bool(c) and accept(c) for c in chars])
  next_state = np.where(allowed, 1, -1)[None, :].repeat(2, 0)
  return GuideTables(np.zeros((1, len(chars)), np.float32), next_state,
                     np.array([NEG_INF, 0.0]), 0)


class WordNgramLM:
  """Word bigram model over a vocabulary (Witten-Bell interpolation with
  add-one unigrams: every pair of vocabulary words keeps a non-zero
  probability), from lines of running text; the start of a line is a
  context too. Words outside the vocabulary break the chain."""

  def __init__(self, lines, vocabulary):
    self.vocabulary = list(vocabulary)
    self.index = index = {w: i for i, w in enumerate(self.vocabulary)}
    size = len(self.vocabulary)
    unigram = np.ones(size)
    pairs = collections.Counter()
    for line in lines:
      previous = size                       # the start of the line
      for word in line:
        i = index.get(word.lower())
        if i is None:
          previous = None
          continue
        unigram[i] += 1
        if previous is not None:
          pairs[previous * size + i] += 1
        previous = i
    keys = np.array(sorted(pairs), np.int64)
    counts = np.array([pairs[k] for k in keys], np.float64)
    totals = np.bincount(keys // size, weights=counts, minlength=size + 1)
    types = np.bincount(keys // size, minlength=size + 1).astype(np.float64)
    self.arrays = (np.log(unigram / unigram.sum()), keys, counts, totals, types)

  def log_prob(self, previous: str | None, word: str) -> float:
    """log P(word | previous word); previous None: at the start of a line."""
    from hwr_jax.ctc.compiled import word_log_prob
    context = len(self.vocabulary) if previous is None else self.index[previous.lower()]
    return word_log_prob(context, self.index[word.lower()], self.arrays)


def word_tables(lexicon: Lexicon, chars: list[str], separator: str = " ",
                word_lm: WordNgramLM | None = None, lm_weight: float = 1.0) -> GuideTables:
  """Beam-search tables for lines of lexicon words separated by `separator`
  (the word beam search of Scheidl et al.): inside a word the trie rules; the
  separator may only follow a whole word, and then adds `lm_weight` * log
  P(word | previous word) of `word_lm` ("NGrams" mode; without one: "Words"
  mode, the dictionary alone)."""
  if separator not in chars:
    raise ValueError(f"The charset has no {separator!r} to separate words.")
  tables = lexicon_tables(lexicon, chars)
  parent, label, _ = trie_arrays(tables)
  vocabulary = word_lm.vocabulary if word_lm else sorted(lexicon.spellings)
  index = {w: i for i, w in enumerate(vocabulary)}
  word_of_state = np.full(len(tables.next), -1, np.int32)
  for node in np.flatnonzero(np.isfinite(tables.final)):
    word_of_state[node] = index.get(spell(node, parent, label, chars).lower(), -1)
  if word_lm is None:
    word_lm = WordNgramLM([], vocabulary)
    lm_weight = 0.0
  return GuideTables(tables.rows, tables.next, tables.final, tables.initial, word_of_state,
                     chars.index(separator), word_lm.arrays, lm_weight)
