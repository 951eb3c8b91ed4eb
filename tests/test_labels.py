import numpy as np

from hwr_jax.data import labels, sources


def test_charsets_match_official_mapping_files(shared_emnist):
  assert labels.parse_mapping_file(f"{shared_emnist}/emnist-byclass-mapping.txt") == labels.BYCLASS_CHARS
  assert labels.parse_mapping_file(f"{shared_emnist}/emnist-balanced-mapping.txt") == labels.BALANCED_CHARS


def test_sizes_and_byclass_to_balanced_merge():
  assert len(labels.BYCLASS_CHARS) == 62 and len(labels.BALANCED_CHARS) == 47
  table = labels.byclass_to_balanced()
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
