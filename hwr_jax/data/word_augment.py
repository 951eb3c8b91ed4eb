"""Distortions of real word images for training (host side, OpenCV).

Handwriting varies in slant, width, size, stroke thickness and contrast
between writers; each training image gets a random draw of each, so the
reader does not learn one writer's hand. Images are prepared word images
(`word_batches.prepare`: fixed height, ink bright on black).
"""

import cv2
import numpy as np


def sample_geometry(widths: np.ndarray, height: int, rng: np.random.Generator,
                    max_stretch: float = 1.25, max_slant: float = 0.4):
  """Per image: a horizontal stretch (log-uniform in [1/max_stretch,
  max_stretch]), a slant (shear, uniform in +-max_slant) and the output
  width that holds both."""
  n = len(widths)
  stretch = np.exp(rng.uniform(-np.log(max_stretch), np.log(max_stretch), n))
  slant = rng.uniform(-max_slant, max_slant, n)
  out = np.round(widths * stretch + np.abs(slant) * height).astype(np.int64)
  return stretch, slant, out


def distort(image: np.ndarray, width: int, slant: float, rng: np.random.Generator) -> np.ndarray:
  """(H, w) uint8 -> (H, width): the image stretched to fill `width` (less
  the room the slant takes), slanted, slightly rotated and rescaled
  vertically, then thicker or thinner strokes, other contrast, blur, noise."""
  h, w = image.shape
  cx_src, cy = w / 2, h / 2
  sx = max(width - abs(slant) * h, 4) / w
  sy = rng.uniform(0.85, 1.05)
  angle = np.deg2rad(rng.uniform(-2.0, 2.0))
  c, s = np.cos(angle), np.sin(angle)
  # src -> dst: rotate(shear(scale(p - centre))) + centre of dst (+ jitter)
  linear = np.array([[c, -s], [s, c]]) @ np.array([[1, -slant], [0, 1]]) @ np.diag([sx, sy])
  shift = np.array([width / 2, cy + rng.uniform(-1.5, 1.5)]) - linear @ np.array([cx_src, cy])
  matrix = np.hstack([linear, shift[:, None]]).astype(np.float32)
  out = cv2.warpAffine(image, matrix, (int(width), h), flags=cv2.INTER_LINEAR, borderValue=0)
  r = rng.random()
  if r < 0.25:
    out = cv2.dilate(out, np.ones((2, 2), np.uint8))
  elif r < 0.4:
    out = cv2.erode(out, np.ones((2, 1), np.uint8))
  out = out.astype(np.float32) * rng.uniform(0.6, 1.0)
  if rng.random() < 0.3:
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 0.8))
  out += rng.normal(0, rng.uniform(0, 10), out.shape)
  return np.clip(out, 0, 255).astype(np.uint8)
