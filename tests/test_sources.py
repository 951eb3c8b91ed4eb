import numpy as np
import pytest
import tensorflow_datasets as tfds

from configs import common
from hwr_jax.data import idx, sources, tfds_source
from hwr_jax.data.errors import DataError


def idx_config(paths, **overrides):
  config = common.get_base_config().data
  config.source = "idx"
  for key, value in {**paths, **overrides}.items():
    config[key] = value
  return config


def test_idx_source_splits_and_maps_labels(idx_dataset):
  paths = idx_dataset(num_train=600, num_test=200, num_classes=62)
  splits = sources.load(idx_config(paths, validation_fraction=0.25,
                                   label_space="balanced", file_label_space="byclass"))
  assert splits.num_classes == 47
  assert len(splits.train[0]) == 450 and len(splits.validation[0]) == 150
  assert len(splits.test[0]) == 200
  assert splits.train[1].max() < 47 and splits.test[1].max() < 47


def test_byclass_files_train_a_digits_task(idx_dataset):
  paths = idx_dataset(num_train=620, num_test=124, num_classes=62)
  splits = sources.load(idx_config(paths, validation_fraction=0.2,
                                   label_space="digits", file_label_space="byclass"))
  assert splits.charset == "0123456789"
  _, raw = idx.read_image_label_pair(paths["train_images"], paths["train_labels"])
  train_labels = np.concatenate([splits.train[1], splits.validation[1]])
  np.testing.assert_array_equal(train_labels, raw[raw < 10])   # the digits, in file order
  assert splits.test[1].max() < 10 and len(splits.test[1]) > 0


def test_max_train_examples(idx_dataset):
  splits = sources.load(idx_config(idx_dataset(), max_train_examples=100,
                                   label_space="byclass"))
  assert len(splits.train[0]) == 100


def test_labels_outside_the_label_space_are_rejected(idx_dataset):
  paths = idx_dataset(num_classes=62)
  with pytest.raises(DataError, match="labels range over"):
    sources.load(idx_config(paths, label_space="balanced", file_label_space="balanced"))


def test_tfds_source_with_tfds_mock():
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    images, labels = tfds_source.load_split("emnist/byclass", "train")
    raw = tfds.data_source("emnist/byclass", split="train")[3]["image"][..., 0]
  assert images.shape == (12, 28, 28) and images.dtype == np.uint8
  assert labels.dtype == np.int32 and labels.max() < 62
  np.testing.assert_array_equal(images[3], raw.T)  # put upright, like the NIST files


def test_tfds_mnist_is_kept_upright():
  from configs import mnist
  config = mnist.get_config().data
  assert sources.tfds_name(config) == "mnist" and sources.source_label_space(config) == "digits"
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    images, labels = tfds_source.load_split(sources.tfds_name(config), "test")
    raw = tfds.data_source("mnist", split="test")[3]["image"][..., 0]
  assert images.shape == (12, 28, 28) and labels.max() < 10
  np.testing.assert_array_equal(images[3], raw)   # MNIST is stored upright


def test_tfds_source_through_the_config():
  config = common.get_base_config().data
  config.source = "tfds"
  with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
    splits = sources.load(config, with_test=False)
    test_images, _ = sources.load_test(config)
  assert splits.num_classes == 47 and len(splits.validation[0]) == 2
  assert len(test_images) == 40


def test_tfds_failure_is_explained(tmp_path):
  # No network here and nothing prepared in data_dir: TFDS fails; the error says what to do.
  with pytest.raises(DataError, match="--config.data.source=nist"):
    tfds_source.load_split("balanced", "train", data_dir=str(tmp_path), download=False)


def test_training_images_identical_to_test_images_are_dropped(idx_dataset):
  paths = idx_dataset(num_train=100, num_test=20)
  train_x, _ = sources.idx.read_image_label_pair(paths["train_images"], paths["train_labels"])
  # Make the test set share 5 images with the training file.
  test_x, test_y = sources.idx.read_image_label_pair(paths["test_images"], paths["test_labels"])
  test_x[:5] = train_x[10:15]
  sources.idx.write_idx(paths["test_images"], np.swapaxes(test_x, 1, 2))
  splits = sources.load(idx_config(paths, label_space="byclass", validation_fraction=0.1))
  assert len(splits.train[0]) + len(splits.validation[0]) == 95
  seen = {im.tobytes() for im in np.concatenate([splits.train[0], splits.validation[0]])}
  assert not seen & {im.tobytes() for im in splits.test[0]}
