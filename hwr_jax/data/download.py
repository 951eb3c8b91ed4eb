"""Downloading a data file: resumable, verified, atomic.

  download(url, path, sha256, size)

Bytes go to `path + ".part"`; an interrupted download (dropped connection,
Ctrl-C, a killed process) resumes from there with an HTTP range request, the
next time it is asked for. Only a file whose size and sha256 match is renamed
to `path` (atomically), so a file at `path` is always complete and verified;
a mismatch deletes the partial file and says so.
"""

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request

from hwr_jax.data.errors import DataError

CHUNK = 1 << 20


def sha256_of(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(CHUNK), b""):
      digest.update(block)
  return digest.hexdigest()


def download(url: str, path: str, sha256: str, size: int, *, attempts: int = 5,
             timeout: float = 60.0, progress: bool = True, manual: str = "") -> str:
  """Fetches `url` to `path` unless a verified copy is there; returns `path`.
  Resumes a partial download; retries a dropped connection up to `attempts`
  times in all (each resuming where the last stopped). `manual`: how to get
  the file by hand, added to every error message."""
  if os.path.exists(path) and os.path.getsize(path) == size and sha256_of(path) == sha256:
    return path
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  part = path + ".part"
  hint = f"\n{manual}" if manual else ""
  last_error = None
  for _ in range(attempts):
    have = os.path.getsize(part) if os.path.exists(part) else 0
    if have >= size:
      break
    try:
      _fetch(url, part, have, size, timeout, progress)
      break
    except urllib.error.HTTPError as e:
      raise DataError(f"Downloading {url} failed: the server answered HTTP {e.code} "
                      f"({e.reason}).{hint}") from None
    except urllib.error.URLError as e:   # no connection at all: retrying won't help
      kept = (f" {have:,} of {size:,} bytes are kept in {part}; run the same command again "
              "to resume." if have else "")
      raise DataError(f"Cannot reach {url} ({e.reason}): no network, or the server is "
                      f"down.{kept}{hint}") from None
    except (http.client.HTTPException, OSError) as e:   # dropped midway: resume
      last_error = e
  else:
    got = os.path.getsize(part) if os.path.exists(part) else 0
    raise DataError(f"Downloading {url} broke off {attempts} times ({last_error}); "
                    f"{got:,} of {size:,} bytes are kept in {part}. Run the same command "
                    f"again to resume.{hint}")
  got = os.path.getsize(part)
  if got != size or sha256_of(part) != sha256:
    os.remove(part)
    raise DataError(f"{url}: the downloaded file is not the expected one ({got:,} bytes, "
                    f"expected {size:,}; sha256 mismatch); it was deleted. The server sent "
                    f"other content (a proxy's error page, a new release?).{hint}")
  os.replace(part, path)
  return path


def _fetch(url: str, part: str, have: int, size: int, timeout: float, progress: bool) -> None:
  """Appends the bytes from offset `have` on to `part` (all of them when the
  server ignores the range request)."""
  from tqdm import tqdm
  request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
  with urllib.request.urlopen(request, timeout=timeout) as response:
    if have and response.status != 206:      # no range support: start over
      have = 0
    with open(part, "ab" if have else "wb") as f, tqdm(
        total=size, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
        desc=os.path.basename(part[:-5]), disable=not progress, leave=False) as bar:
      while True:
        try:
          block = response.read(CHUNK)
        except (socket.timeout, http.client.IncompleteRead, ConnectionError) as e:
          raise OSError(f"connection dropped: {e}") from None
        if not block:
          break
        f.write(block)
        bar.update(len(block))
  if os.path.getsize(part) < size:
    raise OSError(f"connection closed after {os.path.getsize(part):,} of {size:,} bytes")
