"""The official EMNIST files from NIST, read from a local folder, and
downloaded into it when they are not there.

The folder may hold the IDX `.gz` files themselves (as extracted from NIST's
`gzip.zip`, optionally inside its `gzip/` subfolder) or `gzip.zip` as
downloaded. Every file is checked against its official sha256 before use.
When none of them is there, `gzip.zip` (562 MB) is downloaded into the folder
(`download.py`: progress bar, resumable, verified, atomic).
"""

import gzip
import hashlib
import os
import zipfile

from hwr_jax.data import download as downloader, idx
from hwr_jax.data.checksums import GZIP_ZIP, OFFICIAL_FILES
from hwr_jax.data.errors import DataError

NIST_URL = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
SPLITS = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")


def file_names(emnist_split: str, subset: str) -> tuple[str, str]:
  """Official (images, labels) file names, e.g. ('emnist-balanced-train-images-idx3-ubyte.gz', ...)."""
  return (f"emnist-{emnist_split}-{subset}-images-idx3-ubyte.gz",
          f"emnist-{emnist_split}-{subset}-labels-idx1-ubyte.gz")


def missing_data_message(emnist_split: str, nist_dir: str) -> str:
  images, labels = file_names(emnist_split, "train")
  return (
      f"No EMNIST '{emnist_split}' data found in {os.path.abspath(nist_dir)}.\n"
      f"To fix, do one of:\n"
      f"  1. Let hwr-jax download it (--config.data.download=True, the default, on a "
      f"machine with internet), or download NIST's {NIST_URL} (about 562 MB) and put gzip.zip into "
      f"{nist_dir}/ (it is read as is), or put the files {images}, {labels} and "
      f"their -test- counterparts there; or pass --config.data.nist_dir=FOLDER.\n"
      f"  2. On a machine with internet, use TFDS: --config.data.source=tfds "
      f"(needs `pip install -r requirements-tfds.txt`).\n"
      f"  3. Train on any IDX image/label files: --config.data.source=idx "
      f"--config.data.train_images=... --config.data.train_labels=... "
      f"(see configs/dev_byclass.py).")


def verify_bytes(name: str, data: bytes, where: str) -> None:
  """Raises DataError unless `data` is the official file `name`."""
  if name not in OFFICIAL_FILES:
    return
  sha, size = OFFICIAL_FILES[name]
  if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
    raise DataError(
        f"{where}: {name} is not the official file (size {len(data)} bytes, "
        f"expected {size}; sha256 mismatch). It is truncated, corrupt or from "
        f"another release: delete it and download {NIST_URL} again.")


def _read_member(nist_dir: str, name: str) -> bytes | None:
  for path in (os.path.join(nist_dir, name), os.path.join(nist_dir, "gzip", name)):
    if os.path.exists(path):
      with open(path, "rb") as f:
        data = f.read()
      verify_bytes(name, data, path)
      return data
  zip_path = os.path.join(nist_dir, "gzip.zip")
  if os.path.exists(zip_path):
    try:
      with zipfile.ZipFile(zip_path) as archive:
        members = {os.path.basename(m): m for m in archive.namelist()}
        if name not in members:
          return None
        data = archive.read(members[name])
    except (zipfile.BadZipFile, OSError, EOFError) as e:
      raise DataError(f"{zip_path}: not a readable zip archive ({e}). It is "
                      f"truncated or corrupt: download {NIST_URL} again.") from e
    verify_bytes(name, data, zip_path)
    return data
  return None


def download_archive(nist_dir: str) -> str:
  """NIST's gzip.zip, downloaded into `nist_dir` (unless a verified copy is there)."""
  return downloader.download(
      NIST_URL, os.path.join(nist_dir, "gzip.zip"), *GZIP_ZIP,
      manual=f"To get it by hand: download {NIST_URL} with a browser and put gzip.zip into "
             f"{os.path.abspath(nist_dir)}/ (or use --config.data.source=tfds).")


def load_split(nist_dir: str, emnist_split: str, subset: str, download: bool = False):
  """Loads ('train' | 'test') of an official EMNIST split as upright images and
  labels from 0 (EMNIST Letters numbers its classes from 1: shifted here).
  `download`: fetch NIST's gzip.zip into `nist_dir` when the files are absent."""
  if emnist_split not in SPLITS:
    raise DataError(f"Unknown EMNIST split {emnist_split!r}; choose from {', '.join(SPLITS)}.")
  nist_dir = os.path.expanduser(nist_dir)
  arrays = []
  for name in file_names(emnist_split, subset):
    data = _read_member(nist_dir, name)
    if data is None and download:
      print(f"EMNIST '{emnist_split}' is not in {os.path.abspath(nist_dir)}: downloading "
            f"{NIST_URL} (562 MB) there; --config.data.download=False turns this off.")
      download_archive(nist_dir)
      data = _read_member(nist_dir, name)
    if data is None:
      raise DataError(missing_data_message(emnist_split, nist_dir))
    arrays.append(_parse_gz(data, name))
  images, labels = arrays
  if images.ndim != 3 or len(images) != len(labels):
    raise DataError(f"{emnist_split}/{subset}: images {images.shape} and labels "
                    f"{labels.shape} do not match.")
  labels = labels.astype("int32") - (1 if emnist_split == "letters" else 0)
  return idx.transpose_to_upright(images), labels


def _parse_gz(data: bytes, name: str):
  try:
    return idx.parse_idx(gzip.decompress(data), name)
  except (OSError, EOFError) as e:
    raise DataError(f"{name}: cannot decompress ({e}).") from e

