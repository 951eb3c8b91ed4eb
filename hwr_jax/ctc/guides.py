"""Language resources as the tables `decoders.prefix_beam_search` follows
(`GuideTables`): a character n-gram model, a lexicon trie, character classes,
and lexicon words separated by spaces with a word n-gram model."""

import numpy as np

from hwr_jax.ctc.decoders import NEG_INF, GuideTables
from hwr_jax.language.lexicon import Lexicon
from hwr_jax.language.ngrams import BOW, EOW, CharNgramLM, WordNgramLM


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


def word_log_prob(lm: WordNgramLM, previous: str | None, word: str) -> float:
  """log P(word | previous word) under `lm`, as the word beam search scores it;
  `previous` None: at the start of a line."""
  from hwr_jax.ctc.compiled import word_log_prob as compiled
  context = len(lm.vocabulary) if previous is None else lm.index[previous.lower()]
  return compiled(context, lm.index[word.lower()], lm.arrays)
