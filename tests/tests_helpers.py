"""Helpers shared by test modules (importable; conftest fixtures are not)."""

import json

import cv2
import numpy as np

from configs import common
from conftest import synthetic_glyphs
from hwr_jax.training import classifier
from hwr_jax.data import idx


def glyph_files(folder, n: int, num_classes: int = 62) -> dict:
  """`n` synthetic glyphs (ByClass, or `num_classes`) as IDX files: config.data paths."""
  images, labels = synthetic_glyphs(n, num_classes)
  paths = {"train_images": str(folder / "i.gz"), "train_labels": str(folder / "l.gz")}
  idx.write_idx(paths["train_images"], np.swapaxes(images, 1, 2))
  idx.write_idx(paths["train_labels"], labels)
  return paths


def tiny_workdir(folder, label_space: str = "byclass") -> str:
  """Trains a classifier (ByClass, or another label space) for one short
  epoch on synthetic glyphs."""
  from hwr_jax.data import labels as label_maps
  paths = glyph_files(folder, 256, len(label_maps.charset(label_space)))
  config = common.get_base_config()
  config.data.update(source="idx", label_space=label_space, file_label_space=label_space,
                     validation_fraction=0.25, **paths)
  config.update(batch_size=64, eval_batch_size=64, num_epochs=1)
  workdir = str(folder / "workdir")
  classifier.train_and_evaluate(config, workdir)
  return workdir


def tiny_word_config(folder, num_epochs=2):
  """A words config on synthetic glyphs (62 classes), small enough for tests."""
  from configs import words as words_config
  images, labels = synthetic_glyphs(620, 62, seed=3, every_class=True)
  idx.write_idx(str(folder / "wi.gz"), np.swapaxes(images, 1, 2))
  idx.write_idx(str(folder / "wl.gz"), labels)
  config = words_config.get_config()
  config.data.update(train_images=str(folder / "wi.gz"), train_labels=str(folder / "wl.gz"),
                     validation_fraction=0.2)
  config.words.update(steps_per_epoch=12, num_validation_words=16, buckets=(48, 96, 192))
  config.update(batch_size=16, eval_batch_size=16, num_epochs=num_epochs, log_every_steps=4,
                learning_rate=3e-3)
  return config


# -- synthetic ink: letters drawn as strokes -------------------------------------

# Print letters as polylines in a unit box (y grows downwards), one list per stroke.
_CIRCLE = [(0.5 + 0.35 * np.sin(a), 0.65 - 0.35 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 13)]
LETTERS = {
    "l": [[(0.4, 0.0), (0.4, 1.0)]],
    "o": [_CIRCLE],
    "c": [[(0.85, 0.4), *_CIRCLE[3:10]]],
    "v": [[(0.0, 0.3), (0.45, 1.0), (0.9, 0.3)]],
    "x": [[(0.0, 0.3), (0.8, 1.0)], [(0.8, 0.3), (0.0, 1.0)]],
    "i": [[(0.3, 0.4), (0.3, 1.0)], [(0.3, 0.12), (0.33, 0.16)]],
    "z": [[(0.0, 0.3), (0.8, 0.3), (0.0, 1.0), (0.8, 1.0)]],
    "n": [[(0.0, 1.0), (0.0, 0.3), (0.7, 0.35), (0.75, 1.0)]],
}


def write_strokes(text: str, rng: np.random.Generator, origin=(0.0, 0.0)) -> list[np.ndarray]:
  """`text` written as strokes of (x, y, t) in tablet-like units: each
  letter's polylines scaled, slanted and shaken a little, left to right."""
  size = rng.uniform(40, 60)
  slant = rng.uniform(-0.3, 0.3)
  x, t, strokes = origin[0], 0.0, []
  for ch in text:
    if ch == " ":
      x += size * rng.uniform(0.8, 1.1)
      continue
    for poly in LETTERS[ch]:
      p = np.array(poly, np.float64) * size
      p[:, 0] += x - slant * (p[:, 1] - size)
      p[:, 1] += origin[1]
      p += rng.normal(0, size * 0.015, p.shape)
      times = t + np.arange(len(p)) * 0.02
      t = times[-1] + 0.1
      strokes.append(np.concatenate([p, times[:, None]], 1))
    x += size * rng.uniform(0.95, 1.2)
  return strokes


def random_text(rng: np.random.Generator) -> str:
  letters = list(LETTERS)
  words = ["".join(rng.choice(letters, rng.integers(2, 5))) for _ in range(rng.integers(1, 3))]
  return " ".join(words)


def write_json(path, strokes) -> None:
  path.write_text(json.dumps({"strokes": [[[float(x), float(y), float(t * 1000)]
                                          for x, y, t in s] for s in strokes]}))


def write_ink_folder(folder, n: int, seed: int = 0) -> list[str]:
  """`n` lines of synthetic ink as .ink.json files with labels.tsv."""
  rng = np.random.default_rng(seed)
  texts, lines = [], []
  for i in range(n):
    text = random_text(rng)
    write_json(folder / f"l{i}.ink.json", write_strokes(text, rng))
    texts.append(text)
    lines.append(f"l{i}.ink.json\t{text}")
  (folder / "labels.tsv").write_text("\n".join(lines) + "\n")
  return texts


