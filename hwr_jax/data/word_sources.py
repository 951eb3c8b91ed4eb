"""Where word (and line) images for the CRNN come from: one small interface, four sources.

A source has a charset, a fixed validation set (`validation`: prepared
images, texts) and epochs of training batches (`train_batches`):
  'synthetic'  words composed from EMNIST glyphs (train glyphs for training,
               held-out glyphs for validation)
  'folder'     a folder of images with `labels.tsv` (file name <TAB> text)
  'iam'        the IAM database (`data/iam.py`), split by writer
  'iam_lines'  IAM's lines rebuilt from its word crops (`data/iam_pages.py`),
               split by writer; with words.with_words, the training writers'
               words as well (a line reader that also reads single words)
Synthetic words are new in every batch; real ones come in epochs of
width-bucketed, distorted batches.
"""

import collections
import os

import cv2
import numpy as np

from hwr_jax.data import labels as label_maps, sources, word_batches, word_synthesis
from hwr_jax.data.errors import DataError
from hwr_jax.language import wordlists
from hwr_jax.preprocess import augment
from hwr_jax.preprocess.word_input import InputGeometry, frames_needed, to_input


class SyntheticWords:
  charset = label_maps.BYCLASS_CHARS

  def __init__(self, config):
    self.config = config
    self.geometry = InputGeometry.of(config)
    splits = sources.load(config.data, with_test=False)
    if splits.charset != label_maps.BYCLASS_CHARS:
      raise DataError("Word synthesis needs ByClass (case-sensitive) glyphs: "
                      "set data.label_space='byclass'.")
    self.train_bank = word_synthesis.GlyphBank(*splits.train)
    self.vocabulary = wordlists.word_list()
    self.max_length = config.words.max_label_length
    rng = np.random.default_rng([config.seed, 10_000])
    val_bank = word_synthesis.GlyphBank(*splits.validation)
    images, texts = word_synthesis.sample_words(config.words.num_validation_words, val_bank, rng,
                                       self.vocabulary, self.max_length)
    self.validation = ([to_input(im, self.geometry) for im in images], texts)

  @property
  def steps_per_epoch(self) -> int:
    return self.config.words.steps_per_epoch

  def train_batches(self, epoch: int, shard_index: int = 0, num_shards: int = 1,
                    start: int = 0):
    """`words.steps_per_epoch` batches of new words from batch `start` on,
    each a function of (seed, epoch, batch) only: every host renders the
    whole global batch (so all agree on its width, and 1 or N hosts train
    alike) and keeps its own slice."""
    config = self.config
    local = config.batch_size // num_shards
    for k in range(start, self.steps_per_epoch):
      rng = np.random.default_rng([config.seed, epoch, k])
      images, texts = word_synthesis.sample_words(config.batch_size, self.train_bank, rng,
                                         self.vocabulary, self.max_length)
      batch = word_batches.make_batch(images, texts, self.charset, self.geometry,
                                      config.words.max_label_length)
      yield {key: value[shard_index * local:(shard_index + 1) * local]
             for key, value in batch.items()}


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


