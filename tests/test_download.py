"""Downloads from a loopback HTTP server the test starts: complete, resumed
after a dropped connection or a killed process, a checksum mismatch, no
network; then the EMNIST and MNIST sources downloading their files, and a
short training run on a downloaded split (Letters, with its 1-based labels)."""

import hashlib
import http.server
import io
import socket
import threading
import zipfile

import numpy as np
import pytest

from hwr_jax.data import checksums, download, idx, labels as label_maps, mnist, nist, sources
from hwr_jax.data.errors import DataError


class Server:
  """Serves `files` (name -> bytes) on 127.0.0.1 with HTTP range requests;
  `drop_after[name] = n`: the first answer for that file stops after n bytes."""

  def __init__(self):
    self.files, self.drop_after, self.requests = {}, {}, []
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def do_GET(self):
        name = self.path.lstrip("/")
        server.requests.append((name, self.headers.get("Range")))
        if name not in server.files:
          self.send_error(404)
          return
        data, start = server.files[name], 0
        if self.headers.get("Range"):
          start = int(self.headers["Range"].split("=")[1].split("-")[0])
          self.send_response(206)
          self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
          self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = server.drop_after.pop(name, None)
        self.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
          self.wfile.flush()
          self.connection.shutdown(socket.SHUT_RDWR)   # the connection drops midway

      def log_message(self, *args):
        pass

    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
    threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

  def close(self):
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def server():
  s = Server()
  yield s
  s.close()


def encode_idx(array) -> bytes:
  """The bytes of `array` as a gzip-compressed IDX file."""
  import os
  import tempfile
  with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "a.gz")
    idx.write_idx(path, array)
    return open(path, "rb").read()


def checksum(data: bytes):
  return hashlib.sha256(data).hexdigest(), len(data)


PAYLOAD = np.random.default_rng(0).bytes(300_000)


def test_complete_download_is_verified_and_atomic(server, tmp_path):
  server.files["f.bin"] = PAYLOAD
  path = download.download(server.url + "f.bin", str(tmp_path / "f.bin"), *checksum(PAYLOAD),
                           progress=False)
  assert open(path, "rb").read() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
  download.download(server.url + "f.bin", path, *checksum(PAYLOAD), progress=False)
  assert len(server.requests) == 1                 # a verified file is not fetched again


def test_dropped_connection_resumes_with_a_range_request(server, tmp_path):
  server.files["f.bin"] = PAYLOAD
  server.drop_after["f.bin"] = 100_000
  path = download.download(server.url + "f.bin", str(tmp_path / "f.bin"), *checksum(PAYLOAD),
                           progress=False)
  assert open(path, "rb").read() == PAYLOAD
  assert server.requests == [("f.bin", None), ("f.bin", "bytes=100000-")]


def test_a_killed_download_resumes_from_its_part_file(server, tmp_path):
  server.files["f.bin"] = PAYLOAD
  (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:123_456])   # what a killed process left
  download.download(server.url + "f.bin", str(tmp_path / "f.bin"), *checksum(PAYLOAD),
                    progress=False)
  assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
  assert server.requests == [("f.bin", "bytes=123456-")]


def test_checksum_mismatch_deletes_the_file_and_says_so(server, tmp_path):
  server.files["f.bin"] = b"x" * len(PAYLOAD)      # right size, wrong content
  with pytest.raises(DataError, match="(?s)sha256 mismatch.*deleted.*by hand"):
    download.download(server.url + "f.bin", str(tmp_path / "f.bin"), *checksum(PAYLOAD),
                      progress=False, manual="Get it by hand from the mirror.")
  assert list(tmp_path.iterdir()) == []


def test_no_network_is_a_clear_error(tmp_path):
  closed = socket.socket()
  closed.bind(("127.0.0.1", 0))
  port = closed.getsockname()[1]
  closed.close()                                  # nothing listens there now
  with pytest.raises(DataError, match=f"Cannot reach http://127.0.0.1:{port}/f.bin.*no network"):
    download.download(f"http://127.0.0.1:{port}/f.bin", str(tmp_path / "f.bin"),
                      *checksum(PAYLOAD), progress=False)


