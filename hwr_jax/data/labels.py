"""EMNIST label maps: class index <-> character, and merges between label spaces.

The official mapping files list ASCII codes; the strings below are those
codes as characters (tests check them against the official files).
"""

import numpy as np

BYCLASS_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Balanced == ByMerge label space: 15 lowercase letters whose shape equals the
# capital's (c i j k l m o p s u v w x y z) are merged into the capital.
BALANCED_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"

DIGITS = "0123456789"
# EMNIST Letters: 26 classes, each a letter in either case (the files number
# them 1..26; sources shift them to 0..25).
LETTERS = "abcdefghijklmnopqrstuvwxyz"

# label space (and EMNIST split) -> characters
CHARSETS = {"byclass": BYCLASS_CHARS, "balanced": BALANCED_CHARS,
            "bymerge": BALANCED_CHARS, "letters": LETTERS, "digits": DIGITS,
            "mnist": DIGITS}


def charset(name: str) -> str:
  if name not in CHARSETS:
    raise ValueError(f"Unknown label space {name!r}; choose one of {', '.join(CHARSETS)}.")
  return CHARSETS[name]


# (from, to) label spaces where every source class lies inside one target
# class or outside the target space: ByClass -> any, the 47-class spaces ->
# Letters / Digits. MNIST and Digits share one label space.
MERGES = {("byclass", "balanced"), ("byclass", "bymerge"), ("byclass", "letters"),
          ("byclass", "digits"), ("byclass", "mnist"), ("balanced", "letters"),
          ("balanced", "digits"), ("bymerge", "letters"), ("bymerge", "digits"),
          ("digits", "mnist"), ("mnist", "digits"), ("balanced", "bymerge"),
          ("bymerge", "balanced")}


def merge_table(from_space: str, to_space: str) -> np.ndarray:
  """Lookup table: label in `from_space` -> label in `to_space`, or -1 for a
  class outside it (ByClass letters under Digits). A letter goes to its own
  character, else its capital (Balanced merges), else its lowercase (Letters)."""
  if from_space != to_space and (from_space, to_space) not in MERGES:
    raise ValueError(f"Cannot map labels from {from_space!r} to {to_space!r}: the target "
                     "would have to split classes the source merged.")
  source, target = charset(from_space), charset(to_space)
  table = [next((target.index(c) for c in (ch, ch.upper(), ch.lower()) if c in target), -1)
           for ch in source]
  return np.asarray(table, dtype=np.int32)


def parse_mapping_file(path: str) -> str:
  """Reads an official `emnist-*-mapping.txt` ("label ascii" lines) into a string."""
  pairs = [line.split() for line in open(path) if line.strip()]
  return "".join(chr(int(code)) for _, code in sorted(pairs, key=lambda p: int(p[0])))