class LabeledWords:
  """Real word images with their texts (a labels.tsv folder, or IAM with its
  writer-independent split). Images are prepared once (cropped, scaled to the
  model's height; kept in the user's cache folder) and distorted anew for
  every training batch (`preprocess/augment.py`). The charset is the training
  texts' characters."""

  def __init__(self, config):
    self.config = config
    self.geometry = InputGeometry.of(config)
    path = config.words.path
    if not path:
      raise DataError(f"words.source={config.words.source!r} needs --config.words.path=FOLDER.")
    if config.words.source == "iam_lines":
      train, validation = iam_line_pairs(path, "train"), iam_line_pairs(path, "validation")
      if config.words.get("with_words", False):
        train += iam_word_pairs(path, "train")
      if config.words.get("ondb_lines", False):   # IAM-OnDB's ink drawn as line images
        if not config.words.get("ondb_path"):
          raise DataError("words.ondb_lines needs --config.words.ondb_path=ONDB_FOLDER.")
        from hwr_jax.data import ondb_images
        train += ondb_images.line_files(config.words.ondb_path, held_out_texts(config)[0])
    elif config.words.source == "iam":
      train, validation = iam_word_pairs(path, "train"), iam_word_pairs(path, "validation")
      if config.words.get("with_page_cuts", False):   # the same words as a page reader cuts them
        train += iam_cut_pairs(path, "train")
        validation += iam_cut_pairs(path, "validation")
    else:
      pairs = read_labels_tsv(path)
      n_val = max(1, int(round(len(pairs) * config.data.validation_fraction)))
      train, validation = pairs[:-n_val], pairs[-n_val:]
    max_frames = self.geometry.frames(self.geometry.max_width)
    fits = [(p, t) for p, t in train if t and len(t) <= config.words.max_label_length
            and frames_needed(t) <= max_frames]
    (self.train, bad_train), (self.validation, bad_val) = (
        load_prepared(pairs, self.geometry) for pairs in (fits, validation))
    self.charset = "".join(sorted(set("".join(self.train[1]))))
    self.train_widths = np.array([im.shape[1] for im in self.train[0]])
    # The fewest columns each training word needs (CTC: a frame per label, more for repeats).
    self.min_widths = np.array([frames_needed(t) * self.geometry.columns_per_frame
                                for t in self.train[1]])
    unreadable = bad_train + bad_val
    print(f"{path}: {len(self.train[0])} training and {len(self.validation[0])} validation "
          f"images, {len(self.charset)} characters; {len(train) - len(fits)} training "
          f"texts skipped (empty, or longer than words.max_label_length="
          f"{config.words.max_label_length} or the widest bucket allows); {len(unreadable)} "
          "image files missing, empty or unreadable" +
          (f", e.g. {unreadable[0]}" if unreadable else ""))
    if len(self.train[0]) < config.batch_size or not self.validation[0]:
      raise DataError(f"{path}: {len(self.train[0])} usable training word images (fewer than "
                      f"one batch of {config.batch_size}) or no validation images.")

  @property
  def steps_per_epoch(self) -> int:
    return len(self.train[0]) // self.config.batch_size

  def training_vocabulary(self) -> collections.Counter:
    """The training words and how often each occurs (for the readers' lexicon
    and language model: never the validation or test texts): each text of a
    word source (IAM's 'M Ps' is one entry), the words of a line source's."""
    if self.config.words.source == "iam_lines":
      return collections.Counter(w for text in self.train[1] for w in text.split())
    return collections.Counter(self.train[1])

  def language_lines(self) -> tuple[list[str], str] | None:
    """(the training lines a word language model may be built from, what was
    left out): none that shares a word 6-gram with a validation or test
    writer's line (`language/leakage.py`); None for sources of single words."""
    if self.config.words.source != "iam_lines":
      return None
    from hwr_jax.language.leakage import without_test_text
    lines = [t for t in self.train[1] if " " in t]
    held_out, what = held_out_texts(self.config)
    kept, dropped = without_test_text(lines, held_out)
    return kept, f"{dropped} training lines sharing a word 6-gram with {what} left out"

  def train_batches(self, epoch: int, shard_index: int = 0, num_shards: int = 1,
                    start: int = 0):
    """One epoch of distorted training batches, a function of (seed, epoch),
    from batch `start` on: every host plans the same global batches (so all
    agree on each batch's width) and makes its own slice of each; each word's
    distortion depends on its place in the global batch, not on the hosts."""
    config, (images, texts) = self.config, self.train
    rng = np.random.default_rng([config.seed, epoch])
    _, slant, widths = augment.sample_geometry(self.train_widths, self.geometry.height, rng)
    widths = np.clip(widths, self.min_widths, config.words.buckets[-1])
    plan = word_batches.plan_batches(widths, config.words.buckets, config.batch_size, rng)
    local = config.batch_size // num_shards
    for k, (index, bucket) in enumerate(plan):
      if k < start:
        continue
      first = shard_index * local
      batch_images = [augment.distort(images[i], widths[i], slant[i],
                                           np.random.default_rng([config.seed, epoch, k, j]))
                      for j, i in enumerate(index[first:first + local], first)]
      index = index[first:first + local]
      yield word_batches.make_batch(batch_images, [texts[i] for i in index], self.charset,
                                    self.geometry, config.words.max_label_length,
                                    prepared=True, width=bucket)


def iam_word_pairs(path: str, split: str) -> list[tuple[str, str]]:
  """(image, text) of the `split` writers' IAM words marked 'ok' (IAM's 'err'
  words are badly cut)."""
  from hwr_jax.data import iam
  return [(w.path, w.text) for w in iam.read_words(path) if w.ok and w.split == split]


