"""Word images -> fixed-height model inputs, batched in a few width buckets
(so the jitted step compiles once per bucket, not once per width)."""

import cv2
import numpy as np

from hwr_jax import segment
from hwr_jax.models.crnn import DOWNSAMPLE, HEIGHT


def prepare(image: np.ndarray, max_width: int, height: int = HEIGHT) -> np.ndarray:
  """Any word image -> (height, w) uint8, ink bright on black, w <= max_width."""
  gray = segment.to_gray(image)
  if segment.ink_is_dark(gray):
    gray = 255 - gray
  lo, hi = segment.quantile(gray, 0.05), gray.max()
  gray = np.clip((gray.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1)), 0, 255)
  # Crop to the ink (plus a small margin) so the text fills the height.
  ys, xs = np.nonzero(gray > 96)
  if len(ys):
    margin = max(2, (ys.max() - ys.min()) // 8)
    gray = gray[max(0, ys.min() - margin):ys.max() + margin + 1,
                max(0, xs.min() - margin):xs.max() + margin + 1]
  width = int(round(gray.shape[1] * height / gray.shape[0]))
  width = int(np.clip(width, DOWNSAMPLE, max_width))
  return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA).astype(np.uint8)


def bucket_width(width: int, buckets) -> int:
  for b in buckets:
    if width <= b:
      return b
  return buckets[-1]


def frames_needed(text: str) -> int:
  """The fewest frames a CTC alignment of `text` has: one per character,
  plus a blank between each pair of equal neighbours."""
  return len(text) + sum(a == b for a, b in zip(text, text[1:]))


def plan_batches(widths: np.ndarray, buckets, batch_size: int,
                 rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
  """One epoch of full batches, each drawn from examples of similar width:
  (example indices, bucket width) pairs in random order. Examples left over
  in a bucket are carried up into the next wider one, so the epoch has
  exactly len(widths) // batch_size batches and little padding."""
  bucket_of = np.searchsorted(np.asarray(buckets), widths)   # first bucket >= width
  bucket_of = np.minimum(bucket_of, len(buckets) - 1)
  order = rng.permutation(len(widths))
  plan, carried = [], np.zeros(0, np.int64)
  for k, bucket in enumerate(buckets):
    pool = np.concatenate([carried, order[bucket_of[order] == k]])
    full = len(pool) // batch_size * batch_size
    plan += [(pool[i:i + batch_size], bucket) for i in range(0, full, batch_size)]
    carried = pool[full:]
  return [plan[i] for i in rng.permutation(len(plan))]


def make_batch(images: list[np.ndarray], texts: list[str] | None, charset: str,
               buckets, max_label_length: int, prepared: bool = False,
               height: int = HEIGHT, width: int | None = None) -> dict:
  """Pads images (`prepared`: already through `prepare`) to one bucket width
  (`width`, or the smallest bucket that holds them all); labels (char index
  + 1) right-padded with 0 and a padding mask, as optax.ctc_loss takes them."""
  prepared = images if prepared else [prepare(im, buckets[-1], height) for im in images]
  if width is None:
    width = bucket_width(max(p.shape[1] for p in prepared), buckets)
  batch_images = np.zeros((len(prepared), prepared[0].shape[0], width), np.uint8)
  lengths = np.zeros(len(prepared), np.int32)
  for i, p in enumerate(prepared):
    w = min(p.shape[1], width)
    batch_images[i, :, :w] = p[:, :w]
    lengths[i] = w // DOWNSAMPLE
  batch = {"image": batch_images, "length": lengths}
  if texts is not None:
    labels = np.zeros((len(texts), max_label_length), np.int32)
    for i, text in enumerate(texts):
      codes = [charset.index(c) + 1 for c in text[:max_label_length]]
      labels[i, :len(codes)] = codes
    batch["label"] = labels
    batch["label_padding"] = (labels == 0).astype(np.float32)
  return batch
