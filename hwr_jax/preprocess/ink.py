"""Pen strokes -> what an ink model reads: small pure functions, in the order
the online-handwriting literature applies them (Jaeger et al. 2001; Graves
et al. 2009):

  drop_repeats     consecutive duplicate points (a pen resting)
  deskew           rotate the line of writing to horizontal (least squares)
  body_height      the writing's size: the middle 80 % of its heights
  deslant          shear strokes upright (length-weighted slant of down strokes)
  resample         equidistant points along each stroke
  features         per point: dx, dy, pen lift, height above the line's middle

`normalize` runs them all; it is invariant to translation and scale (tested).
Strokes are (n, 2+) arrays of x, y (y grows downwards); only x and y are read.
`split_lines` cuts ink written on several lines into lines.
"""

import dataclasses

import numpy as np

NUM_FEATURES = 4
SPACING = 0.1           # between resampled points, in body heights (IAM-OnDB: ~21 per character)
MAX_JUMP = 8.0          # pen-up moves longer than this (body heights) are clipped
MAX_SLANT = 1.0         # |shear| corrected at most (45 degrees)


@dataclasses.dataclass(frozen=True)
class InkGeometry:
  """What an ink model reads: feature sequences padded to the shortest of
  `buckets` (points) that holds them; one output frame per `points_per_frame`."""
  buckets: tuple[int, ...] = (256, 384, 512, 768, 1024, 1536)
  points_per_frame: int = 4

  @classmethod
  def of(cls, config) -> "InkGeometry":
    return cls(buckets=tuple(config.ink.buckets),
               points_per_frame=config.ink.get("points_per_frame", 4))

  @property
  def max_points(self) -> int:
    return self.buckets[-1]

  def frames(self, points: int) -> int:
    return points // self.points_per_frame

  def bucket(self, points: int) -> int:
    for b in self.buckets:
      if points <= b:
        return b
    return self.buckets[-1]


def drop_repeats(stroke: np.ndarray) -> np.ndarray:
  """The stroke's (x, y) without points equal to the one before."""
  xy = np.asarray(stroke, np.float64)[:, :2]
  if len(xy) < 2:
    return xy
  keep = np.concatenate([[True], (np.diff(xy, axis=0) != 0).any(1)])
  return xy[keep]


def deskew(strokes: list[np.ndarray]) -> list[np.ndarray]:
  """Rotates the ink so its least-squares line y = a x + b is horizontal
  (whiteboard lines drift up or down)."""
  xy = np.concatenate(strokes)
  x, y = xy[:, 0] - xy[:, 0].mean(), xy[:, 1] - xy[:, 1].mean()
  denominator = float((x * x).sum())
  if denominator == 0:
    return strokes
  angle = np.arctan(float((x * y).sum()) / denominator)
  c, s = np.cos(-angle), np.sin(-angle)
  rotation = np.array([[c, -s], [s, c]])
  return [s_ @ rotation.T for s_ in strokes]


def body_height(strokes: list[np.ndarray]) -> float:
  """The size of the writing: the spread of its points' heights between the
  10th and 90th percentiles (about the x-height band plus part of the
  ascenders); never 0."""
  y = np.concatenate(strokes)[:, 1]
  height = float(np.percentile(y, 90) - np.percentile(y, 10))
  if height <= 0:
    height = float(np.ptp(np.concatenate(strokes), 0).max())
  return max(height, 1e-9)


def deslant(strokes: list[np.ndarray]) -> list[np.ndarray]:
  """Shears the ink so its down strokes are upright: the slant is the
  length-weighted mean dx/dy of the segments steeper than 45 degrees."""
  segments = [np.diff(s, axis=0) for s in strokes if len(s) > 1]
  if not segments:
    return strokes
  d = np.concatenate(segments)
  steep = np.abs(d[:, 1]) > np.abs(d[:, 0])
  if not steep.any():
    return strokes
  lengths = np.hypot(d[steep, 0], d[steep, 1])
  shear = float(np.clip((d[steep, 0] / d[steep, 1] * lengths).sum() / lengths.sum(),
                        -MAX_SLANT, MAX_SLANT))
  middle = float(np.median(np.concatenate(strokes)[:, 1]))
  return [np.stack([s[:, 0] - shear * (s[:, 1] - middle), s[:, 1]], 1) for s in strokes]


