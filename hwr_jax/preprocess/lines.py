"""Finding the lines of handwriting on a page image, classically.

  1. Ink: the paper is estimated (grey closing on a small copy, so uneven
     lighting and grey paper divide out) and Otsu thresholds the flattened
     page; specks smaller than a pen dot are dropped.
  2. Skew: the angle in [-MAX_SKEW, MAX_SKEW] degrees whose horizontal ink
     profile is sharpest (sum of squared row counts), found on the ink
     pixels' coordinates; the page is turned by it.
  3. Lines: peaks of the smoothed row profile, at least half a line spacing
     apart (the spacing from the profile's autocorrelation). Each line is
     then followed across vertical strips of the page (its centre may drift:
     slanted or slightly curved lines), and neighbouring lines are parted at
     the emptiest row between their centres, strip by strip.
  4. Ink to lines: each connected stroke goes to the band that holds most of
     it (descenders that dip into the next band stay with their line); a
     stroke that reaches the centres of two lines (an ascender touching a
     descender) is cut at the parting.
  5. Each line is cut out alone: its ink on plain paper, as the line readers
     are trained (`data/iam_pages.render_line`), in reading order (top to
     bottom), with its box on the page as given.

Everything is measured in units of the page's own writing (the median
height of its strokes), so 150 and 300 dpi scans are handled alike. One
column of text is assumed.
"""

import dataclasses

import cv2
import numpy as np

from hwr_jax.preprocess.image import ImageError, check_size, ink_is_dark

WORK_SIZE = 1400        # the page is analysed with its longer side at most this
MAX_SKEW = 6.0          # degrees
SKEW_STEP = 0.2
MAX_INK_SHARE = 0.25    # pages of handwriting: a few per cent of their pixels are ink
ONE_LINE = 2.5          # ink less than this many stroke heights tall is one line


@dataclasses.dataclass(frozen=True)
class PageLine:
  image: np.ndarray                    # the line's ink alone on paper (grey, dark ink)
  box: tuple[int, int, int, int]       # x0, y0, x1, y1 on the page as given
  corners: np.ndarray                  # (4, 2) x, y: the line's rectangle on the page
  # Line-image column -> page (x, y): page = origin + col * direction.
  origin: tuple[float, float]
  direction: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Layout:
  lines: list[PageLine]
  skew: float                          # the writing's angle, degrees counter-clockwise
  text_height: float                   # median stroke height, page pixels


