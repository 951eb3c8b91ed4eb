"""Drawn input is not scanned input: a canvas holds thin strokes of one width
on a large, mostly empty area. `normalize_drawing` makes it look like what
the readers trained on: cropped to the ink with a margin, scaled to a fixed
text height, strokes thickened or thinned to a set share of that height,
dark ink on white paper.
"""

import cv2
import numpy as np

from hwr_jax.preprocess import image as image_steps

TEXT_HEIGHT = 120          # pixels from the top to the bottom of the ink
# Stroke width as a share of the ink's height, medians measured with
# `stroke_width`: EMNIST glyphs 0.16 (400 dev images, 112 px), IAM words 0.11
# (72 words prepared at 64 px); a canvas drawing of a character, ~0.08.
STROKE_SHARE = {"segment": 0.16, "crnn": 0.11}


def stroke_width(mask: np.ndarray) -> float:
  """Typical stroke width of a binary mask (255 = ink): the distance
  transform inside a stroke of width w averages about w / 4."""
  distance = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3)
  inside = distance[mask > 0]
  return 4.0 * float(inside.mean()) if inside.size else 0.0


def normalize_drawing(image: np.ndarray, stroke_share: float = STROKE_SHARE["segment"]
                      ) -> np.ndarray:
  """A canvas drawing (any size; RGBA with a transparent background, or gray
  / RGB; ink darker than the paper) -> grayscale, dark ink on white, the ink
  TEXT_HEIGHT px high with strokes `stroke_share` of that. An empty canvas
  comes back white (the readers then say there is no ink)."""
  gray = image_steps.to_gray(image)
  if not image_steps.has_ink(gray):
    return np.full((TEXT_HEIGHT, TEXT_HEIGHT), 255, np.uint8)
  if not image_steps.ink_is_dark(gray):
    gray = 255 - gray
  mask = np.where(gray < (int(gray.min()) + int(gray.max())) / 2, 255, 0).astype(np.uint8)
  y0, y1, x0, x1 = image_steps.ink_box(mask, 0)
  mask = mask[y0:y1, x0:x1]
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


def thin(mask: np.ndarray) -> np.ndarray:
  """Zhang-Suen thinning of a boolean mask to one-pixel-wide connected
  strokes (vectorized: each pass looks at all pixels' 8 neighbours at once)."""
  image = np.pad(mask.astype(bool), 1)
  while True:
    changed = False
    for step in (0, 1):
      p = image
      # neighbours P2..P9, clockwise from north
      n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2],
           p[1:-1, :-2], p[:-2, :-2]]
      count = sum(x.astype(np.int8) for x in n)
      transitions = sum((~a & b).astype(np.int8) for a, b in zip(n, n[1:] + n[:1]))
      p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
      if step == 0:
        keep_rule = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
      else:
        keep_rule = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
      delete = p[1:-1, 1:-1] & (count >= 2) & (count <= 6) & (transitions == 1) & keep_rule
      if delete.any():
        image = image.copy()
        image[1:-1, 1:-1] &= ~delete
        changed = True
    if not changed:
      return image[1:-1, 1:-1]


def glyph_as_drawing(glyph: np.ndarray, rng: np.random.Generator,
                     canvas: tuple[int, int] = (900, 300), brush: int = 8) -> np.ndarray:
  """What a person drawing `glyph` (28x28, ink bright, upright) on the canvas
  of `hwr-demo` would send: its skeleton, scaled to 40-80 % of the canvas
  height at a random place, traced with a round brush `brush` px wide, black
  on white. For measuring the readers on drawn input."""
  size = 112
  mask = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_LINEAR) > 100
  skeleton = thin(mask).astype(np.uint8) * 255
  height = int(rng.uniform(0.4, 0.8) * canvas[1])
  traced = cv2.resize(skeleton, (height, height), interpolation=cv2.INTER_NEAREST)
  traced = cv2.dilate(traced, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (brush, brush)))
  page = np.full((canvas[1], canvas[0]), 255, np.uint8)
  x = int(rng.integers(0, canvas[0] - height))
  y = int(rng.integers(0, canvas[1] - height))
  page[y:y + height, x:x + height][traced > 0] = 0
  return page
