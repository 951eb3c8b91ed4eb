"""Word images synthesized from real EMNIST glyphs.

Glyphs (upright 28x28, bright ink on black, as every source here returns them)
are cropped to their ink, scaled to where the character sits in handwriting
(x-height, ascenders, descenders, cap height), placed left to right with
uneven gaps (sometimes touching) and baseline jitter, slanted, and printed as
dark ink on light, unevenly lit, slightly blurred and noisy paper.

Texts come from a real English word list with frequencies (`wordfreq`), plus
capitalized words, all-caps words and digit strings (`language/wordlists.py`). Train and test word sets
are built from disjoint glyph images (`heldout_bank`: the classifier's
validation images), so a test word never reuses a stroke the model trained on.
"""

import dataclasses

import cv2
import numpy as np

from hwr_jax.data.labels import BYCLASS_CHARS, charset as label_charset
from hwr_jax.language.wordlists import sample_texts

# Vertical placement in units of cap height, relative to the baseline:
# (top, bottom); positive is above the baseline.
_X_HEIGHT = 0.6
_PLACEMENT = {}
for _ch in "acemnorsuvwxz":
  _PLACEMENT[_ch] = (_X_HEIGHT, 0.0)
for _ch in "bdhklt":
  _PLACEMENT[_ch] = (1.0, 0.0)
for _ch in "gpqy":
  _PLACEMENT[_ch] = (_X_HEIGHT, -0.4)
_PLACEMENT.update({"i": (0.85, 0.0), "j": (0.85, -0.4), "f": (1.0, -0.15)})
for _ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
  _PLACEMENT[_ch] = (1.0, 0.0)


def placement(ch: str) -> tuple[float, float]:
  """(top, bottom) of a character relative to the baseline, in cap heights."""
  return _PLACEMENT[ch]


@dataclasses.dataclass
class GlyphBank:
  """Glyph images grouped by character (ByClass labels)."""
  images: np.ndarray     # (N, 28, 28) uint8, upright, ink bright
  labels: np.ndarray     # (N,) ByClass labels
  charset: str = BYCLASS_CHARS

  def __post_init__(self):
    self.by_char = {ch: np.flatnonzero(self.labels == k) for k, ch in enumerate(self.charset)}

  def sample(self, ch: str, rng: np.random.Generator) -> np.ndarray:
    choices = self.by_char.get(ch)
    if choices is None or len(choices) == 0:
      raise ValueError(f"No glyph images of {ch!r} in this bank.")
    return self.images[rng.choice(choices)]

  def subset(self, index) -> "GlyphBank":
    return GlyphBank(self.images[index], self.labels[index], self.charset)


def heldout_bank(data_config) -> GlyphBank:
  """Glyphs a classifier trained with `data_config` never saw: its validation
  split, under that model's label space (a digits model's bank spells digit
  strings, a letters model's lowercase words; ByClass spells everything)."""
  from hwr_jax.data import sources
  images, labels = sources.load(data_config, with_test=False).validation
  return GlyphBank(images, labels, label_charset(data_config.label_space))