def test_server_errors_are_reported(server, tmp_path):
  with pytest.raises(DataError, match="HTTP 404"):
    download.download(server.url + "missing.bin", str(tmp_path / "f.bin"), *checksum(PAYLOAD),
                      progress=False)


def test_label_spaces_of_every_split():
  sizes = {"byclass": 62, "bymerge": 47, "balanced": 47, "letters": 26, "digits": 10,
           "mnist": 10}
  assert {name: len(label_maps.charset(name)) for name in nist.SPLITS} == sizes
  assert label_maps.charset("letters") == "abcdefghijklmnopqrstuvwxyz"


def emnist_zip(split: str, n: int, labels_from: int, num_classes: int):
  """NIST's gzip.zip layout holding one split's four files; returns the zip
  and the official-checksum table extended with those files."""
  rng = np.random.default_rng(1)
  table, buffer, arrays = dict(checksums.OFFICIAL_FILES), io.BytesIO(), {}
  with zipfile.ZipFile(buffer, "w") as archive:
    for subset in ("train", "test"):
      images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
      labels = (np.arange(n) % num_classes + labels_from).astype(np.uint8)
      for i, k in enumerate(labels - labels_from):   # a learnable bar per class
        row = 2 + int(k)
        images[i, 4:24, row:row + 2] = 255           # stored transposed, like EMNIST
      arrays[subset] = (images, labels)
      for name, array in zip(nist.file_names(split, subset), (images, labels)):
        data = encode_idx(array)
        table[name] = checksum(data)
        archive.writestr(f"gzip/{name}", data)
  return buffer.getvalue(), table


def test_emnist_letters_downloads_and_trains(server, tmp_path, monkeypatch):
  from configs import letters
  from hwr_jax.training import classifier
  archive, table = emnist_zip("letters", 256, labels_from=1, num_classes=26)
  server.files["gzip.zip"] = archive
  server.drop_after["gzip.zip"] = len(archive) // 2
  monkeypatch.setattr(nist, "NIST_URL", server.url + "gzip.zip")
  monkeypatch.setattr(nist, "GZIP_ZIP", checksum(archive))
  monkeypatch.setattr(nist, "OFFICIAL_FILES", table)
  config = letters.get_config()
  config.data.nist_dir = str(tmp_path / "emnist")
  config.data.download = False
  with pytest.raises(DataError, match="download=True"):
    sources.load(config.data)
  config.data.download = True
  splits = sources.load(config.data)
  assert (tmp_path / "emnist" / "gzip.zip").read_bytes() == archive
  assert splits.num_classes == 26 and splits.train[1].min() == 0 and splits.test[1].max() == 25
  assert [r for _, r in server.requests] == [None, f"bytes={len(archive) // 2}-"]
  config.update(batch_size=32, eval_batch_size=64, num_epochs=3, learning_rate=3e-3)
  config.augment.enabled = False
  record = classifier.train_and_evaluate(config, str(tmp_path / "run"))
  assert record["accuracy"] > 0.8             # test split; 26 classes: chance is 0.04


def test_mnist_downloads_its_four_files(server, tmp_path, monkeypatch):
  table = {}
  for name, (subset, n) in {"train-images-idx3-ubyte.gz": ("train", 40),
                            "train-labels-idx1-ubyte.gz": ("train", 40),
                            "t10k-images-idx3-ubyte.gz": ("test", 10),
                            "t10k-labels-idx1-ubyte.gz": ("test", 10)}.items():
    array = (np.arange(n * 784).reshape(n, 28, 28) % 251).astype(np.uint8) \
        if "images" in name else (np.arange(n) % 10).astype(np.uint8)
    server.files[name] = encode_idx(array)
    table[name] = checksum(server.files[name])
  monkeypatch.setattr(mnist, "MNIST_URL", server.url)
  monkeypatch.setattr(mnist, "MNIST_FILES", table)
  with pytest.raises(DataError, match="not found.*by hand"):
    mnist.load_split(str(tmp_path), "train", fetch=False)
  images, labels = mnist.load_split(str(tmp_path), "train")
  assert images.shape == (40, 28, 28) and labels.tolist()[:12] == [*range(10), 0, 1]
  assert images[0, 0, 1] == 1                      # upright as stored: not transposed
  assert len(server.requests) == 2