def held_out_texts(config) -> tuple[list[str], str]:
  """(the validation and test writers' line texts, what they are): no
  training text for a language model (or drawn from IAM-OnDB) may share a word
  6-gram with them. IAM-OnDB's testset_v / testset_f lines too when
  words.ondb_path is given: it copies the same corpus."""
  from hwr_jax.data import iam
  texts = [t for split in ("validation", "test") for t in iam.line_texts(config.words.path, split)]
  what = "a validation or test writer's line"
  if config.words.get("ondb_path"):
    from hwr_jax.data import ondb
    texts += [l.text for l in ondb.read_lines(config.words.ondb_path).lines
              if l.split in ("validation", "test")]
    what += " or an IAM-OnDB testset_v / testset_f line"
  return texts, what


def iam_line_pairs(path: str, split: str) -> list[tuple[str, str]]:
  """(image, text) of the `split` writers' IAM lines, rebuilt from the word
  crops (`data/iam_pages.py`)."""
  from hwr_jax.data import iam_pages
  return [(p, t) for p, t, _ in iam_pages.line_files(path)[split]]


def iam_cut_pairs(path: str, split: str) -> list[tuple[str, str]]:
  """(image, text) of the `split` writers' IAM words marked 'ok', cut from
  their rebuilt lines as the page reader cuts them (`data/iam_pages.py`)."""
  from hwr_jax.data import iam_pages
  return [(p, t) for p, t, _ in iam_pages.word_cut_files(path)[split]]


def load_prepared(pairs: list[tuple[str, str]], geometry: InputGeometry):
  """((prepared images, texts), unreadable paths) of (path, text) pairs,
  read with a few threads (OpenCV releases the GIL) and kept in the cache
  folder, keyed by the files' names, sizes and times."""
  from concurrent.futures import ThreadPoolExecutor

  from hwr_jax import cache

  def build():
    def read(path):
      image = cv2.imread(path, cv2.IMREAD_GRAYSCALE) if os.path.isfile(path) else None
      if image is None or image.size == 0 or image.max() == image.min():
        return None
      return to_input(image, geometry)
    with ThreadPoolExecutor(4) as pool:
      prepared = list(pool.map(read, [p for p, _ in pairs], chunksize=64))
    kept = [(im, t) for im, (_, t) in zip(prepared, pairs) if im is not None]
    bad = [p for im, (p, _) in zip(prepared, pairs) if im is None]
    return ([im for im, _ in kept], [t for _, t in kept]), bad

  key = ("prepared-words", 1, geometry.height, geometry.max_width, [(p, t, cache.file_stamp(p)) for p, t in pairs])
  return cache.cached("words", key, build)


def create(config):
  if config.words.source == "synthetic":
    return SyntheticWords(config)
  if config.words.source in ("folder", "iam", "iam_lines"):
    return LabeledWords(config)
  raise DataError(f"Unknown words.source {config.words.source!r} "
                  "(synthetic, folder, iam, iam_lines).")


def evaluation_words(config, split: str = "test", geometry: InputGeometry | None = None,
                     loaded=None) -> tuple[list, list[str], str]:
  """(model inputs, texts, what they are) of the words to evaluate a word
  model on: IAM's test (or validation) writers' words marked 'ok'; a
  labels.tsv folder's or synthesized words' validation words (they have no
  test split: `what` says so). Reads only that split; images are prepared at
  `geometry` (the model's; default: the config's). `loaded`: the source as
  training loaded it (its synthesized validation words are not made again)."""
  if split not in ("test", "validation"):
    raise ValueError(f"split must be 'test' or 'validation', not {split!r}.")
  source, path = config.words.source, config.words.path
  geometry = geometry or InputGeometry.of(config)
  if source in ("folder", "iam", "iam_lines") and not path:
    raise DataError(f"words.source={source!r} needs --config.words.path=FOLDER.")
  if source == "iam":
    (images, texts), bad = load_prepared(iam_word_pairs(path, split), geometry)
    return images, texts, (f"IAM {split} writers' words (status ok; "
                           f"{len(bad)} unreadable skipped)")
  if source == "iam_lines":
    (images, texts), bad = load_prepared(iam_line_pairs(path, split), geometry)
    return images, texts, (f"IAM {split} writers' lines, rebuilt from the word crops "
                           f"({len(bad)} unreadable skipped)")
  note = "" if split == "validation" else " (the source has no test split)"
  if source == "folder":
    pairs = read_labels_tsv(path)
    n_val = max(1, int(round(len(pairs) * config.data.validation_fraction)))
    (images, texts), bad = load_prepared(pairs[-n_val:], geometry)
    return images, texts, (f"the validation words of {path}{note}; {len(bad)} unreadable "
                           "skipped")
  images, texts = (loaded or create(config)).validation
  return images, texts, f"synthesized validation words (held-out glyphs){note}"