def _ink_crop(glyph: np.ndarray, threshold: int = 30) -> np.ndarray:
  ys, xs = np.nonzero(glyph > threshold)
  if len(ys) == 0:
    return glyph
  return glyph[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


@dataclasses.dataclass
class WordStyle:
  cap_height: int = 40         # pixels
  gap: tuple = (0.03, 0.25)    # gap between letters, in cap heights
  touching: float = 0.1        # share of letter pairs that touch or overlap a little
  touch_gap: tuple = (-0.08, 0.0)
  baseline_jitter: float = 0.04
  scale_jitter: float = 0.08
  slant: tuple = (-0.25, 0.25)  # horizontal shear
  blur: tuple = (0.0, 1.2)     # Gaussian sigma, pixels
  noise: tuple = (2.0, 10.0)   # Gaussian noise sigma, grey levels
  margin: int = 10


def render_ink(text: str, bank: GlyphBank, rng: np.random.Generator,
               style: WordStyle = WordStyle()):
  """Lays out glyphs for `text` on a black canvas (ink bright).

  Returns the canvas (float32 in [0, 1]) and each character's box
  (x0, y0, x1, y1) before slant.
  """
  cap = style.cap_height
  baseline = style.margin + int(1.1 * cap)
  height = baseline + int(0.5 * cap) + style.margin
  pieces, x = [], style.margin
  for ch in text:
    if ch == " ":
      x += int(rng.uniform(0.5, 0.8) * cap)
      continue
    glyph = _ink_crop(bank.sample(ch, rng)).astype(np.float32) / 255.0
    top, bottom = placement(ch)
    scale = 1 + rng.uniform(-style.scale_jitter, style.scale_jitter)
    h = max(3, int(round((top - bottom) * cap * scale)))
    w = max(2, int(round(glyph.shape[1] * h / glyph.shape[0])))
    w = min(w, int(1.2 * cap))  # very wide crops (e.g. a long dash) stay in proportion
    glyph = cv2.resize(glyph, (w, h), interpolation=cv2.INTER_AREA if h < glyph.shape[0] else cv2.INTER_LINEAR)
    jitter = int(round(rng.uniform(-1, 1) * style.baseline_jitter * cap))
    y0 = baseline - int(round(top * cap * scale)) + jitter
    pieces.append((x, y0, glyph))
    gap = style.touch_gap if rng.random() < style.touching else style.gap
    x += w + int(round(rng.uniform(*gap) * cap))
  width = max(x, max((px + g.shape[1] for px, _, g in pieces), default=x)) + style.margin
  canvas = np.zeros((height, width), np.float32)
  boxes = []
  for px, py, glyph in pieces:
    py = max(0, py)
    region = canvas[py:py + glyph.shape[0], px:px + glyph.shape[1]]
    np.maximum(region, glyph[:region.shape[0], :region.shape[1]], out=region)
    boxes.append((px, py, px + glyph.shape[1], py + glyph.shape[0]))
  return canvas, boxes


def to_paper(ink: np.ndarray, rng: np.random.Generator, style: WordStyle = WordStyle()) -> np.ndarray:
  """Bright-ink canvas -> dark ink on light paper, with slant, uneven
  lighting, blur and noise. Returns uint8 grayscale."""
  h, w = ink.shape
  shear = rng.uniform(*style.slant)
  pad = int(abs(shear) * h) + 1
  matrix = np.float32([[1, -shear, pad + (shear * h if shear > 0 else 0)], [0, 1, 0]])
  ink = cv2.warpAffine(ink, matrix, (w + 2 * pad, h), flags=cv2.INTER_LINEAR, borderValue=0)
  h, w = ink.shape
  paper = rng.uniform(190, 245)
  ink_level = rng.uniform(10, 90)
  gradient = np.linspace(0, 1, w)[None, :] * rng.uniform(-40, 20) + \
      np.linspace(0, 1, h)[:, None] * rng.uniform(-20, 20)
  image = paper + gradient - (paper - ink_level) * ink
  sigma = rng.uniform(*style.blur)
  if sigma > 0.3:
    image = cv2.GaussianBlur(image, (0, 0), sigma)
  image = image + rng.normal(0, rng.uniform(*style.noise), image.shape)
  return np.clip(image, 0, 255).astype(np.uint8)


def render_word(text: str, bank: GlyphBank, rng: np.random.Generator,
                style: WordStyle = WordStyle()) -> np.ndarray:
  """A handwritten-looking grayscale image (dark ink on light paper) of `text`."""
  ink, _ = render_ink(text, bank, rng, style)
  return to_paper(ink, rng, style)


def sample_words(n: int, bank: GlyphBank, rng: np.random.Generator, words=None,
                 max_len: int = 12, digits: float = 0.1) -> tuple[list[np.ndarray], list[str]]:
  """`n` sampled texts the bank can spell (see `sample_texts`) and their
  rendered images."""
  texts = sample_texts(n, rng, words, max_len, digits, bank.charset)
  return [render_word(t, bank, rng) for t in texts], texts
