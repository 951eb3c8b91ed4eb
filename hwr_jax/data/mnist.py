"""MNIST itself (LeCun, Cortes and Burges): the four IDX files, downloaded
into a folder when they are not there and verified against their sha256.

Unlike EMNIST's, MNIST's images are stored upright.
"""

import os

from hwr_jax.data import download, idx
from hwr_jax.data.checksums import MNIST_FILES, MNIST_URL
from hwr_jax.data.errors import DataError

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def load_split(mnist_dir: str, subset: str, fetch: bool = True):
  """Upright uint8 images (N, 28, 28) and int32 labels of MNIST's 'train'
  or 'test' set from `mnist_dir`, downloaded there first when absent."""
  mnist_dir = os.path.expanduser(mnist_dir)
  paths = []
  for name in FILES[subset]:
    path = os.path.join(mnist_dir, name)
    sha, size = MNIST_FILES[name]
    manual = (f"To get it by hand: download {MNIST_URL}{name} and put it into "
              f"{os.path.abspath(mnist_dir)}/ (or use --config.data.source=tfds).")
    if not os.path.exists(path) and not fetch:
      raise DataError(f"{path} not found. {manual} Or let hwr-jax download it: "
                      "--config.data.download=True.")
    paths.append(download.download(MNIST_URL + name, path, sha, size, manual=manual))
  images, labels = (idx.read_idx(p) for p in paths)
  if images.shape != (len(labels), 28, 28):
    raise DataError(f"{paths[0]}: images {images.shape} do not match labels {labels.shape}.")
  return images, labels.astype("int32")
