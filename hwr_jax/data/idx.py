"""Reading and writing IDX files (the MNIST/EMNIST format), gzip or raw.

IDX layout: 2 zero bytes, a dtype code, the number of dimensions, one
big-endian uint32 per dimension, then the data in C order.
"""

import gzip
import os
import struct
import zlib

import numpy as np

from hwr_jax.data.errors import DataError

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder(">") if dt.itemsize > 1 else dt: code
          for code, dt in _DTYPES.items()}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
  """Parses the (decompressed) bytes of an IDX file into an array."""
  if len(data) < 4:
    raise DataError(f"{name}: only {len(data)} bytes, not an IDX file.")
  zero, code, ndim = struct.unpack(">HBB", data[:4])
  if zero != 0 or code not in _DTYPES or ndim == 0:
    raise DataError(
        f"{name}: wrong magic number {data[:4].hex()} (expected 0000 + dtype "
        "code + ndim, e.g. 00000803 for images, 00000801 for labels); this is "
        "not an IDX file.")
  header = 4 + 4 * ndim
  if len(data) < header:
    raise DataError(f"{name}: truncated IDX header.")
  shape = struct.unpack(f">{ndim}I", data[4:header])
  dtype = _DTYPES[code]
  expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  if len(data) - header != expected:
    raise DataError(
        f"{name}: header says shape {shape} ({expected} bytes of data) but the "
        f"file holds {len(data) - header}: the file is truncated or corrupt. "
        "Download it again.")
  array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
  return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str) -> np.ndarray:
  """Reads an IDX file (`.gz` compressed or raw) into a numpy array."""
  if not os.path.exists(path):
    raise DataError(f"IDX file not found: {path}")
  try:
    with open(path, "rb") as f:
      raw = f.read()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
  except (OSError, EOFError, zlib.error) as e:
    raise DataError(f"{path}: cannot decompress ({e}); the file is truncated "
                    "or corrupt. Download it again.") from e
  return parse_idx(data, name=path)


def write_idx(path: str, array: np.ndarray) -> None:
  """Writes an array as an IDX file; gzip-compressed when `path` ends in .gz."""
  array = np.asarray(array)
  key = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
  if key not in _CODES:
    raise ValueError(f"IDX cannot store dtype {array.dtype}")
  header = struct.pack(">HBB", 0, _CODES[key], array.ndim)
  header += struct.pack(f">{array.ndim}I", *array.shape)
  data = header + array.astype(key).tobytes()
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "wb") as f:
    f.write(data)


def read_image_label_pair(images_path: str, labels_path: str):
  """Reads EMNIST-style IDX images and labels; returns UPRIGHT uint8 images.

  Every official EMNIST file stores each 28x28 image transposed. This is the
  one place where images are put upright, so everything downstream
  (training, segmentation, word synthesis, plots) sees upright glyphs.
  """
  images = read_idx(images_path)
  labels = read_idx(labels_path)
  if images.ndim != 3 or images.dtype != np.uint8:
    raise DataError(f"{images_path}: expected uint8 images of shape (N, H, W), "
                    f"got {images.dtype} {images.shape}.")
  if labels.ndim != 1:
    raise DataError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}.")
  if len(images) != len(labels):
    raise DataError(f"{images_path} holds {len(images)} images but {labels_path} "
                    f"holds {len(labels)} labels; they do not belong together.")
  return transpose_to_upright(images), labels.astype(np.int32)


def transpose_to_upright(images: np.ndarray) -> np.ndarray:
  """EMNIST stores images transposed; swapping H and W puts them upright."""
  return np.ascontiguousarray(np.swapaxes(images, -1, -2))
