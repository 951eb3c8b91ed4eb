"""Cutting a word or line image into EMNIST-like 28x28 character crops (what
the segmentation reader classifies).

Each stage is a small function that can be tested alone:
  to_gray -> ink_mask (`image.py`) (polarity, uneven lighting, Otsu) -> remove_specks ->
  character_boxes (connected components, dots and broken strokes merged) ->
  split_wide_boxes (touching characters, vertical-projection valleys) ->
  left-to-right order, spaces from gap statistics -> emnist_crop.
"""

import dataclasses

import cv2
import numpy as np

from hwr_jax.preprocess.image import ImageError, check_size, ink_mask, ink_problem, to_gray

Box = tuple[int, int, int, int]   # x0, y0, x1, y1 (exclusive)

WORKING_HEIGHT = 160   # taller images are scaled down to this before segmenting


def remove_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
  count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
  keep = np.zeros(count, bool)
  keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
  return np.where(keep[labels], 255, 0).astype(np.uint8)


def _union(a: Box, b: Box) -> Box:
  return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _horizontal_overlap(a: Box, b: Box) -> float:
  """Overlap of x-ranges as a fraction of the narrower box."""
  inter = min(a[2], b[2]) - max(a[0], b[0])
  return inter / max(1, min(a[2] - a[0], b[2] - b[0]))


def character_boxes(mask: np.ndarray) -> list[Box]:
  """Connected components, with the pieces of one character merged: broken
  strokes (mostly overlapping in x), and dots of i/j and accents (small
  pieces, joined to the nearest larger box). Sorted left to right."""
  count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
  boxes = sorted((int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:])
  merged = True
  while merged:
    merged = False
    for i in range(len(boxes)):
      for j in range(i + 1, len(boxes)):
        if _horizontal_overlap(boxes[i], boxes[j]) > 0.5:
          boxes[i] = _union(boxes[i], boxes[j])
          del boxes[j]
          merged = True
          break
      if merged:
        break
  if len(boxes) > 1:
    line_height = max(b[3] for b in boxes) - min(b[1] for b in boxes)
    small = [b for b in boxes if max(b[2] - b[0], b[3] - b[1]) < 0.22 * line_height]
    big = [b for b in boxes if b not in small]
    for dot in small if big else []:
      centre = (dot[0] + dot[2]) / 2
      nearest = min(range(len(big)), key=lambda k: abs((big[k][0] + big[k][2]) / 2 - centre))
      big[nearest] = _union(big[nearest], dot)
    boxes = big or boxes
  return sorted(boxes)


def split_wide_boxes(mask: np.ndarray, boxes: list[Box], char_width: float) -> list[Box]:
  """Splits boxes much wider than one character at the valleys of the
  vertical ink projection nearest to multiples of the expected width."""
  out = []
  for box in boxes:
    x0, y0, x1, y1 = box
    width = x1 - x0
    pieces = max(2, int(round(width / char_width)))
    if width < 1.5 * char_width or pieces < 2:
      out.append(box)
      continue
    projection = (mask[y0:y1, x0:x1] > 0).sum(0).astype(np.float32)
    projection = np.convolve(projection, np.ones(3) / 3, mode="same")
    cuts, search = [], max(2, int(0.3 * width / pieces))
    for k in range(1, pieces):
      guess = int(k * width / pieces)
      lo, hi = max(1, guess - search), min(width - 1, guess + search)
      cut = lo + int(np.argmin(projection[lo:hi]))
      if projection[cut] <= 0.4 * projection.max():  # a thin neck, not a stroke
        cuts.append(cut)
    edges = [0] + cuts + [width]
    for a, b in zip(edges[:-1], edges[1:]):
      if b - a < 2:
        continue
      column = mask[y0:y1, x0 + a:x0 + b]
      rows = np.flatnonzero(column.any(1))
      if len(rows):
        out.append((x0 + a, y0 + int(rows[0]), x0 + b, y0 + int(rows[-1]) + 1))
  return out


