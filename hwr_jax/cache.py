"""The user's cache folder: JAX's compiled programs and derived resources
(word lists, language models, lexicon tries) that are slow to rebuild.

Location: $HWR_JAX_CACHE_DIR, else $XDG_CACHE_HOME/hwr-jax, else ~/.cache/hwr-jax.
Everything in it can be deleted at any time; it is rebuilt on demand.
"""

import hashlib
import os
import pickle
import tempfile


def cache_dir() -> str:
  path = os.environ.get("HWR_JAX_CACHE_DIR")
  if not path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "hwr-jax")
  return path


def file_stamp(path: str):
  """(size, mtime in ns) of a file, for cache keys; None when it is missing."""
  try:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns
  except OSError:
    return None


def _digest(key) -> str:
  return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


def cached(name: str, key, build):
  """`build()`, pickled under the cache folder as `name-<hash of key>.pkl` and
  loaded from there next time. `key` must name everything the result depends
  on (e.g. versions, sizes, a file's size and mtime). An unusable cache folder
  (read-only, full) only costs the rebuild."""
  path = os.path.join(cache_dir(), f"{name}-{_digest(key)}.pkl")
  try:
    with open(path, "rb") as f:
      return pickle.load(f)
  except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
    pass
  value = build()
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=os.path.dirname(path), delete=False) as f:
      pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(f.name, path)   # atomic: a reader never sees half a file
  except OSError:
    pass
  return value


def cached_files(name: str, key, build):
  """Files written once under the cache folder: `build(folder)` writes them
  into `name/<hash of key>/` (skipping those already there) and returns a
  listing of them, kept as `cached` keeps a value. When files were deleted
  under a kept listing (the folder, or its marker of completion, is gone),
  they are built again."""
  folder = os.path.join(cache_dir(), name, _digest(key))
  marker = os.path.join(folder, ".complete")

  def build_here():
    os.makedirs(folder, exist_ok=True)
    listing = build(folder)
    open(marker, "w").close()
    return listing

  listing = cached(name, key, build_here)
  if listing and not os.path.exists(marker):
    return build_here()
  return listing
