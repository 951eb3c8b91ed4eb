"""IAM-OnDB's pen strokes drawn as line images: more lines, by some two
hundred writers IAM's scans do not have, for the image line model
(configs/iam_lines.py with --config.words.ondb_lines=True).

Each line of ink is drawn as a pen on paper would leave it: scaled to about
the height of an IAM line at 300 dpi, a pen 3-6 px wide, dark grey ink on
light paper with a little noise and blur, one look per line (seeded by its
id, so the images are the same every time). Only the training forms are used
(trainset.txt), and of them only lines that share no word 6-gram with a
validation or test line of IAM or IAM-OnDB: IAM-OnDB's writers copied the
same corpus as IAM's, and a test page's text must stay unseen.
"""

import hashlib
import os

import cv2
import numpy as np

from hwr_jax.data import ink_files, ondb

LINE_HEIGHT = (90, 150)   # px from the highest to the lowest stroke (IAM lines: ~100-160)


def line_seed(line_id: str) -> int:
  return int.from_bytes(hashlib.sha256(line_id.encode()).digest()[:4], "little")


def render(strokes: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
  """Strokes (x, y down) -> a uint8 grey image of them as ink on paper."""
  xy = np.concatenate([s[:, :2] for s in strokes])
  height = rng.uniform(*LINE_HEIGHT)
  scale = height / max(float(np.ptp(xy[:, 1])), 1e-9)
  pen = int(rng.integers(3, 7))
  margin = 4 + pen
  origin = xy.min(0)
  w, h = (np.ptp(xy, 0) * scale).astype(int) + 2 * margin + 1
  paper = rng.uniform(205, 245)
  ink = rng.uniform(10, 90)
  image = np.full((h, w), paper, np.float32)
  mask = np.zeros((h, w), np.uint8)
  for stroke in strokes:
    points = ((stroke[:, :2] - origin) * scale + margin).round().astype(np.int32)
    cv2.polylines(mask, [points], False, 255, pen, cv2.LINE_AA)
  image -= (paper - ink) * (mask.astype(np.float32) / 255)
  image += rng.normal(0, rng.uniform(1, 6), image.shape)
  image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 0.9))
  return np.clip(image, 0, 255).astype(np.uint8)


def line_files(root: str, held_out_texts: list[str]) -> list[tuple[str, str]]:
  """(PNG path, text) of IAM-OnDB's training lines (trainset) drawn as images,
  under the cache folder (keyed by the folder and what is held out); lines
  sharing a word 6-gram with `held_out_texts` are left out."""
  from hwr_jax import cache
  from hwr_jax.language.leakage import without_test_text
  lines = [l for l in ondb.read_lines(root).lines if l.split == "train"]
  kept, _ = without_test_text([l.text for l in lines], held_out_texts)
  kept = set(kept)
  lines = [l for l in lines if l.text in kept]
  key = ("ondb-images", 1, os.path.abspath(root), len(lines),
         hashlib.sha256("\n".join(l.line_id for l in lines).encode()).hexdigest())

  def build(folder):
    out = []
    for line in lines:
      path = os.path.join(folder, line.line_id + ".png")
      if not os.path.exists(path):
        try:
          strokes = ink_files.read_ink(line.path)
        except ink_files.InkError:
          continue
        cv2.imwrite(path + ".tmp.png", render(strokes, np.random.default_rng(line_seed(line.line_id))))
        os.replace(path + ".tmp.png", path)
      out.append((path, line.text))
    return out

  return cache.cached_files("ondb-images", key, build)
