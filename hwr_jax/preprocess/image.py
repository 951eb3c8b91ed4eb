"""Image steps every reader, data source and trainer shares, each in one place:

  to_gray        any OpenCV image (gray, BGR, BGRA; 8 or 16 bit) -> uint8 grey
  ink_is_dark    polarity (the background is the majority)
  ink_mask       binary ink mask, robust to polarity and uneven lighting
  ink_box        the rows and columns that hold ink
  ink_problem    why an image holds nothing to read (or None)
  check_size     refuse images too large to be a word, line or page of text
"""

import cv2
import numpy as np

MAX_PIXELS = 50_000_000
MIN_CONTRAST = 24      # grey levels between paper and the darkest ink, at least
# Ink components per square of the ink's height: handwriting has at most 5.4
# (1,485 IAM words: median 1.2, 99th percentile 4.0), pixel noise 5.8 and
# more (typically 7-27).
MAX_SPECKS_PER_SQUARE = 8


class ImageError(ValueError):
  """The image cannot be read or holds nothing to read."""


def to_gray(image: np.ndarray) -> np.ndarray:
  """Any OpenCV image (gray, BGR, BGRA; 8 or 16 bit) -> uint8 grayscale."""
  if image is None or image.size == 0:
    raise ImageError("empty image")
  if image.dtype == np.uint16:   # 16-bit, or 12-bit in a 16-bit file (scanners)
    image = (image / (16 if image.max() < 4096 else 257)).astype(np.uint8)
  elif image.dtype != np.uint8:
    image = cv2.normalize(image.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
  if image.ndim == 3:
    if image.shape[2] == 4:   # transparent background: composite onto white
      alpha = image[..., 3:4].astype(np.float32) / 255
      image = (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
  return image


def quantile(gray: np.ndarray, q: float) -> float:
  """`np.quantile(gray, q)` (linear interpolation) of a uint8 image, from its
  histogram: the same value, without sorting the pixels."""
  cdf = np.cumsum(np.bincount(gray.ravel(), minlength=256))
  position = q * (cdf[-1] - 1)
  low = int(position)
  below = int(np.searchsorted(cdf, low, side="right"))
  above = int(np.searchsorted(cdf, min(low + 1, cdf[-1] - 1), side="right"))
  return below + (position - low) * (above - below)


def ink_is_dark(gray: np.ndarray) -> bool:
  """Polarity: the background is the majority, so ink is dark when the
  median is brighter than the middle of the range."""
  return quantile(gray, 0.5) > (int(gray.min()) + int(gray.max())) / 2


def ink_mask(gray: np.ndarray) -> np.ndarray:
  """Binary mask (255 = ink) robust to polarity and uneven lighting.

  The background is estimated with a large morphological closing (which
  erases strokes thinner than the kernel) and divided out; Otsu then
  thresholds the flattened image. An image without contrast (blank paper of
  any shade) has no ink.
  """
  if int(gray.max()) - int(gray.min()) < MIN_CONTRAST:
    return np.zeros(gray.shape, np.uint8)
  if not ink_is_dark(gray):
    gray = 255 - gray
  kernel_size = max(15, (gray.shape[0] // 3) | 1)
  kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
  background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel).astype(np.float32)
  flat = np.clip(gray.astype(np.float32) / np.maximum(background, 1) * 255, 0, 255).astype(np.uint8)
  flat = cv2.GaussianBlur(flat, (3, 3), 0)
  threshold, mask = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
  # Otsu on an ink-free image splits noise; demand real contrast. (Tight
  # crops of '.' or ',' are up to ~70 % ink: more than that is no ink.)
  if threshold > 235 or (flat < threshold).mean() > 0.75:
    return np.zeros_like(mask)
  return mask


def ink_problem(gray: np.ndarray, max_height: int = 48) -> str | None:
  """Why `gray` holds nothing to read (no ink; or only noise: too many
  specks for handwriting), or None. Looks at a copy at most `max_height`
  pixels high: the word reader sees 24-32 rows, and the closing in
  `ink_mask` costs in proportion to the image's area."""
  if gray.shape[0] > max_height:
    width = max(1, int(round(gray.shape[1] * max_height / gray.shape[0])))
    gray = cv2.resize(gray, (width, max_height), interpolation=cv2.INTER_AREA)
  mask = ink_mask(gray)
  if not mask.any():
    return "no ink found (blank or nearly uniform image)"
  rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
  height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
  specks = cv2.connectedComponents(mask, connectivity=8)[0] - 1
  if specks / max(1.0, width / height) > MAX_SPECKS_PER_SQUARE:
    return (f"no handwriting found: {specks} specks of ink, as in pixel noise, not strokes "
            "(a noisy scan or photo: crop it to the text, or clean it)")
  return None


def has_ink(gray: np.ndarray, max_height: int = 48) -> bool:
  """Whether there is something to read (`ink_problem` finds nothing wrong)."""
  return ink_problem(gray, max_height) is None


def ink_box(bright: np.ndarray, threshold: float) -> tuple[int, int, int, int] | None:
  """(y0, y1, x0, x1), exclusive ends, of the pixels of a bright-ink image
  above `threshold`; None when there are none."""
  rows = np.flatnonzero((bright > threshold).any(1))
  if not len(rows):
    return None
  cols = np.flatnonzero((bright > threshold).any(0))
  return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def check_size(gray: np.ndarray) -> None:
  """ImageError for an image over MAX_PIXELS (no handwriting needs it)."""
  if gray.size > MAX_PIXELS:
    raise ImageError(f"image of {gray.shape[1]}x{gray.shape[0]} pixels is too large "
                     f"(over {MAX_PIXELS // 1_000_000} MP); crop it to the text")
