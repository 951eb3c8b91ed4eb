"""Helpers shared by test modules (importable; conftest fixtures are not)."""

import numpy as np

from configs import common
from conftest import synthetic_glyphs
from hwr_jax.training import classifier
from hwr_jax.data import idx


def glyph_files(folder, n: int, num_classes: int = 62) -> dict:
  """`n` synthetic glyphs (ByClass, or `num_classes`) as IDX files: config.data paths."""
  images, labels = synthetic_glyphs(n, num_classes)
  paths = {"train_images": str(folder / "i.gz"), "train_labels": str(folder / "l.gz")}
  idx.write_idx(paths["train_images"], np.swapaxes(images, 1, 2))
  idx.write_idx(paths["train_labels"], labels)
  return paths


def tiny_workdir(folder, label_space: str = "byclass") -> str:
  """Trains a classifier (ByClass, or another label space) for one short
  epoch on synthetic glyphs."""
  from hwr_jax.data import labels as label_maps
  paths = glyph_files(folder, 256, len(label_maps.charset(label_space)))
  config = common.get_base_config()
  config.data.update(source="idx", label_space=label_space, file_label_space=label_space,
                     validation_fraction=0.25, **paths)
  config.update(batch_size=64, eval_batch_size=64, num_epochs=1)
  workdir = str(folder / "workdir")
  classifier.train_and_evaluate(config, workdir)
  return workdir


def tiny_word_config(folder, num_epochs=2):
  """A words config on synthetic glyphs (62 classes), small enough for tests."""
  from configs import words as words_config
  images, labels = synthetic_glyphs(620, 62, seed=3, every_class=True)
  idx.write_idx(str(folder / "wi.gz"), np.swapaxes(images, 1, 2))
  idx.write_idx(str(folder / "wl.gz"), labels)
  config = words_config.get_config()
  config.data.update(train_images=str(folder / "wi.gz"), train_labels=str(folder / "wl.gz"),
                     validation_fraction=0.2)
  config.words.update(steps_per_epoch=12, num_validation_words=16, buckets=(48, 96, 192))
  config.update(batch_size=16, eval_batch_size=16, num_epochs=num_epochs, log_every_steps=4,
                learning_rate=3e-3)
  return config
