"""Word images -> fixed-height model inputs, batched in a few width buckets
(so the jitted step compiles once per bucket, not once per width)."""

import cv2
import numpy as np

from hwr_jax import segment
from hwr_jax.models.crnn import DOWNSAMPLE, HEIGHT


def prepare(image: np.ndarray, max_width: int) -> np.ndarray:
  """Any word image -> (HEIGHT, w) uint8, ink bright on black, w <= max_width."""
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
  width = int(round(gray.shape[1] * HEIGHT / gray.shape[0]))
  width = int(np.clip(width, DOWNSAMPLE, max_width))
  return cv2.resize(gray, (width, HEIGHT), interpolation=cv2.INTER_AREA).astype(np.uint8)


def bucket_width(width: int, buckets) -> int:
  for b in buckets:
    if width <= b:
      return b
  return buckets[-1]


def make_batch(images: list[np.ndarray], texts: list[str] | None, charset: str,
               buckets, max_label_length: int, prepared: bool = False) -> dict:
  """Pads images (`prepared`: already through `prepare`) to one bucket width;
  labels (char index + 1) right-padded with 0 and a padding mask, as
  optax.ctc_loss takes them."""
  prepared = images if prepared else [prepare(im, buckets[-1]) for im in images]
  width = bucket_width(max(p.shape[1] for p in prepared), buckets)
  batch_images = np.zeros((len(prepared), HEIGHT, width), np.uint8)
  lengths = np.zeros(len(prepared), np.int32)
  for i, p in enumerate(prepared):
    batch_images[i, :, :p.shape[1]] = p
    lengths[i] = p.shape[1] // DOWNSAMPLE
  batch = {"image": batch_images, "length": lengths}
  if texts is not None:
    labels = np.zeros((len(texts), max_label_length), np.int32)
    for i, text in enumerate(texts):
      codes = [charset.index(c) + 1 for c in text[:max_label_length]]
      labels[i, :len(codes)] = codes
    batch["label"] = labels
    batch["label_padding"] = (labels == 0).astype(np.float32)
  return batch