def _grey(page: np.ndarray) -> np.ndarray:
  """Grey, dark ink on light paper."""
  if page.ndim == 3:
    page = cv2.cvtColor(page[..., :3], cv2.COLOR_BGR2GRAY)
  if page.dtype != np.uint8:
    page = cv2.normalize(page, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
  return page if ink_is_dark(page) else 255 - page


def ink_of(grey: np.ndarray) -> tuple[np.ndarray, float]:
  """(binary ink mask, the paper's grey level) of a page at working size."""
  small_scale = 64 / max(grey.shape)
  size = (max(1, round(grey.shape[1] * small_scale)), max(1, round(grey.shape[0] * small_scale)))
  small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
  kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
  paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
  paper = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
  paper = np.maximum(paper.astype(np.float32), 1)
  flat = np.clip(grey / paper * 255, 0, 255).astype(np.uint8)
  threshold, mask = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
  if threshold > 240 or int(flat.max()) - int(flat.min()) < 40:
    return np.zeros_like(mask), float(np.median(grey))
  # Otsu between paper and noise puts the cut too near the paper: ink is well below it.
  mask = (flat < min(threshold, 255 - 0.6 * (255 - threshold) - 10)).astype(np.uint8) * 255
  count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
  tiny = stats[:, cv2.CC_STAT_AREA] < 6
  tiny[0] = False
  mask[tiny[labels]] = 0
  return mask, float(np.median(grey[mask == 0])) if (mask == 0).any() else 255.0


def skew_angle(mask: np.ndarray) -> float:
  """Degrees to turn the page by (counter-clockwise positive, as
  cv2.getRotationMatrix2D) so its lines run level."""
  ys, xs = np.nonzero(mask)
  if len(ys) < 50:
    return 0.0
  if len(ys) > 60_000:
    keep = np.random.default_rng(0).choice(len(ys), 60_000, replace=False)
    ys, xs = ys[keep], xs[keep]
  xs = xs - mask.shape[1] / 2
  best, best_score = 0.0, -1.0
  for angle in np.arange(-MAX_SKEW, MAX_SKEW + 1e-6, SKEW_STEP):
    t = np.deg2rad(angle)
    rows = (ys * np.cos(t) + xs * np.sin(t)).astype(np.int64)
    counts = np.bincount(rows - rows.min())
    score = float(np.dot(counts, counts))
    if score > best_score:
      best, best_score = float(angle), score
  return -best


def smooth(profile: np.ndarray, sigma: float) -> np.ndarray:
  size = int(4 * sigma) | 1
  return cv2.GaussianBlur(profile.astype(np.float32).reshape(-1, 1), (1, size), sigma).ravel()


def line_spacing(profile: np.ndarray, text_height: float) -> float:
  """The distance between lines: the median distance between neighbouring
  peaks of the row profile, the peaks found at least one text height apart;
  without two such peaks, the first lag beyond one text height where the
  profile's autocorrelation comes near its highest."""
  rows = peaks(smooth(profile, 0.5 * text_height), text_height, 0.05 * profile.max(), 0.15)
  if len(rows) >= 3:   # (a low quantile: lines the peaks ran together only make gaps longer)
    return float(np.quantile(np.diff(rows), 0.3))
  p = profile - profile.mean()
  n = len(p)
  lo, hi = int(max(2, text_height)), n // 2
  if hi <= lo + 2:
    return 2.0 * text_height
  ac = np.correlate(p, p, mode="full")[n - 1:n - 1 + hi] / (n - np.arange(hi))
  best = ac[lo:hi].max()
  if best <= 0:
    return 2.0 * text_height
  lag = lo + int(np.flatnonzero(ac[lo:hi] >= 0.6 * best)[0])
  while lag + 1 < hi and ac[lag + 1] > ac[lag]:   # on to the local peak
    lag += 1
  return float(lag)


def peaks(profile: np.ndarray, min_distance: float, min_height: float,
          prominence: float = 0.33) -> list[int]:
  """Rows of the profile's peaks at least `min_height` high and
  `min_distance` apart, each standing out of the valleys around it by at
  least `prominence` of its height (two lines, not one line's halves)."""
  from scipy.signal import find_peaks
  padded = np.concatenate([[0.0], profile, [0.0]])   # paper beyond the edges: a peak may touch them
  rows, props = find_peaks(padded, height=min_height, distance=max(1, min_distance),
                           prominence=0)
  keep = props["prominences"] >= prominence * props["peak_heights"]
  return [min(len(profile) - 1, max(0, int(r) - 1)) for r in rows[keep]]


def find(page: np.ndarray) -> Layout:
  """The lines of a page image (any size, polarity, grey or colour)."""
  grey = _grey(page)
  check_size(grey)
  scale = min(1.0, WORK_SIZE / max(grey.shape))
  work = cv2.resize(grey, (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))),
                    interpolation=cv2.INTER_AREA) if scale < 1 else grey
  mask, paper_level = ink_of(work)
  if not mask.any():
    raise ImageError("no ink found (blank or nearly uniform image)")
  share = float((mask > 0).mean())
  if share > MAX_INK_SHARE:
    raise ImageError(f"no handwriting found: {share:.0%} of the image is dark, as in a photo "
                     "or noise, not writing on paper (crop it to the text, or clean it)")
  turn_by = skew_angle(mask)
  h, w = mask.shape
  turn = cv2.getRotationMatrix2D((w / 2, h / 2), turn_by, 1.0)
  level = cv2.warpAffine(mask, turn, (w, h), flags=cv2.INTER_NEAREST)

  count, labels, stats, _ = cv2.connectedComponentsWithStats(level, connectivity=8)
  heights = stats[1:, cv2.CC_STAT_HEIGHT]
  big = heights[stats[1:, cv2.CC_STAT_AREA] >= 20]
  text_height = float(np.median(big)) if len(big) else float(np.median(heights))
  text_height = max(text_height, 4.0)

  rows = np.flatnonzero(level.any(1))
  if rows[-1] - rows[0] + 1 < ONE_LINE * text_height:   # a word or a line: one line
    spacing = 2.0 * text_height
    centres = [int((rows[0] + rows[-1]) // 2)]
  else:
    spacing = line_spacing(level.sum(1) / 255.0, text_height)
    profile = smooth(level.sum(1) / 255.0, 0.12 * spacing)
    centres = peaks(profile, 0.35 * spacing, 0.02 * np.percentile(profile, 99))
  if not centres:
    raise ImageError("no lines of writing found")
  curves, partings = follow(level, centres, spacing, text_height)
  owner = assign(labels, stats, count, curves, partings, text_height)

  lines = []
  for k in range(len(centres)):
    line = cut_line(grey, owner == k + 1, turn, scale, paper_level)
    if line is not None:
      lines.append(line)
  if not lines:
    raise ImageError("no lines of writing found")
  return Layout(lines, -turn_by, text_height / scale)


def follow(level: np.ndarray, centres: list[int], spacing: float, text_height: float):
  """(centre row of each line at every column, parting rows between
  neighbouring lines at every column): lines followed strip by strip."""
  h, w = level.shape
  strip = int(max(4 * text_height, w / 12))
  starts = list(range(0, w, strip))
  mids = np.array([min(s + strip / 2, w - 1) for s in starts])
  reach = 0.3 * spacing
  strip_centres = np.zeros((len(centres), len(starts)))
  profiles = []
  for j, s in enumerate(starts):
    profile = smooth(level[:, s:s + strip].sum(1) / 255.0, 0.12 * spacing)
    profiles.append(profile)
  # Follow each line outwards from the middle strip, so a drift is tracked.
  middle = len(starts) // 2
  for i, c in enumerate(centres):
    # A line is looked for no nearer to its neighbours than halfway.
    top = (centres[i - 1] + c) / 2 if i > 0 else 0
    bottom = (centres[i + 1] + c) / 2 if i + 1 < len(centres) else h
    for order in (range(middle, len(starts)), range(middle - 1, -1, -1)):
      previous = float(c)
      for j in order:
        lo = int(max(0, top, previous - reach))
        hi = int(min(h, bottom, previous + reach + 1))
        window = profiles[j][lo:hi]
        if len(window) and window.max() > 0.2 * profiles[j].max() > 0:
          previous = 0.5 * previous + 0.5 * (lo + int(np.argmax(window)))
        strip_centres[i, j] = previous
  strip_centres = np.maximum.accumulate(strip_centres, axis=0)   # keep the lines' order
  columns = np.arange(w)
  curves = np.stack([np.interp(columns, mids, row) for row in strip_centres])
  partings = np.zeros((max(0, len(centres) - 1), w))
  for i in range(len(centres) - 1):
    strip_parts = []
    for j, profile in enumerate(profiles):
      a, b = int(strip_centres[i, j]), int(strip_centres[i + 1, j])
      if b - a < 3:
        strip_parts.append((a + b) / 2)
        continue
      # The emptiest row between the centres; ties go to the middle.
      segment = profile[a:b] + 1e-3 * np.abs(np.arange(a, b) - (a + b) / 2)
      strip_parts.append(a + float(np.argmin(segment)))
    partings[i] = np.interp(columns, mids, strip_parts)
  return curves, partings


def assign(labels, stats, count, curves, partings, text_height) -> np.ndarray:
  """An image of line numbers (1..n; 0: no line) for each ink pixel."""
  ys, xs = np.nonzero(labels)
  comp = labels[ys, xs]
  band = (ys[None, :] > partings[:, xs]).sum(0) if len(partings) else np.zeros_like(ys)
  n = curves.shape[0]
  in_band = np.zeros((count, n), np.int64)
  np.add.at(in_band, (comp, band), 1)
  near_centre = np.abs(ys - curves[band, xs]) < 0.3 * text_height
  cores = np.zeros((count, n), np.int64)
  np.add.at(cores, (comp[near_centre], band[near_centre]), 1)
  # A stroke through the cores of two lines is cut at the parting; any
  # other goes whole to the band that holds most of it.
  cut = (cores >= max(2, 0.1 * text_height)).sum(1) >= 2
  whole = np.argmax(in_band, 1)
  line = np.where(cut[comp], band, whole[comp])
  owner = np.zeros(labels.shape, np.int32)
  owner[ys, xs] = line + 1
  return owner


def cut_line(grey, level_mask, turn, scale, paper_level) -> PageLine | None:
  """One line's ink alone on paper, cut from the page at full size."""
  ys, xs = np.nonzero(level_mask)
  if len(ys) < 10:
    return None
  pad = 2
  x0, x1, y0, y1 = xs.min() - pad, xs.max() + pad + 1, ys.min() - pad, ys.max() + pad + 1
  # The line's rectangle (levelled work coordinates) -> page coordinates.
  back = cv2.invertAffineTransform(turn)
  corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
  page_corners = (corners @ back[:, :2].T + back[:, 2]) / scale
  # Full-size levelled crop: page -> levelled line image, scaled by 1/scale.
  width, height = int(round((x1 - x0) / scale)), int(round((y1 - y0) / scale))
  to_line = np.array([[1, 0, -x0], [0, 1, -y0]], np.float64)
  full = np.vstack([turn, [0, 0, 1]]) @ np.diag([scale, scale, 1.0])   # page -> levelled work
  affine = (np.vstack([to_line, [0, 0, 1]]) @ full)[:2] / scale        # page -> line (full size)
  crop = cv2.warpAffine(grey, affine, (width, height), flags=cv2.INTER_LINEAR,
                        borderValue=int(paper_level))
  keep = np.pad(level_mask, pad)[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
  keep = cv2.dilate(keep.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
  keep = cv2.resize(keep, (width, height), interpolation=cv2.INTER_LINEAR) > 0
  image = np.where(keep, crop, np.uint8(paper_level)).astype(np.uint8)
  inverse = cv2.invertAffineTransform(affine)   # line (full size) -> page
  origin = tuple(inverse[:, 2])
  direction = tuple(inverse[:, 0])
  box = (int(page_corners[:, 0].min()), int(page_corners[:, 1].min()),
         int(np.ceil(page_corners[:, 0].max())), int(np.ceil(page_corners[:, 1].max())))
  return PageLine(image, box, page_corners, origin, direction)
