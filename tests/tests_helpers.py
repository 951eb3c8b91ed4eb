"""Helpers shared by test modules (importable; conftest fixtures are not)."""

import numpy as np

from configs import common
from conftest import synthetic_glyphs
from hwr_jax import train
from hwr_jax.data import idx


def tiny_workdir(folder) -> str:
  """Trains a ByClass classifier for one short epoch on synthetic glyphs."""
  images, labels = synthetic_glyphs(256, 62)
  idx.write_idx(str(folder / "i.gz"), np.swapaxes(images, 1, 2))
  idx.write_idx(str(folder / "l.gz"), labels)
  config = common.get_base_config()
  config.data.update(source="idx", train_images=str(folder / "i.gz"),
                     train_labels=str(folder / "l.gz"), label_space="byclass",
                     validation_fraction=0.25)
  config.update(batch_size=64, eval_batch_size=64, num_epochs=1)
  workdir = str(folder / "workdir")
  train.train_and_evaluate(config, workdir)
  return workdir
