"""What a word (or line) model reads, as data: `InputGeometry` (image height,
width buckets, columns per output frame), and the one function that makes a
word image into such an input (grey, ink bright, contrast stretched, cropped
to the ink, scaled to the height). Data sources, trainers, readers and
inference all use these, so a word image is prepared the same way, once.
"""

import dataclasses

import cv2
import numpy as np

from hwr_jax.preprocess.image import ink_box, ink_is_dark, quantile, to_gray

DEFAULT_HEIGHT = 24      # configs without words.height (words of EMNIST glyphs)
# Input columns per output frame: every CRNN backbone pools the width by 4.
COLUMNS_PER_FRAME = 4
SOFTEN = 1 / 120         # `soften`: the blur's sigma, a share of the line's height
INK_LEVEL = 96           # after stretching, brighter than this is ink (for the crop)


@dataclasses.dataclass(frozen=True)
class InputGeometry:
  """Images `height` rows high, padded to the narrowest of `buckets` that
  holds them (one compiled program per bucket); the model emits one frame per
  `columns_per_frame` columns."""
  height: int = DEFAULT_HEIGHT
  buckets: tuple[int, ...] = (48, 96, 144, 192)
  columns_per_frame: int = COLUMNS_PER_FRAME

  @classmethod
  def of(cls, config) -> "InputGeometry":
    """The geometry a word model's config trains and reads at."""
    return cls(height=config.words.get("height", DEFAULT_HEIGHT),
               buckets=tuple(config.words.buckets))

  @property
  def max_width(self) -> int:
    return self.buckets[-1]

  def frames(self, width: int) -> int:
    """Frames the model emits for an image `width` columns wide."""
    return width // self.columns_per_frame

  def bucket(self, width: int) -> int:
    """The narrowest bucket at least `width` wide (the widest if none is)."""
    for b in self.buckets:
      if width <= b:
        return b
    return self.buckets[-1]


def frames_needed(text: str) -> int:
  """The fewest frames a CTC alignment of `text` has: one per character,
  plus a blank between each pair of equal neighbours."""
  return len(text) + sum(a == b for a, b in zip(text, text[1:]))


def normalize(gray: np.ndarray, geometry: InputGeometry) -> np.ndarray:
  """A uint8 grey word image -> (height, w) uint8, ink bright on black, cropped
  to the ink with a small margin, w <= geometry.max_width."""
  return normalize_with_span(gray, geometry)[0]


def normalize_with_span(gray: np.ndarray, geometry: InputGeometry
                        ) -> tuple[np.ndarray, float, float]:
  """`normalize`, and where its columns lie in `gray`: input column c covers
  gray's columns x0 + c * step .. x0 + (c + 1) * step; (input, x0, step)."""
  if ink_is_dark(gray):
    gray = 255 - gray
  lo, hi = quantile(gray, 0.05), gray.max()
  gray = np.clip((gray.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1)), 0, 255)
  box = ink_box(gray, INK_LEVEL)
  x0 = 0
  if box is not None:   # crop to the ink so the text fills the height
    y0, y1, x0, x1 = box
    margin = max(2, (y1 - 1 - y0) // 8)
    x0 = max(0, x0 - margin)
    gray = gray[max(0, y0 - margin):y1 + margin, x0:x1 + margin]
  height = geometry.height
  width = int(round(gray.shape[1] * height / gray.shape[0]))
  width = int(np.clip(width, geometry.columns_per_frame, geometry.max_width))
  resized = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA).astype(np.uint8)
  return resized, float(x0), gray.shape[1] / width


def soften(line: np.ndarray, share: float = SOFTEN) -> np.ndarray:
  """A line image blurred by a Gaussian `share` of its height (about a pixel
  at 300 dpi) before its words are cut for a word model (`readers/crnn.py`;
  `data/iam_pages.word_cut_files`): rebuilt pages' strokes have hard edges
  (paper replaces every pixel lighter than IAM's ink level), the word model
  trained on scanned crops, whose edges are soft. On the validation writers'
  pages, words read right from cuts at their true boxes: 55.9 -> 57.4-57.7 %
  (0.7-1.2 px); IAM's own crops blurred alike: 62.7 -> 62.5 %, no change."""
  return cv2.GaussianBlur(line, (0, 0), share * line.shape[0])


def to_input(image: np.ndarray, geometry: InputGeometry) -> np.ndarray:
  """Any word image (grey or colour, 8 or 16 bit, either polarity) -> the
  model's input (`normalize`)."""
  return normalize(to_gray(image), geometry)


def reads_lines(config, charset: str) -> bool:
  """A line model (it reads pages and lines, spaces among its characters), not
  a word model. Its charset tells, except for a model trained on IAM's words
  (configs/iam_words.py), which keeps the space of a line model it was
  fine-tuned from (the shipped iam-words) but reads single words."""
  return " " in charset and config.words.get("source") != "iam"
