import hashlib
import os
import shutil
import zipfile

import numpy as np
import pytest

from hwr_jax.data import checksums, idx, nist
from hwr_jax.data.errors import DataError


def test_shipped_checksums_match_the_official_list(shared_emnist):
  listed = {}
  for line in open(os.path.join(shared_emnist, "OFFICIAL-SHA256.txt")):
    if line.strip() and not line.startswith("#"):
      sha, size, name = line.split()
      listed[name] = (sha, int(size))
  assert listed == checksums.OFFICIAL_FILES


@pytest.fixture
def official_like(tmp_path, monkeypatch):
  """Writes emnist-balanced-{train,test} files and registers their sha256 as
  'official', so the real verification code runs on small files."""
  folder = tmp_path / "emnist"
  folder.mkdir()
  rng = np.random.default_rng(0)
  table = dict(checksums.OFFICIAL_FILES)
  arrays = {}
  for subset, n in (("train", 50), ("test", 20)):
    images = rng.integers(0, 255, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 47, n).astype(np.uint8)
    arrays[subset] = (images, labels)
    for name, array in zip(nist.file_names("balanced", subset), (images, labels)):
      idx.write_idx(str(folder / name), array)
      data = (folder / name).read_bytes()
      table[name] = (hashlib.sha256(data).hexdigest(), len(data))
  monkeypatch.setattr(nist, "OFFICIAL_FILES", table)
  return folder, arrays


def test_loads_verified_files_from_a_folder(official_like):
  folder, arrays = official_like
  images, labels = nist.load_split(str(folder), "balanced", "train")
  np.testing.assert_array_equal(images, np.swapaxes(arrays["train"][0], 1, 2))
  np.testing.assert_array_equal(labels, arrays["train"][1])


def test_loads_from_gzip_zip_as_downloaded(official_like, tmp_path):
  folder, arrays = official_like
  zip_dir = tmp_path / "zipped"
  zip_dir.mkdir()
  with zipfile.ZipFile(zip_dir / "gzip.zip", "w") as archive:
    for name in os.listdir(folder):
      archive.write(folder / name, f"gzip/{name}")  # NIST's layout inside the zip
  images, labels = nist.load_split(str(zip_dir), "balanced", "test")
  assert images.shape == (20, 28, 28)
  np.testing.assert_array_equal(labels, arrays["test"][1])


def test_loads_from_extracted_gzip_subfolder(official_like, tmp_path):
  folder, _ = official_like
  shutil.copytree(folder, tmp_path / "root" / "gzip")
  images, _ = nist.load_split(str(tmp_path / "root"), "balanced", "train")
  assert images.shape == (50, 28, 28)


def test_wrong_checksum_is_rejected(official_like):
  folder, _ = official_like
  path = folder / nist.file_names("balanced", "train")[1]
  data = bytearray(path.read_bytes())
  data[-1] ^= 0xFF                      # one flipped byte, same size
  path.write_bytes(bytes(data))
  with pytest.raises(DataError, match="not the official file.*sha256 mismatch"):
    nist.load_split(str(folder), "balanced", "train")


def test_corrupt_zip_is_rejected(tmp_path):
  (tmp_path / "gzip.zip").write_bytes(b"PK\x03\x04 truncated download")
  with pytest.raises(DataError, match="not a readable zip"):
    nist.load_split(str(tmp_path), "balanced", "train")


def test_missing_data_says_what_to_download(tmp_path):
  with pytest.raises(DataError) as error:
    nist.load_split(str(tmp_path), "byclass", "train")
  message = str(error.value)
  assert nist.NIST_URL in message
  assert "emnist-byclass-train-images-idx3-ubyte.gz" in message
  assert "--config.data.source=tfds" in message
