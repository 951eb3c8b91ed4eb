"""N-gram language models: characters (to guide beam search within words) and
words (word beam search over lines). Characters are modelled lowercased: case
is left to the optical model.
"""

import collections
import math

import numpy as np

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


class WordNgramLM:
  """Word bigram model over a vocabulary (Witten-Bell interpolation with
  add-one unigrams: every pair of vocabulary words keeps a non-zero
  probability), from lines of running text; the start of a line is a
  context too. Words outside the vocabulary break the chain. The model is
  `arrays`, which the compiled word beam search reads
  (`ctc/compiled.word_log_prob`; `ctc/guides.word_log_prob` by words)."""

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


def is_arpa(path: str) -> bool:
  """Whether a file is an ARPA n-gram model (its first non-blank line is `\\data\\`)."""
  with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
      if line.strip():
        return line.strip() == "\\data\\"
  return False


def read_arpa(path: str, vocabulary) -> WordNgramLM:
  """A word model for the word beam search from an ARPA file (as KenLM and
  SRILM write them; any order): its 1- and 2-grams, restricted to
  `vocabulary` (lowercased). The search scores word pairs, so 3- to 5-grams
  are read past and not used. P(w | v) is the file's where it lists the pair
  and backoff(v) * P(w) where it does not, held in the arrays the compiled
  search reads (one interpolation weight per context: 1 - backoff(v)); a
  backoff weight >= 1 (rare) is taken as just under 1."""
  sections: dict[int, list[list[str]]] = {}
  order = None
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      line = line.strip()
      if not line or line.startswith("ngram ") or line in ("\\data\\", "\\end\\"):
        continue
      if line.startswith("\\") and line.endswith("-grams:"):
        order = int(line[1:-len("-grams:")])
        continue
      if order in (1, 2):
        fields = line.split()
        if len(fields) < order + 1:
          raise ValueError(f"{path}:{number}: not an ARPA {order}-gram line: {line!r}")
        sections.setdefault(order, []).append(fields)
  if 1 not in sections:
    raise ValueError(f"{path}: no \\1-grams: section (not an ARPA file)")
  lm = WordNgramLM([], vocabulary)
  size = len(lm.vocabulary)
  index = dict(lm.index, **{"<s>": size})
  unigram = np.full(size, -np.inf)
  backoff = np.zeros(size + 1)    # log10
  for fields in sections[1]:
    word = fields[1].lower()
    if word in index:
      if index[word] < size:
        unigram[index[word]] = float(fields[0]) * math.log(10)
      backoff[index[word]] = float(fields[2]) if len(fields) > 2 else 0.0
  unk = next((float(f[0]) for f in sections[1] if f[1] == "<unk>"), None)
  floor = unk * math.log(10) if unk is not None else float(np.min(unigram[np.isfinite(unigram)],
                                                                   initial=-30.0))
  unigram[~np.isfinite(unigram)] = floor
  keep = np.minimum(10.0 ** backoff, 1 - 1e-6)      # backoff as a probability
  weight = 1 - keep
  pairs = {}
  for fields in sections.get(2, []):
    v, w = fields[1].lower(), fields[2].lower()
    if v in index and w in index and index[w] < size:
      i, j = index[v], index[w]
      p = 10.0 ** float(fields[0])
      pairs[i * size + j] = max(0.0, (p - keep[i] * math.exp(unigram[j])) / weight[i])
  keys = np.array(sorted(pairs), np.int64)
  counts = np.array([pairs[k] for k in keys], np.float64)
  totals = np.ones(size + 1)      # every context interpolates with weight 1 - backoff
  lm.arrays = (unigram, keys, counts, totals, keep / weight)
  return lm
