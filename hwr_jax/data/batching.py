"""Batches from in-memory arrays: shuffled training epochs, padded eval batches,
and a background prefetcher so the device never waits for the host.
"""

import queue
import threading
from typing import Iterator

import numpy as np


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The example order of one epoch; a function of (seed, epoch) only, so a
  resumed run sees exactly the batches it would have seen."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def train_batches(images: np.ndarray, labels: np.ndarray, batch_size: int,
                  seed: int, epoch: int, shard_index: int = 0,
                  num_shards: int = 1, start: int = 0) -> Iterator[dict]:
  """Full batches of one shuffled epoch (the remainder is dropped, so every
  batch has the same shape and the step never recompiles), from batch
  `start` on. With several hosts, each yields its own `batch_size //
  num_shards` slice of every global batch."""
  order = epoch_permutation(len(images), seed, epoch)
  local = batch_size // num_shards
  for start in range(start * batch_size, len(order) - batch_size + 1, batch_size):
    # In epoch order (not sorted), so 1 or N hosts make the same global batch.
    idx = order[start + shard_index * local: start + (shard_index + 1) * local]
    yield {"image": images[idx], "label": labels[idx]}


def eval_batches(images: np.ndarray, labels: np.ndarray, batch_size: int,
                 shard_index: int = 0, num_shards: int = 1) -> Iterator[dict]:
  """Every example once, in order; the last batch is padded to full size and
  `mask` marks the real examples."""
  local = batch_size // num_shards
  for start in range(0, len(images), batch_size):
    lo = min(start + shard_index * local, len(images))
    hi = min(lo + local, len(images), start + batch_size)
    n = hi - lo
    image = np.zeros((local,) + images.shape[1:], images.dtype)
    label = np.zeros((local,), labels.dtype)
    image[:n], label[:n] = images[lo:hi], labels[lo:hi]
    yield {"image": image, "label": label, "mask": np.arange(local) < n}


def num_train_steps(num_examples: int, batch_size: int) -> int:
  return num_examples // batch_size


def prefetch(iterator: Iterator, transfer, size: int = 2) -> Iterator:
  """Runs `transfer(next(iterator))` in a background thread, `size` items ahead."""
  q: queue.Queue = queue.Queue(maxsize=size)
  sentinel = object()
  stop = threading.Event()

  def worker():
    try:
      for item in iterator:
        if stop.is_set():
          return
        q.put(transfer(item))
    except BaseException as e:  # surfaced in the consumer
      q.put(e)
      return
    q.put(sentinel)

  thread = threading.Thread(target=worker, daemon=True)
  thread.start()
  try:
    while True:
      item = q.get()
      if item is sentinel:
        return
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    stop.set()
    while thread.is_alive():  # unblock a worker stuck on a full queue
      try:
        q.get_nowait()
      except queue.Empty:
        thread.join(timeout=0.05)