def word_breaks(boxes: list[Box], line_height: float) -> list[int]:
  """Indices i such that a space goes before box i: gaps that stand out
  from the letter gaps (larger than both 0.45 line heights and 2.5x the
  median gap)."""
  if len(boxes) < 2:
    return []
  gaps = np.array([b[0] - a[2] for a, b in zip(boxes[:-1], boxes[1:])], np.float32)
  threshold = max(0.45 * line_height, 2.5 * float(np.median(np.maximum(gaps, 0))))
  return [i + 1 for i, gap in enumerate(gaps) if gap > threshold]


def emnist_crop(mask: np.ndarray, box: Box) -> np.ndarray:
  """One character as EMNIST made its images: cropped to the ink, Gaussian
  blur, centred in a square keeping the aspect ratio with 2 px padding,
  resized to 28x28, intensities stretched to [0, 255]; bright ink on black,
  upright (the orientation every source here trains on)."""
  x0, y0, x1, y1 = box
  glyph = mask[y0:y1, x0:x1].astype(np.float32)
  glyph = cv2.GaussianBlur(glyph, (0, 0), 1.0)
  h, w = glyph.shape
  side = max(h, w)
  square = np.zeros((side, side), np.float32)
  square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = glyph
  square = cv2.copyMakeBorder(square, 2 * side // 24, 2 * side // 24, 2 * side // 24,
                              2 * side // 24, cv2.BORDER_CONSTANT, value=0)
  crop = cv2.resize(square, (28, 28), interpolation=cv2.INTER_AREA)
  peak = crop.max()
  return (crop * (255.0 / peak) if peak > 0 else crop).astype(np.uint8)


@dataclasses.dataclass
class Segmentation:
  gray: np.ndarray           # the working grayscale image
  mask: np.ndarray           # ink mask (255 = ink)
  boxes: list[Box]           # characters, left to right
  spaces_before: list[int]   # box indices preceded by a space
  crops: np.ndarray          # (n, 28, 28) uint8, EMNIST-like
  scale: float = 1.0         # working image size / input image size

  def input_box(self, box: Box) -> Box:
    """A box of the working image in the input image's pixel coordinates."""
    return tuple(int(round(v / self.scale)) for v in box)


def segment(image: np.ndarray) -> Segmentation:
  """Runs the whole pipeline on one word or line image."""
  gray = to_gray(image)
  check_size(gray)
  problem = ink_problem(gray)
  if problem:
    raise ImageError(problem)
  scale = 1.0
  if gray.shape[0] > WORKING_HEIGHT:
    scale = WORKING_HEIGHT / gray.shape[0]
    gray = cv2.resize(gray, (max(1, int(gray.shape[1] * scale)), WORKING_HEIGHT),
                      interpolation=cv2.INTER_AREA)
  mask = ink_mask(gray)
  ink_rows = np.flatnonzero(mask.any(1))
  if len(ink_rows) == 0:
    raise ImageError("no ink found (blank or nearly uniform image)")
  line_height = ink_rows[-1] - ink_rows[0] + 1
  mask = remove_specks(mask, min_area=max(4, int(0.002 * line_height ** 2)))
  boxes = character_boxes(mask)
  if not boxes:
    raise ImageError("no ink found after removing noise")
  heights = np.array([b[3] - b[1] for b in boxes])
  widths = np.array([b[2] - b[0] for b in boxes])
  # Expected width of one character: the median box, and no less than the
  # median height (about the x-height: most letters are that wide or wider).
  char_width = max(float(np.median(widths)), 0.9 * float(np.median(heights)))
  boxes = split_wide_boxes(mask, boxes, char_width)
  crops = np.stack([emnist_crop(mask, b) for b in boxes])
  return Segmentation(gray=gray, mask=mask, boxes=boxes,
                      spaces_before=word_breaks(boxes, float(heights.max())),
                      crops=crops, scale=scale)