def tiny_ink_config(folder, num_epochs: int = 20):
  from configs import ondb_lines
  config = ondb_lines.get_config()
  config.ink.update(source="folder", path=str(folder), buckets=(64, 128, 256),
                    max_label_length=16)
  config.model.update(conv_features=(48, 48), lstm_features=48, lstm_layers=1,
                      dropout_rate=0.1)
  config.data.validation_fraction = 0.1
  config.update(batch_size=16, eval_batch_size=32, num_epochs=num_epochs, learning_rate=3e-3,
                warmup_epochs=0.2, log_every_steps=10)
  return config


def launch_evaluate(workdir, folder, *flags):
  """`launch.py --mode=evaluate` on a workdir, with the run's own config.json
  as its config file; the finished process."""
  import subprocess
  import sys

  from conftest import ROOT
  config_py = folder / "run_config.py"
  config_py.write_text("import json\nimport ml_collections\n\n\ndef get_config():\n"
                       f"  return ml_collections.ConfigDict(json.load(open("
                       f"{str(workdir) + '/config.json'!r})))\n")
  return subprocess.run([sys.executable, "launch.py", f"--config={config_py}",
                         f"--workdir={workdir}", "--mode=evaluate", *flags],
                        cwd=ROOT, capture_output=True, text=True, timeout=600)


# -- synthetic pages: lines of the stroke letters drawn as images -------------------

def draw_line(text: str, rng: np.random.Generator, height: int = 48, thickness: int = 3,
              ink: int = 30) -> np.ndarray:
  """`text` in the stroke letters, drawn dark on white at about `height`
  pixels per letter (uint8 grey, cropped to the ink with a small margin)."""
  strokes = write_strokes(text, rng)
  points = np.concatenate(strokes)[:, :2]
  scale = height / 50.0
  x0, y0 = points.min(0) - 8 / scale
  w, h = (points.max(0) - points.min(0) + 16 / scale) * scale
  image = np.full((int(h) + 1, int(w) + 1), 255, np.uint8)
  for stroke in strokes:
    xy = ((stroke[:, :2] - (x0, y0)) * scale).round().astype(np.int32)
    cv2.polylines(image, [xy], False, int(ink), thickness, cv2.LINE_AA)
  return image


def compose_page(texts: list[str], rng: np.random.Generator, gap: float = 0.3,
                 angle: float = 0.0, height: int = 48, paper: int = 235, noise: float = 2.0,
                 ink: int = 30, bend: float = 0.0):
  """(page image, truth boxes x0, y0, x1, y1 of each line, top to bottom):
  the lines drawn one under another, `gap` letter heights apart (negative:
  descenders and ascenders overlap), turned by `angle` degrees, optionally
  bent (`bend`: the vertical sag of a line's ends, in letter heights)."""
  lines = [draw_line(t, rng, height, ink=ink) for t in texts]
  width = max(l.shape[1] for l in lines) + 120
  total = int(sum(l.shape[0] for l in lines) + gap * height * (len(lines) - 1)) + 120
  page = np.full((total, width), 255, np.uint8)
  boxes, y = [], 60
  for line in lines:
    h, w = line.shape
    region = page[y:y + h, 60:60 + w]
    np.minimum(region, line, out=region)
    boxes.append((60, y, 60 + w, y + h))
    y += int(h + gap * height)
  if bend:
    xs = np.arange(width, dtype=np.float32)
    sag = bend * height * ((xs - width / 2) / (width / 2)) ** 2
    map_y = (np.arange(total, dtype=np.float32)[:, None] - sag[None, :]).astype(np.float32)
    map_x = np.broadcast_to(xs[None, :], (total, width)).astype(np.float32)
    page = cv2.remap(page, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)
  if angle:
    turn = cv2.getRotationMatrix2D((width / 2, total / 2), angle, 1.0)
    page = cv2.warpAffine(page, turn, (width, total), borderValue=255)
  sheet = paper + rng.normal(0, noise, page.shape)
  page = np.clip(np.minimum(sheet, page.astype(np.float64)), 0, 255).astype(np.uint8)
  return page, boxes


def write_line_folder(folder, n: int, seed: int = 0) -> list[str]:
  """`n` line images of the stroke letters (1-2 words each) with labels.tsv."""
  rng = np.random.default_rng(seed)
  texts, rows = [], []
  for i in range(n):
    text = random_text(rng)
    cv2.imwrite(str(folder / f"l{i}.png"), draw_line(text, rng, height=int(rng.integers(36, 60))))
    texts.append(text)
    rows.append(f"l{i}.png\t{text}")
  (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
  return texts


def tiny_line_config(folder, num_epochs: int = 4):
  """A line model (its charset has a space) on a labels.tsv folder of lines."""
  from configs import words as words_config
  config = words_config.get_config()
  config.words.update(source="folder", path=str(folder), height=24, buckets=(64, 128, 256),
                      max_label_length=16)
  config.model.update(conv_features=32, dense_features=64, lstm_features=48, dropout_rate=0.1)
  config.data.validation_fraction = 0.1
  config.update(batch_size=16, eval_batch_size=32, num_epochs=num_epochs, learning_rate=3e-3,
                warmup_epochs=0.2, log_every_steps=10)
  return config
