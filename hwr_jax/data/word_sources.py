"""Where word images for the CRNN come from: one small interface, three sources.

A source gives training examples on demand (`sample(n, rng)`) and a fixed
validation set (`validation`), as (images, texts):
  'synthetic'  words composed from EMNIST glyphs (train glyphs for training,
               held-out glyphs for validation)
  'folder'     a folder of images with `labels.tsv` (file name <TAB> text)
  'iam'        the IAM database layout: `words.txt` and `words/a01/a01-000u/...png`
"""

import os

import cv2
import numpy as np

from hwr_jax.data import labels as label_maps, sources, words
from hwr_jax.data.errors import DataError


class SyntheticWords:
  def __init__(self, config):
    splits = sources.load(config.data, with_test=False)
    if splits.charset != label_maps.BYCLASS_CHARS:
      raise DataError("Word synthesis needs ByClass (case-sensitive) glyphs: "
                      "set data.label_space='byclass'.")
    self.train_bank = words.GlyphBank(*splits.train)
    self.vocabulary = words.word_list()
    self.max_length = config.words.max_label_length
    rng = np.random.default_rng([config.seed, 10_000])
    val_bank = words.GlyphBank(*splits.validation)
    self.validation = words.sample_words(config.words.num_validation_words, val_bank, rng,
                                         self.vocabulary, self.max_length)

  def sample(self, n: int, rng: np.random.Generator):
    return words.sample_words(n, self.train_bank, rng, self.vocabulary, self.max_length)


def read_labels_tsv(folder: str) -> list[tuple[str, str]]:
  """(image path, text) pairs from `folder/labels.tsv`."""
  path = os.path.join(folder, "labels.tsv")
  if not os.path.exists(path):
    raise DataError(f"{path} not found: a word folder needs labels.tsv with lines "
                    "'file name<TAB>text'.")
  pairs = []
  for number, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip():
      continue
    if "\t" not in line:
      raise DataError(f"{path}:{number}: expected 'file name<TAB>text', got {line.strip()!r}")
    name, text = line.rstrip("\n").split("\t", 1)
    pairs.append((os.path.join(folder, name), text))
  return pairs


def read_iam_words(root: str) -> list[tuple[str, str]]:
  """(image path, text) pairs from IAM's `words.txt` (lines whose
  segmentation is marked 'ok'; '#' lines are comments)."""
  path = os.path.join(root, "words.txt")
  if not os.path.exists(path):
    raise DataError(f"{path} not found: point words.path at the IAM folder that holds "
                    "words.txt and words/.")
  pairs = []
  for line in open(path, encoding="utf-8"):
    if line.startswith("#") or not line.strip():
      continue
    fields = line.split()
    if len(fields) < 9 or fields[1] != "ok":
      continue
    word_id, text = fields[0], " ".join(fields[8:])
    form, line_id = "-".join(word_id.split("-")[:2]), word_id.split("-")[0]
    pairs.append((os.path.join(root, "words", line_id, form, word_id + ".png"), text))
  return pairs


class LabeledWords:
  """Word images with their texts, from a labels.tsv folder or IAM."""

  def __init__(self, config):
    reader = read_iam_words if config.words.source == "iam" else read_labels_tsv
    pairs = reader(config.words.path)
    charset, max_length = label_maps.BYCLASS_CHARS, config.words.max_label_length
    usable = [(p, t) for p, t in pairs if t and len(t) <= max_length and set(t) <= set(charset)]
    images, texts, unreadable = [], [], []
    for path, text in usable:
      image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
      if image is None or image.size == 0:
        unreadable.append(path)
        continue
      images.append(image)
      texts.append(text)
    skipped = len(pairs) - len(usable)
    print(f"{config.words.path}: {len(images)} word images; {skipped} skipped (characters "
          f"outside the 62 ByClass ones or longer than {max_length}); {len(unreadable)} unreadable"
          + (f", e.g. {unreadable[0]}" if unreadable else ""))
    if len(images) < 2:
      raise DataError(f"{config.words.path}: fewer than 2 usable word images.")
    n_val = max(1, int(round(len(images) * config.data.validation_fraction)))
    self.train = (images[:-n_val], texts[:-n_val])
    self.validation = (images[-n_val:], texts[-n_val:])

  def sample(self, n: int, rng: np.random.Generator):
    index = rng.integers(0, len(self.train[0]), n)
    return [self.train[0][i] for i in index], [self.train[1][i] for i in index]


def create(config):
  if config.words.source == "synthetic":
    return SyntheticWords(config)
  if config.words.source in ("folder", "iam"):
    return LabeledWords(config)
  raise DataError(f"Unknown words.source {config.words.source!r} (synthetic, folder, iam).")
