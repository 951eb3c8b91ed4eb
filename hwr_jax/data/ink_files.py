"""Digital ink from files: strokes of (x, y, t) points.

Ink is a list of strokes, each a float64 array (n, 3) of x, y and t: x grows to
the right and y downwards (as on screens and in IAM-OnDB), in any unit (pixels,
tablet units); t in seconds, NaN where the file has no times. Three formats:

  IAM-OnDB line XML (`.xml`)  WhiteboardCaptureSession > StrokeSet > Stroke >
                              Point x= y= time= (seconds)
  W3C InkML (`.inkml`)        the subset most writers use: <trace> elements of
                              comma-separated points "x y [t]" (channel order from
                              <traceFormat>, default X Y T; T in milliseconds when
                              the format says so: `units="ms"`, else as written)
  JSON (`.ink.json`, `.json`) a list of strokes, each a list of [x, y] or [x, y, t]
                              points (t in milliseconds), or {"strokes": that list}

XML is parsed with defusedxml: no entity expansion, no external entities.
Every problem is one InkError that says what is wrong with the file.
"""

import json
import math
import os

import numpy as np

INK_EXTENSIONS = (".xml", ".inkml", ".ink.json", ".json")
MAX_POINTS = 2_000_000
MAX_COORDINATE = 1e7   # larger magnitudes are no pen coordinates
# Clock jitter: IAM-OnDB has points up to 0.03 s earlier than the one before.
TIME_JITTER = 0.05     # seconds


class InkError(ValueError):
  """The ink cannot be read or holds nothing to read."""


def is_ink_file(path: str) -> bool:
  return path.lower().endswith(INK_EXTENSIONS)


def check_strokes(strokes: list[np.ndarray], notes: list[str] | None = None
                  ) -> list[np.ndarray]:
  """The strokes as (n, 3) float64 arrays, or InkError: no points, a single
  point, NaN or infinite coordinates, absurd ranges. Times that go backwards
  (by more than clock jitter; 45 of IAM-OnDB's 12,195 lines do, some by an
  hour) are not used: they become NaN and `notes` says so. Nothing here reads
  times: the points' order is the order of writing."""
  out = []
  for k, stroke in enumerate(strokes):
    stroke = np.asarray(stroke, np.float64)
    if stroke.ndim != 2 or stroke.shape[1] not in (2, 3):
      raise InkError(f"stroke {k + 1}: expected points of (x, y) or (x, y, t), got shape "
                     f"{stroke.shape}")
    if len(stroke) == 0:
      continue
    if stroke.shape[1] == 2:
      stroke = np.concatenate([stroke, np.full((len(stroke), 1), np.nan)], 1)
    if not np.isfinite(stroke[:, :2]).all():
      raise InkError(f"stroke {k + 1}: NaN or infinite coordinates")
    if np.abs(stroke[:, :2]).max() > MAX_COORDINATE:
      raise InkError(f"stroke {k + 1}: coordinates beyond +-{MAX_COORDINATE:g} "
                     "(not pen coordinates)")
    out.append(stroke)
  points = sum(len(s) for s in out)
  if points == 0:
    raise InkError("no ink: the file holds no points")
  if points > MAX_POINTS:
    raise InkError(f"{points:,} points: more than {MAX_POINTS:,} (not one page of writing)")
  xy = np.concatenate([s[:, :2] for s in out])
  if len(xy) < 2 or np.ptp(xy, 0).max() == 0:
    raise InkError("no ink: a single point (nothing written)")
  times = np.concatenate([s[:, 2] for s in out])
  known = times[np.isfinite(times)]
  steps = np.diff(known)
  if len(known) and (steps < -TIME_JITTER).any():
    where = int(np.argmax(steps < -TIME_JITTER)) + 1
    if notes is not None:
      notes.append(f"times go backwards by {-steps.min():.3g} s (at point {where + 1} of "
                   f"{len(known)}); the times were ignored, the points' order is used")
    for stroke in out:
      stroke[:, 2] = np.nan
  return out


def _parse_xml(path: str):
  from defusedxml import ElementTree
  from defusedxml.common import DefusedXmlException
  try:
    return ElementTree.parse(path).getroot()
  except DefusedXmlException as e:
    raise InkError(f"refused unsafe XML ({type(e).__name__}: entities or DTDs are not "
                   "read)") from None
  except ElementTree.ParseError as e:
    raise InkError(f"not well-formed XML ({e})") from None


def _local(tag: str) -> str:
  return tag.rsplit("}", 1)[-1]


def _number(value: str, what: str) -> float:
  try:
    return float(value)
  except (TypeError, ValueError):
    raise InkError(f"{what}: {value!r} is not a number") from None


