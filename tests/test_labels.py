import numpy as np
import pytest

from hwr_jax.data import labels, sources
from hwr_jax.data.errors import DataError


def test_charsets_match_official_mapping_files(shared_emnist):
  assert labels.parse_mapping_file(f"{shared_emnist}/emnist-byclass-mapping.txt") == labels.BYCLASS_CHARS
  assert labels.parse_mapping_file(f"{shared_emnist}/emnist-balanced-mapping.txt") == labels.BALANCED_CHARS


def test_sizes_and_byclass_to_balanced_merge():
  assert len(labels.BYCLASS_CHARS) == 62 and len(labels.BALANCED_CHARS) == 47
  table = labels.merge_table("byclass", "balanced")
  to_char = lambda ch: labels.BALANCED_CHARS[table[labels.BYCLASS_CHARS.index(ch)]]
  for merged in "cijklmopsuvwxyz":
    assert to_char(merged) == merged.upper()
  for kept in "0123456789ABCZabdefghnqrt":
    assert to_char(kept) == kept
  assert sorted(set(table.tolist())) == list(range(47))


def test_convert_labels():
  y = np.array([labels.BYCLASS_CHARS.index(c) for c in "0aoO"])
  merged = sources.convert_labels(y, "byclass", "balanced")
  assert "".join(labels.BALANCED_CHARS[k] for k in merged) == "0aOO"
  np.testing.assert_array_equal(sources.convert_labels(y, "byclass", "byclass"), y)


def test_merges_into_letters_and_digits_drop_what_lies_outside():
  y = np.array([labels.BYCLASS_CHARS.index(c) for c in "7aQq0Z"])
  digits = sources.convert_labels(y, "byclass", "digits")
  np.testing.assert_array_equal(digits, [7, -1, -1, -1, 0, -1])
  letters = sources.convert_labels(y, "byclass", "letters")
  assert [labels.LETTERS[k] if k >= 0 else None for k in letters] == [None, "a", "q", "q", None, "z"]
  balanced = np.array([labels.BALANCED_CHARS.index(c) for c in "Ca5"])
  assert list(sources.convert_labels(balanced, "balanced", "letters")) == [2, 0, -1]
  x = np.arange(6)[:, None, None] * np.ones((1, 28, 28), np.uint8)
  kept_x, kept_y = sources.keep_in_space(x, digits, "train")
  np.testing.assert_array_equal(kept_y, [7, 0])
  np.testing.assert_array_equal(kept_x[:, 0, 0], [0, 4])


def test_a_merge_that_would_split_classes_is_refused():
  with pytest.raises(DataError, match="split classes"):
    sources.convert_labels(np.array([0]), "balanced", "byclass")
  with pytest.raises(DataError, match="split classes"):
    sources.convert_labels(np.array([0]), "letters", "byclass")
