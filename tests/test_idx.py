import gzip

import numpy as np
import pytest

from hwr_jax.data import idx
from hwr_jax.data.errors import DataError


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_write_read_round_trip(tmp_path, suffix, dtype):
  array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
  if dtype == np.uint8:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
  path = str(tmp_path / f"a-idx3-ubyte{suffix}")
  idx.write_idx(path, array)
  out = idx.read_idx(path)
  assert out.dtype == array.dtype and out.shape == array.shape
  np.testing.assert_array_equal(out, array)


def test_header_bytes_are_the_official_layout(tmp_path):
  path = str(tmp_path / "labels-idx1-ubyte")
  idx.write_idx(path, np.array([7, 1, 2], np.uint8))
  assert open(path, "rb").read() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 2])


def test_image_label_pair_is_put_upright(tmp_path):
  upright = np.zeros((1, 28, 28), np.uint8)
  upright[0, 2, :] = 255            # a horizontal stroke near the top
  idx.write_idx(str(tmp_path / "i.gz"), np.swapaxes(upright, 1, 2))  # stored transposed
  idx.write_idx(str(tmp_path / "l.gz"), np.array([3], np.uint8))
  images, labels = idx.read_image_label_pair(str(tmp_path / "i.gz"), str(tmp_path / "l.gz"))
  np.testing.assert_array_equal(images, upright)
  assert labels.dtype == np.int32 and labels.tolist() == [3]


def test_truncated_file_is_rejected(tmp_path):
  path = str(tmp_path / "t-idx3-ubyte")
  idx.write_idx(path, np.ones((10, 28, 28), np.uint8))
  data = open(path, "rb").read()
  open(path, "wb").write(data[:-100])
  with pytest.raises(DataError, match="truncated"):
    idx.read_idx(path)


def test_truncated_gzip_is_rejected(tmp_path):
  path = str(tmp_path / "t.gz")
  idx.write_idx(path, np.ones((100, 28, 28), np.uint8))
  data = open(path, "rb").read()
  open(path, "wb").write(data[: len(data) // 2])
  with pytest.raises(DataError, match="truncated or corrupt"):
    idx.read_idx(path)


def test_wrong_magic_is_rejected(tmp_path):
  path = str(tmp_path / "x.gz")
  with gzip.open(path, "wb") as f:
    f.write(b"PK\x03\x04 this is a zip, not idx")
  with pytest.raises(DataError, match="magic"):
    idx.read_idx(path)


def test_missing_file_and_mismatched_pair(tmp_path):
  with pytest.raises(DataError, match="not found"):
    idx.read_idx(str(tmp_path / "nope.gz"))
  idx.write_idx(str(tmp_path / "i.gz"), np.zeros((3, 28, 28), np.uint8))
  idx.write_idx(str(tmp_path / "l.gz"), np.zeros((4,), np.uint8))
  with pytest.raises(DataError, match="3 images but .* 4 labels"):
    idx.read_image_label_pair(str(tmp_path / "i.gz"), str(tmp_path / "l.gz"))


def test_reads_shared_real_data(shared_emnist):
  images, labels = idx.read_image_label_pair(
      f"{shared_emnist}/emnist-balanced-sample-test-images-idx3-ubyte.gz",
      f"{shared_emnist}/emnist-balanced-sample-test-labels-idx1-ubyte.gz")
  assert images.shape == (304, 28, 28) and images.dtype == np.uint8
  assert labels.min() >= 0 and labels.max() < 47
  # Upright glyphs: ink is centred, background (0) at the borders.
  assert images[:, 0, :].mean() < 5 and images[:, 10:18, 10:18].mean() > 50