def read_ondb_xml(path: str, notes: list[str] | None = None) -> list[np.ndarray]:
  """The strokes of an IAM-OnDB line file (times in seconds)."""
  root = _parse_xml(path)
  strokes = []
  for stroke in root.iter():
    if _local(stroke.tag) != "Stroke":
      continue
    points = [(_number(p.get("x"), "x"), _number(p.get("y"), "y"),
               _number(p.get("time", "nan"), "time"))
              for p in stroke if _local(p.tag) == "Point"]
    strokes.append(np.array(points, np.float64).reshape(-1, 3))
  if not strokes:
    raise InkError("no <Stroke> elements (not IAM-OnDB line XML)")
  return check_strokes(strokes, notes)


def read_inkml(path: str, notes: list[str] | None = None) -> list[np.ndarray]:
  """The traces of an InkML file as strokes (see the module docstring)."""
  root = _parse_xml(path)
  if _local(root.tag) != "ink":
    raise InkError(f"the root element is <{_local(root.tag)}>, not <ink> (not InkML)")
  channels, time_scale = ["X", "Y", "T"], 1.0
  for element in root.iter():
    if _local(element.tag) == "traceFormat":
      found = [c for c in element if _local(c.tag) == "channel"]
      if found:
        channels = [c.get("name", "").upper() for c in found]
        for c in found:
          if c.get("name", "").upper() == "T" and c.get("units", "").lower() == "ms":
            time_scale = 1e-3
      break
  if "X" not in channels or "Y" not in channels:
    raise InkError(f"the trace format has no X and Y channels ({channels})")
  columns = [channels.index("X"), channels.index("Y")]
  t_column = channels.index("T") if "T" in channels else None
  strokes = []
  for trace in root.iter():
    if _local(trace.tag) != "trace":
      continue
    points = []
    for n, point in enumerate(filter(str.strip, (trace.text or "").split(",")), 1):
      values = [_number(v, f"trace {len(strokes) + 1}, point {n}") for v in point.split()]
      if len(values) < 2:
        raise InkError(f"trace {len(strokes) + 1}, point {n}: fewer than 2 values")
      if len(values) < len(channels) and len(values) <= max(columns):
        raise InkError(f"trace {len(strokes) + 1}, point {n}: {len(values)} values for the "
                       f"channels {channels}")
      t = values[t_column] * time_scale if t_column is not None and t_column < len(values) \
          else math.nan
      points.append((values[columns[0]], values[columns[1]], t))
    strokes.append(np.array(points, np.float64).reshape(-1, 3))
  if not strokes:
    raise InkError("no <trace> elements")
  return check_strokes(strokes, notes)


def strokes_from_json(data, notes: list[str] | None = None) -> list[np.ndarray]:
  """Strokes from parsed JSON: a list of strokes of [x, y] / [x, y, t] points
  (t in milliseconds), or {"strokes": that list}."""
  if isinstance(data, dict):
    data = data.get("strokes")
  if not isinstance(data, list) or not all(isinstance(s, list) for s in data):
    raise InkError('expected a list of strokes, each a list of [x, y] or [x, y, t] points, '
                   'or {"strokes": that list}')
  strokes = []
  for k, stroke in enumerate(data):
    if not all(isinstance(p, list) and len(p) in (2, 3) and
               all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
               for p in stroke):
      raise InkError(f"stroke {k + 1}: every point must be [x, y] or [x, y, t] numbers")
    points = np.array([p if len(p) == 3 else p + [math.nan] for p in stroke],
                      np.float64).reshape(-1, 3)
    points[:, 2] /= 1000.0   # ms -> s
    strokes.append(points)
  return check_strokes(strokes, notes)


def read_json(path: str, notes: list[str] | None = None) -> list[np.ndarray]:
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except UnicodeDecodeError:
    raise InkError("not UTF-8 text (not JSON)") from None
  except json.JSONDecodeError as e:
    raise InkError(f"not valid JSON ({e})") from None
  return strokes_from_json(data, notes)


def read_ink(path: str, notes: list[str] | None = None) -> list[np.ndarray]:
  """The strokes of an ink file, by its extension; InkError for anything that
  is missing, unreadable or holds no ink; what was repaired goes to `notes`."""
  if not os.path.isfile(path):
    raise InkError("file not found")
  lower = path.lower()
  try:
    if lower.endswith(".inkml"):
      return read_inkml(path, notes)
    if lower.endswith(".json"):
      return read_json(path, notes)
    if lower.endswith(".xml"):
      return read_ondb_xml(path, notes)
  except OSError as e:
    raise InkError(f"cannot be read ({e.strerror or e})") from None
  raise InkError(f"not an ink file (known: {', '.join(INK_EXTENSIONS)})")
