"""Keeping test text out of language models.

IAM and IAM-OnDB copy the same corpus texts (LOB), several writers per text,
some passages overlapping: a language model built from training lines can
hold a test line's words in order, and would then read that test line from
memory, not from the ink. The rule: no line that shares a word 6-gram with a
test line (of either corpus) goes into a language model.
"""

N = 6


def word_ngrams(text: str, n: int = N) -> set[tuple[str, ...]]:
  """The word n-grams of a text (split on spaces, lowercased)."""
  words = text.lower().split()
  return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def without_test_text(lines: list[str], test_lines: list[str], n: int = N
                      ) -> tuple[list[str], int]:
  """(the lines that share no word n-gram with any test line, how many were
  dropped)."""
  test = set().union(*(word_ngrams(t, n) for t in test_lines)) if test_lines else set()
  kept = [l for l in lines if not (word_ngrams(l, n) & test)]
  return kept, len(lines) - len(kept)
