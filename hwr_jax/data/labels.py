"""EMNIST label maps: class index <-> character, and the ByClass->Balanced merge.

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


def byclass_to_balanced() -> np.ndarray:
  """Lookup table: ByClass label -> Balanced label (merged letters -> capital)."""
  table = []
  for ch in BYCLASS_CHARS:
    table.append(BALANCED_CHARS.index(ch) if ch in BALANCED_CHARS
                 else BALANCED_CHARS.index(ch.upper()))
  return np.asarray(table, dtype=np.int32)


def parse_mapping_file(path: str) -> str:
  """Reads an official `emnist-*-mapping.txt` ("label ascii" lines) into a string."""
  pairs = [line.split() for line in open(path) if line.strip()]
  return "".join(chr(int(code)) for _, code in sorted(pairs, key=lambda p: int(p[0])))
