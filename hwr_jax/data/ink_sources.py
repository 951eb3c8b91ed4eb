"""Where lines of ink for the ink reader come from, with their texts:

  'ondb'    IAM-OnDB (`ondb.py`), its official split
  'folder'  a folder of ink files (`ink_files.py`) with `labels.tsv`
            (file name <TAB> text; validation: the last data.validation_fraction)

Like the word sources (`word_sources.py`): a charset (the training texts'
characters, the space included), a fixed validation set, and epochs of
training batches bucketed by length. Strokes are normalized once
(`preprocess/ink.py`) and kept in the user's cache folder; distortions are
drawn on the device, in the train step (`preprocess/augment.random_ink_affine`).
"""

import collections

import numpy as np

from hwr_jax.data import ink_files, word_batches
from hwr_jax.data.errors import DataError
from hwr_jax.preprocess import ink
from hwr_jax.preprocess.word_input import frames_needed

FEATURES_VERSION = 1   # bump when preprocess/ink.py changes what it computes


def make_batch(points: list[np.ndarray], texts: list[str] | None, charset: str,
               geometry: ink.InkGeometry, max_label_length: int,
               length: int | None = None) -> dict:
  """Pads feature sequences to one bucket (`length`, or the shortest bucket
  that holds them all; longer than every bucket: the next multiple of 256),
  with labels as optax.ctc_loss takes them."""
  longest = max(len(p) for p in points)
  if length is None:
    length = geometry.bucket(longest)
    if longest > length:
      length = -(-longest // 256) * 256
  batch_points = np.zeros((len(points), length, ink.NUM_FEATURES), np.float32)
  lengths = np.zeros(len(points), np.int32)
  for i, p in enumerate(points):
    n = min(len(p), length)
    batch_points[i, :n] = p[:n]
    lengths[i] = geometry.frames(n)
  batch = {"ink": batch_points, "length": lengths}
  if texts is not None:
    batch.update(word_batches.encode_labels(texts, charset, max_label_length))
  return batch


def load_features(pairs: list[tuple[str, str]]):
  """((features, texts), unreadable paths) of (ink file, text) pairs, kept in
  the cache folder, keyed by the files' names, sizes and times."""
  from hwr_jax import cache

  def build():
    kept, bad = ([], []), []
    for path, text in pairs:
      try:
        points = ink.normalize(ink_files.read_ink(path))
      except (ink_files.InkError, ValueError):
        bad.append(path)
        continue
      kept[0].append(points)
      kept[1].append(text)
    return kept, bad

  key = ("ink-features", FEATURES_VERSION, ink.SPACING, [(p, t, cache.file_stamp(p)) for p, t in pairs])
  return cache.cached("ink", key, build)


class InkLines:
  """Lines of ink with their texts, for training and validation."""

  def __init__(self, config):
    self.config = config
    self.geometry = ink.InkGeometry.of(config)
    train, validation = split_pairs(config)
    max_frames = self.geometry.frames(self.geometry.max_points)
    fits = [(p, t) for p, t in train if t and len(t) <= config.ink.max_label_length
            and frames_needed(t) <= max_frames]
    (self.train, bad_train), (self.validation, bad_val) = (
        load_features(pairs) for pairs in (fits, validation))
    # Lines too short for their text (CTC needs a frame per character) or too long.
    usable = [i for i, (p, t) in enumerate(zip(*self.train))
              if frames_needed(t) <= self.geometry.frames(min(len(p), self.geometry.max_points))]
    self.train = ([self.train[0][i] for i in usable], [self.train[1][i] for i in usable])
    self.charset = "".join(sorted(set("".join(self.train[1]))))
    self.lengths = np.array([min(len(p), self.geometry.max_points) for p in self.train[0]])
    unreadable = bad_train + bad_val
    print(f"{config.ink.path}: {len(self.train[0])} training and {len(self.validation[0])} "
          f"validation lines of ink, {len(self.charset)} characters; "
          f"{len(train) - len(usable)} training lines skipped (empty text, longer than "
          f"ink.max_label_length={config.ink.max_label_length}, or ink too short or too long "
          f"for it); {len(unreadable)} files unreadable" +
          (f", e.g. {unreadable[0]}" if unreadable else ""))
    if len(self.train[0]) < config.batch_size or not self.validation[0]:
      raise DataError(f"{config.ink.path}: {len(self.train[0])} usable training lines (fewer "
                      f"than one batch of {config.batch_size}) or no validation lines.")

  @property
  def steps_per_epoch(self) -> int:
    return len(self.train[0]) // self.config.batch_size

  def training_vocabulary(self) -> collections.Counter:
    """The words of the training lines and how often each occurs."""
    return collections.Counter(w for text in self.train[1] for w in text.split())

  def train_batches(self, epoch: int, shard_index: int = 0, num_shards: int = 1,
                    start: int = 0):
    """One epoch of batches, a function of (seed, epoch), from batch `start`
    on; every host plans the same global batches and keeps its slice."""
    config, (points, texts) = self.config, self.train
    rng = np.random.default_rng([config.seed, epoch])
    plan = word_batches.plan_batches(self.lengths, self.geometry.buckets, config.batch_size, rng)
    local = config.batch_size // num_shards
    for k, (index, bucket) in enumerate(plan):
      if k < start:
        continue
      index = index[shard_index * local:(shard_index + 1) * local]
      yield make_batch([points[i] for i in index], [texts[i] for i in index], self.charset,
                       self.geometry, config.ink.max_label_length, length=bucket)


def split_pairs(config, split: str | None = None):
  """(ink file, text) pairs: (training, validation), or those of one `split`
  ('validation' | 'test'; a folder has no test split: its validation)."""
  source, path = config.ink.source, config.ink.path
  if not path:
    raise DataError(f"ink.source={source!r} needs --config.ink.path=FOLDER.")
  if source == "ondb":
    from hwr_jax.data import ondb
    catalogue = ondb.read_lines(path)
    train_splits = ("train", "extra") if config.ink.get("extra_training", True) else ("train",)
    pick = lambda splits: [(l.path, l.text) for l in catalogue.lines if l.split in splits]
    if split is not None:
      return pick((split,))
    if catalogue.skipped_forms:
      print(f"{path}: {len(catalogue.skipped_forms)} forms skipped (line files and CSR lines "
            f"differ in number: {', '.join(catalogue.skipped_forms)})")
    return pick(train_splits), pick(("validation",))
  if source == "folder":
    from hwr_jax.data.word_sources import read_labels_tsv   # (word sources import JAX)
    pairs = read_labels_tsv(path)
    n_val = max(1, int(round(len(pairs) * config.data.validation_fraction)))
    train, validation = pairs[:-n_val], pairs[-n_val:]
    return validation if split is not None else (train, validation)
  raise DataError(f"Unknown ink.source {source!r} (ondb, folder).")


def language_lines(config, train_texts: list[str]) -> tuple[list[str], str]:
  """(the training lines a language model may be built from, what was left
  out): none that shares a word 6-gram with a validation or test line of the
  source (`language/leakage.py`), nor with an IAM test writer's line when
  `ink.iam_path` names an IAM folder (IAM copies the same texts)."""
  from hwr_jax.language.leakage import without_test_text
  held_out = [t for split in ("validation", "test") if config.ink.source == "ondb" or
              split == "validation" for _, t in split_pairs(config, split)]
  what = "validation and test lines"
  if config.ink.get("iam_path"):
    from hwr_jax.data import iam
    held_out += iam.line_texts(config.ink.iam_path, "test")
    what += " and IAM's test writers' lines"
  kept, dropped = without_test_text(train_texts, held_out)
  return kept, f"{dropped} training lines sharing a word 6-gram with {what} left out"


def evaluation_lines(config, split: str = "test") -> tuple[list, list[str], str]:
  """(features, texts, what they are) of the lines to evaluate an ink model on:
  IAM-OnDB's testset_f (test) or testset_v (validation); a folder's
  validation lines (it has no test split)."""
  if split not in ("test", "validation"):
    raise ValueError(f"split must be 'test' or 'validation', not {split!r}.")
  (points, texts), bad = load_features(split_pairs(config, split))
  if config.ink.source == "ondb":
    name = {"test": "testset_f", "validation": "testset_v"}[split]
    what = f"IAM-OnDB {name} lines ({len(bad)} unreadable skipped)"
  else:
    note = "" if split == "validation" else " (the source has no test split)"
    what = f"the validation lines of {config.ink.path}{note}; {len(bad)} unreadable skipped"
  return points, texts, what
