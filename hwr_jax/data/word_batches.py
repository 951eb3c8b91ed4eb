"""Word images batched in a few width buckets (so the jitted step compiles
once per bucket, not once per width), with labels as optax.ctc_loss takes
them. The inputs themselves: `preprocess/word_input.py`."""

import numpy as np

from hwr_jax.preprocess.word_input import InputGeometry, to_input


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
               geometry: InputGeometry, max_label_length: int, prepared: bool = False,
               width: int | None = None) -> dict:
  """Pads images (`prepared`: already model inputs, `word_input.to_input`) to
  one bucket width (`width`, or the narrowest bucket that holds them all);
  labels (char index + 1) right-padded with 0 and a padding mask, as
  optax.ctc_loss takes them."""
  prepared = images if prepared else [to_input(im, geometry) for im in images]
  if width is None:
    width = geometry.bucket(max(p.shape[1] for p in prepared))
  batch_images = np.zeros((len(prepared), prepared[0].shape[0], width), np.uint8)
  lengths = np.zeros(len(prepared), np.int32)
  for i, p in enumerate(prepared):
    w = min(p.shape[1], width)
    batch_images[i, :, :w] = p[:, :w]
    lengths[i] = geometry.frames(w)
  batch = {"image": batch_images, "length": lengths}
  if texts is not None:
    batch.update(encode_labels(texts, charset, max_label_length))
  return batch


def encode_labels(texts: list[str], charset: str, max_label_length: int) -> dict:
  """'label': (B, max_label_length) char index + 1, right-padded with 0, and
  'label_padding': 1.0 where padded, as optax.ctc_loss takes them."""
  labels = np.zeros((len(texts), max_label_length), np.int32)
  for i, text in enumerate(texts):
    codes = [charset.index(c) + 1 for c in text[:max_label_length]]
    labels[i, :len(codes)] = codes
  return {"label": labels, "label_padding": (labels == 0).astype(np.float32)}
