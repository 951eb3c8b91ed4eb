"""Drawn input is not scanned input: a canvas holds thin strokes of one width
on a large, mostly empty area. `normalize_drawing` makes it look like what
the readers trained on: cropped to the ink with a margin, scaled to a fixed
text height, strokes thickened or thinned to a set share of that height,
dark ink on white paper.
"""

import cv2
import numpy as np

from hwr_jax import segment

TEXT_HEIGHT = 120          # pixels from the top to the bottom of the ink
# Stroke width as a share of the text height: EMNIST's glyphs (NIST's pen on
# 128 px boxes) are about 0.1; IAM's words about 0.06.
STROKE_SHARE = {"segment": 0.1, "crnn": 0.06}


def stroke_width(mask: np.ndarray) -> float:
  """Typical stroke width of a binary mask (255 = ink): the distance
  transform inside a stroke of width w averages about w / 4."""
  distance = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3)
  inside = distance[mask > 0]
  return 4.0 * float(inside.mean()) if inside.size else 0.0


def normalize_drawing(image: np.ndarray, stroke_share: float = 0.1) -> np.ndarray:
  """A canvas drawing (any size; RGBA with a transparent background, or gray
  / RGB; ink darker than the paper) -> grayscale, dark ink on white, the ink
  TEXT_HEIGHT px high with strokes `stroke_share` of that. An empty canvas
  comes back white (the readers then say there is no ink)."""
  gray = segment.to_gray(image)
  if not segment.has_ink(gray):
    return np.full((TEXT_HEIGHT, TEXT_HEIGHT), 255, np.uint8)
  if not segment.ink_is_dark(gray):
    gray = 255 - gray
  mask = np.where(gray < (int(gray.min()) + int(gray.max())) / 2, 255, 0).astype(np.uint8)
  ys, xs = np.nonzero(mask)
  mask = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
  scale = TEXT_HEIGHT / mask.shape[0]
  width = max(1, int(round(mask.shape[1] * scale)))
  mask = cv2.resize(mask, (width, TEXT_HEIGHT), interpolation=cv2.INTER_AREA)
  mask = np.where(mask > 96, 255, 0).astype(np.uint8)
  change = stroke_share * TEXT_HEIGHT - stroke_width(mask)
  if abs(change) >= 2:
    size = int(round(abs(change))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    mask = cv2.dilate(mask, kernel) if change > 0 else cv2.erode(mask, kernel)
  margin = TEXT_HEIGHT // 5
  mask = cv2.copyMakeBorder(mask, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
  return 255 - cv2.GaussianBlur(mask, (0, 0), 1.0)
