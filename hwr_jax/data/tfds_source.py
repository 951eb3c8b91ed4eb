"""EMNIST and MNIST through TensorFlow Datasets (`emnist/<split>`, `mnist`).

Uses `tfds.data_source` (random access over ArrayRecord), which reads prepared
data without TensorFlow. Preparing (download + conversion) happens on first
use on a machine with internet.
"""

import numpy as np

from hwr_jax.data import idx
from hwr_jax.data.errors import DataError


def load_split(name: str, subset: str, data_dir: str | None = None,
               download: bool = True):
  """Returns upright uint8 images (N, 28, 28) and int32 labels from 0 of a
  TFDS dataset (`emnist/<split>` or `mnist`)."""
  try:
    import tensorflow_datasets as tfds
  except ImportError as e:
    raise DataError("The TFDS source needs tensorflow-datasets: "
                    "pip install -r requirements-tfds.txt") from e
  try:
    source = tfds.data_source(name, split=subset, data_dir=data_dir, download=download)
  except Exception as e:  # TFDS raises many types: network, missing TF, ...
    raise DataError(
        f"TFDS could not provide {name} ({type(e).__name__}: {e}).\n"
        "Preparing it needs internet and `pip install -r requirements-tfds.txt`. "
        "Without internet, use the official NIST files: --config.data.source=nist "
        "(see docs/data.md).") from e
  n = len(source)
  images = np.empty((n, 28, 28), np.uint8)
  labels = np.empty((n,), np.int32)
  for i in range(n):
    example = source[i]
    images[i] = np.asarray(example["image"]).reshape(28, 28)
    labels[i] = example["label"]
  if name == "emnist/letters":     # classes 1..26, as in the NIST files
    labels -= 1
  if name == "mnist":               # stored upright
    return images, labels
  # TFDS keeps EMNIST's transposed storage, like the NIST files.
  return idx.transpose_to_upright(images), labels