def resample(stroke: np.ndarray, spacing: float) -> np.ndarray:
  """Points every `spacing` along the stroke (linear interpolation), its
  first and last point kept; a dot stays one point."""
  if len(stroke) < 2:
    return stroke[:1]
  steps = np.hypot(*np.diff(stroke, axis=0).T)
  arc = np.concatenate([[0.0], np.cumsum(steps)])
  if arc[-1] <= 0:
    return stroke[:1]
  count = max(2, int(np.ceil(arc[-1] / spacing)) + 1)
  at = np.linspace(0.0, arc[-1], count)
  return np.stack([np.interp(at, arc, stroke[:, 0]), np.interp(at, arc, stroke[:, 1])], 1)


def features(strokes: list[np.ndarray]) -> np.ndarray:
  """(T, NUM_FEATURES) float32: per point its move from the point before
  (dx, dy; across a pen lift the jump between strokes, clipped to
  MAX_JUMP), 1 where a stroke starts, and its height relative to the
  median height of the ink (y grows downwards)."""
  xy = np.concatenate(strokes)
  starts = np.zeros(len(xy), np.float32)
  starts[np.cumsum([0] + [len(s) for s in strokes[:-1]])] = 1.0
  moves = np.diff(xy, axis=0, prepend=xy[:1])
  moves = np.clip(moves, -MAX_JUMP, MAX_JUMP)
  height = xy[:, 1] - np.median(xy[:, 1])
  return np.concatenate([moves, starts[:, None], height[:, None]], 1).astype(np.float32)


def normalize(strokes: list[np.ndarray], spacing: float = SPACING) -> np.ndarray:
  """Strokes (any unit, any position) -> (T, NUM_FEATURES) model features."""
  strokes = [drop_repeats(s) for s in strokes]
  strokes = [s for s in strokes if len(s)]
  if not strokes:
    raise ValueError("no points")
  strokes = deskew(strokes)
  scale = body_height(strokes)
  origin = np.concatenate(strokes).min(0)
  strokes = [(s - origin) / scale for s in strokes]
  strokes = deslant(strokes)
  strokes = [resample(s, spacing) for s in strokes]
  return features(strokes)


def split_lines(strokes: list[np.ndarray], up: float = 4.0, merge: float = 1.0
                ) -> list[list[np.ndarray]]:
  """Ink written on several lines -> one list of strokes per line, top to
  bottom, each in writing order. Lines of handwriting overlap vertically
  (descenders, ascenders, lines that drift up or down), so no horizontal cut
  separates them; the order of writing does. With H the typical stroke
  height, a stroke starts a new line when it jumps back to the left (by more
  than 3 H) and down (its middle more than H below the line's), or lies more
  than 4 H below or `up` H above the line (a line written elsewhere); lines
  whose middles are within `merge` H are one line, and a "line" of small
  strokes only (dots, bars added later) joins the nearest line. Chosen on
  IAM-OnDB's validation forms with all their lines joined: 192 of 192 split
  exactly (moving every small stroke to its nearest line instead: 134;
  `up`=2: 150); experiments/ondb_lines.py measures the test forms."""
  if len(strokes) < 2:
    return [strokes]
  lows = np.array([float(np.min(s[:, 1])) for s in strokes])
  highs = np.array([float(np.max(s[:, 1])) for s in strokes])
  middles, heights = (lows + highs) / 2, highs - lows
  typical = float(np.median(heights[heights > 0])) if (heights > 0).any() else 1.0
  lines, current = [], [0]
  for k in range(1, len(strokes)):
    drop = middles[k] - float(np.median(middles[current]))
    back = float(strokes[k][0, 0]) - float(np.max(strokes[k - 1][:, 0]))
    if (back < -3 * typical and drop > typical) or drop > 4 * typical or drop < -up * typical:
      lines.append(current)
      current = []
    current.append(k)
  lines.append(current)
  centre = lambda line: float(np.median(middles[line]))
  big = sorted((l for l in lines if heights[l].max() >= 0.5 * typical), key=centre)
  if not big:
    return [strokes]
  merged = [big[0]]
  for line in big[1:]:
    if centre(line) - centre(merged[-1]) < merge * typical:
      merged[-1] = merged[-1] + line
    else:
      merged.append(line)
  for line in lines:
    if heights[line].max() < 0.5 * typical:   # small marks: to the nearest line
      nearest = int(np.argmin([abs(centre(line) - centre(m)) for m in merged]))
      merged[nearest] = merged[nearest] + line
  return [[strokes[i] for i in sorted(line)] for line in merged]
