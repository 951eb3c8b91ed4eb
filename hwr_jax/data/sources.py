"""One entry point from a data config to in-memory train / validation / test arrays.

Sources (`config.source`):
  'nist'   official EMNIST files (IDX .gz or gzip.zip) in `config.nist_dir`,
           downloaded there when absent (`config.download`)
  'mnist'  MNIST's own files in `config.mnist_dir`, downloaded likewise
  'tfds'   TensorFlow Datasets `config.tfds_name` (default `emnist/<emnist_split>`)
  'idx'    any IDX image/label files given by path (e.g. ../shared/emnist)
All images come back upright, uint8, (N, 28, 28); labels int32 in the label
space the model predicts (`config.label_space`).
"""

import dataclasses

import numpy as np

from hwr_jax.data import idx, labels as label_maps, mnist, nist, tfds_source
from hwr_jax.data.errors import DataError

Arrays = tuple[np.ndarray, np.ndarray]


@dataclasses.dataclass
class Splits:
  train: Arrays
  validation: Arrays
  test: Arrays | None
  charset: str          # class index -> character

  @property
  def num_classes(self) -> int:
    return len(self.charset)


def convert_labels(y: np.ndarray, from_space: str, to_space: str) -> np.ndarray:
  """Maps labels between label spaces (`labels.MERGES`); -1 marks an example
  whose class is outside `to_space` (see `keep_in_space`)."""
  if from_space == to_space:
    return y
  try:
    return label_maps.merge_table(from_space, to_space)[y]
  except ValueError as e:
    raise DataError(f"{e} Check data.file_label_space / data.label_space.") from None


def keep_in_space(x: np.ndarray, y: np.ndarray, what: str) -> Arrays:
  """Drops the examples `convert_labels` marked as outside the label space."""
  keep = y >= 0
  if not keep.all():
    print(f"{what}: kept {int(keep.sum())} of {len(y)} images (the others' classes are "
          "outside the label space).")
  return x[keep], y[keep]


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float):
  """The last `fraction` of the examples (in file order) is the validation set."""
  if not 0 < fraction < 1:
    raise DataError(f"validation_fraction must be in (0, 1), got {fraction}.")
  if len(x) < 2:
    raise DataError(f"Only {len(x)} training example(s) left: cannot split off a "
                    "validation set. Check the training files (and that they are "
                    "not the test files).")
  n_val = max(1, int(round(len(x) * fraction)))
  return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])


def drop_test_duplicates(x: np.ndarray, y: np.ndarray, test_images: np.ndarray):
  """Removes training examples byte-identical to a test image, so a test set
  cut from the same pool (e.g. ../shared/emnist's samples) stays unseen."""
  test = {image.tobytes() for image in test_images}
  keep = np.fromiter((image.tobytes() not in test for image in x), bool, len(x))
  return x[keep], y[keep], int((~keep).sum())


def _check_labels(y: np.ndarray, num_classes: int, what: str):
  if len(y) and (y.min() < 0 or y.max() >= num_classes):
    raise DataError(f"{what}: labels range over [{y.min()}, {y.max()}] but the "
                    f"label space has {num_classes} classes; check "
                    "data.label_space / data.file_label_space.")


SOURCES = ("nist", "mnist", "tfds", "idx")


def tfds_name(config) -> str:
  return config.get("tfds_name") or f"emnist/{config.emnist_split}"


def source_label_space(config) -> str:
  """The label space the source's own files use."""
  if config.source == "idx":
    return config.file_label_space
  if config.source == "mnist" or (config.source == "tfds" and tfds_name(config) == "mnist"):
    return "digits"
  return config.emnist_split


def load_source_split(config, subset: str) -> Arrays:
  """('train' | 'test') of the nist, mnist or tfds source."""
  if config.source == "nist":
    return nist.load_split(config.nist_dir, config.emnist_split, subset,
                           download=config.get("download", False))
  if config.source == "mnist":
    return mnist.load_split(config.get("mnist_dir", "data/mnist"), subset,
                            fetch=config.get("download", False))
  if config.source == "tfds":
    return tfds_source.load_split(tfds_name(config), subset, config.tfds_data_dir or None)
  raise DataError(f"Unknown data.source {config.source!r} ({', '.join(SOURCES)}).")


def load_test(config) -> Arrays | None:
  """The test set the config names (None when it names none).

  `test_images` / `test_labels` (IDX files) take precedence over the source's
  own test split, so any checkpoint can be evaluated on any IDX files.
  """
  if config.test_images:
    x, y = idx.read_image_label_pair(config.test_images, config.test_labels)
    from_space = config.test_file_label_space or config.file_label_space
    x, y = keep_in_space(x, convert_labels(y, from_space, config.label_space), "test")
    _check_labels(y, len(label_maps.charset(config.label_space)), "test")
    return x, y
  if config.source == "idx":
    return None
  return load_source_split(config, "test")


def load(config, with_test: bool = True) -> Splits:
  """Loads everything a data config names; see the module docstring."""
  charset = label_maps.charset(config.label_space)
  if config.source == "idx":
    if not config.train_images:
      raise DataError("data.source='idx' needs data.train_images and data.train_labels.")
    x, y = idx.read_image_label_pair(config.train_images, config.train_labels)
    x, y = keep_in_space(x, convert_labels(y, config.file_label_space, config.label_space),
                         "train")
  else:
    x, y = load_source_split(config, "train")
  if config.source != "idx" and label_maps.charset(source_label_space(config)) != charset:
    raise DataError(f"The {config.source} data ({source_label_space(config)}) does not use "
                    f"the label space data.label_space={config.label_space!r}.")
  _check_labels(y, len(charset), "train")
  test = load_test(config) if with_test else None
  if test is not None:
    x, y, dropped = drop_test_duplicates(x, y, test[0])
    if dropped:
      print(f"Dropped {dropped} training images identical to test images.")
  train, validation = split_validation(x, y, config.validation_fraction)
  if config.get("max_train_examples"):
    train = (train[0][:config.max_train_examples], train[1][:config.max_train_examples])
  return Splits(train=train, validation=validation, test=test, charset=charset)
