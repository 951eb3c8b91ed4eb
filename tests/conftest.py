import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

from hwr_jax import runtime

runtime.set_xla_flags()   # before JAX starts, as the commands do (fast CPU convolutions)

from hwr_jax.data import idx  # noqa: E402

# Compiled programs and derived resources of this test session (and of the
# command-line tools it starts) go to a fresh folder, not the user's cache.
if "HWR_JAX_CACHE_DIR" not in os.environ:
  _cache = tempfile.mkdtemp(prefix="hwr-jax-test-cache-")
  os.environ["HWR_JAX_CACHE_DIR"] = _cache
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)   # removed after the session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_EMNIST = os.path.join(ROOT, "..", "shared", "emnist")
BYCLASS_DEV = os.path.join(SHARED_EMNIST, "emnist-byclass-dev-images-idx3-ubyte.gz")


@pytest.fixture(scope="session")
def shared_emnist():
  """Path of ../shared/emnist; the test is skipped where it is absent."""
  if not os.path.exists(BYCLASS_DEV):
    pytest.skip("../shared/emnist (real EMNIST dev data) is absent in this checkout")
  return SHARED_EMNIST


@pytest.fixture(scope="session")
def real_classifier(tmp_path_factory, shared_emnist):
  """(workdir, config, test results) of a ByClass classifier trained for one
  epoch (187 steps) on 24,000 real EMNIST images; shared by the tests of
  training and of the readers."""
  from configs import dev_byclass
  from hwr_jax.training import classifier
  config = dev_byclass.get_config()
  config.data.max_train_examples = 24_000
  config.data.validation_fraction = 0.02   # 1,861 real held-out images
  config.batch_size = 128
  config.num_epochs = 1
  config.augment.enabled = False
  workdir = str(tmp_path_factory.mktemp("real_classifier"))
  return workdir, config, classifier.train_and_evaluate(config, workdir)


def synthetic_glyphs(n: int, num_classes: int, seed: int = 0, every_class: bool = False):
  """Upright 28x28 uint8 images whose class is a learnable shape: a bar
  whose row and thickness encode the label, plus noise. `every_class`: labels
  cycle through all classes (so any slice of num_classes has each once)."""
  rng = np.random.default_rng(seed)
  labels = (np.arange(n) % num_classes if every_class
            else rng.integers(0, num_classes, n)).astype(np.uint8)
  images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
  for i, k in enumerate(labels.tolist()):
    row = 3 + (k * 22) // num_classes
    images[i, row:row + 2 + k % 3, 4:24] = 255
  return images, labels


@pytest.fixture
def idx_dataset(tmp_path):
  """Synthetic train/test IDX files (stored transposed, like EMNIST)."""
  def write(num_train=600, num_test=200, num_classes=62):
    paths = {}
    for split, n, seed in (("train", num_train, 0), ("test", num_test, 1)):
      images, labels = synthetic_glyphs(n, num_classes, seed)
      paths[f"{split}_images"] = str(tmp_path / f"{split}-images-idx3-ubyte.gz")
      paths[f"{split}_labels"] = str(tmp_path / f"{split}-labels-idx1-ubyte.gz")
      idx.write_idx(paths[f"{split}_images"], np.swapaxes(images, 1, 2))
      idx.write_idx(paths[f"{split}_labels"], labels)
    return paths
  return write


@pytest.fixture(scope="session")
def ink_run(tmp_path_factory):
  """(folder, workdir, config, results) of a small ink model trained for 20
  short epochs on 432 synthetic lines of ink (`tests_helpers.write_ink_folder`);
  shared by the tests of the ink reader and of the demo."""
  from hwr_jax.training import ink as ink_training
  from tests_helpers import tiny_ink_config, write_ink_folder
  folder = tmp_path_factory.mktemp("ink")
  write_ink_folder(folder, 480)
  config = tiny_ink_config(folder)
  workdir = folder / "run"
  results = ink_training.train_and_evaluate(config, str(workdir))
  return folder, workdir, config, results


@pytest.fixture(scope="session")
def line_run(tmp_path_factory):
  """(folder, workdir, results) of a small line model (a CRNN whose charset
  has a space) trained briefly on 240 synthetic line images of the stroke letters
  (`tests_helpers.write_line_folder`): the page reader's tests read pages
  composed of such lines."""
  from hwr_jax.training import words as word_training
  from tests_helpers import tiny_line_config, write_line_folder
  folder = tmp_path_factory.mktemp("lines")
  write_line_folder(folder, 240)
  workdir = folder / "run"
  results = word_training.train_and_evaluate(tiny_line_config(folder), str(workdir))
  return folder, workdir, results
