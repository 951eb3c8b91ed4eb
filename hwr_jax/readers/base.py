"""What both readers share: the reading they return, image files, and
reading in batches (one model call for many images)."""

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hwr_jax.checkpoints import ModelLoadError as ReaderError  # noqa: F401  (the workdir's fault)
from hwr_jax.data.ink_files import InkError
from hwr_jax.preprocess import characters
from hwr_jax.preprocess.image import MAX_PIXELS, ImageError  # noqa: F401  (the image's fault)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
# What a reader says of an input it cannot read (the input's fault, not the model's).
INPUT_ERRORS = (ImageError, InkError)
# In folders, the ink reader reads these (a named file may also be any .json).
INK_FOLDER_EXTENSIONS = (".xml", ".inkml", ".ink.json")


def expand_paths(paths: list[str], extensions: tuple[str, ...]) -> list[str]:
  """Files named, and the files of folders (searched recursively, in sorted
  order) whose names end in one of `extensions`."""
  files = []
  for path in paths:
    if os.path.isdir(path):
      found = [os.path.join(root, f) for root, _, names in os.walk(path) for f in names
               if f.lower().endswith(extensions)]
      files += sorted(found)
    else:
      files.append(path)
  return files



@dataclasses.dataclass
class Word:
  text: str
  box: tuple[float, float, float, float]   # x0, y0, x1, y1 in the input's coordinates


@dataclasses.dataclass
class Line:
  text: str
  confidence: float
  box: tuple[float, float, float, float]   # x0, y0, x1, y1 in the input's coordinates
  words: list[Word] | None = None          # pages: each word with its box


@dataclasses.dataclass
class Character:
  char: str
  confidence: float
  box: tuple[int, int, int, int]   # x0, y0, x1, y1 in the input image's pixels


@dataclasses.dataclass
class Reading:
  text: str
  characters: list[Character]          # per character (segmentation reader)
  segmentation: characters.Segmentation | None = dataclasses.field(default=None, repr=False)
  confidence: float | None = None      # per word (CRNN reader): P(text | image)
  error: str | None = None             # read_many: why this image could not be read
  frames: np.ndarray | None = dataclasses.field(  # CRNN: (T, K + 1) per-frame probabilities
      default=None, repr=False)
  lines: list[Line] | None = None      # ink, pages: one per line of writing, top to bottom
  notes: list[str] = dataclasses.field(default_factory=list)   # what was repaired in the input

  def to_json(self) -> dict:
    if self.error is not None:
      return {"error": self.error}
    out = {"text": self.text}
    if self.confidence is not None:
      out["confidence"] = self.confidence
    if self.characters:
      out["characters"] = [dataclasses.asdict(c) for c in self.characters]
    if self.lines is not None:
      out["lines"] = [{k: v for k, v in dataclasses.asdict(l).items() if v is not None}
                      for l in self.lines]
    if self.notes:
      out["notes"] = self.notes
    return out


def load_image(path: str) -> np.ndarray:
  """An image file as OpenCV reads it (any depth and channels); ImageError
  when it is missing or not a readable image. `scan.tif[3]` is the third
  page of a multi-page TIFF (`image_pages`)."""
  import cv2
  page = None
  if path.endswith("]") and "[" in path and not os.path.exists(path):
    path, number = path[:-1].rsplit("[", 1)
    page = int(number) if number.isdigit() and int(number) >= 1 else None
  if not os.path.exists(path):
    raise ImageError("file not found")
  check_header(path)
  if page is not None:
    ok, images = cv2.imreadmulti(path, start=page - 1, count=1, flags=cv2.IMREAD_UNCHANGED)
    image = images[0] if ok and images else None
  else:
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
  if image is None:
    raise ImageError("not a readable image (unknown format or corrupt file)")
  return image


def check_header(path: str) -> None:
  """ImageError for an empty file, or an image whose header says it has more
  than MAX_PIXELS, before anything is decoded (memory stays bounded)."""
  import warnings

  from PIL import Image
  if os.path.getsize(path) == 0:
    raise ImageError("the file is empty")
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    try:
      with Image.open(path) as header:
        width, height = header.size
    except Image.DecompressionBombError as e:   # over PIL's own limit: far too large
      raise ImageError(f"the image is too large ({e}); scale it down or crop it to the text"
                       ) from None
    except Exception:   # PIL raises many kinds for what it cannot read; OpenCV may still
      return
  if width * height > MAX_PIXELS:
    raise ImageError(f"image of {width}x{height} pixels is too large (over "
                     f"{MAX_PIXELS // 1_000_000} MP); scale it down or crop it to the text")


def page_picture(image: np.ndarray, reading) -> np.ndarray:
  """A page reading as a picture (BGR): the page with its line boxes (blue)
  and word boxes (red), and beside it each line's text at its line's height."""
  import cv2
  from hwr_jax.preprocess.image import to_gray
  page = cv2.cvtColor(to_gray(image), cv2.COLOR_GRAY2BGR)
  h, w = page.shape[:2]
  scale = max(0.5, float(np.median([l.box[3] - l.box[1] for l in reading.lines])) / 60)
  panel = np.full((h, max(w, 400), 3), 255, np.uint8)
  for line in reading.lines:
    x0, y0, x1, y1 = (int(round(v)) for v in line.box)
    cv2.rectangle(page, (x0, y0), (x1, y1), (200, 80, 0), max(1, int(2 * scale)))
    for word in line.words or []:
      a, b, c, d = (int(round(v)) for v in word.box)
      cv2.rectangle(page, (a, b), (c, d), (0, 0, 220), max(1, int(scale)))
    cv2.putText(panel, f"{line.text}  ({line.confidence:.2f})", (10, (y0 + y1) // 2),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (0, 0, 0), max(1, int(2 * scale)),
                cv2.LINE_AA)
  return np.hstack([page, panel])


def image_pages(path: str) -> list[str]:
  """The pages of an image file to read: `path` itself, or for a TIFF of
  several pages `path[1]`, `path[2]`, ... (what `load_image` reads)."""
  import cv2
  if not path.lower().endswith((".tif", ".tiff")) or not os.path.isfile(path):
    return [path]
  try:
    count = cv2.imcount(path)
  except cv2.error:
    return [path]
  return [path] if count <= 1 else [f"{path}[{k}]" for k in range(1, count + 1)]


class Reader:
  """Reads word or line images in three stages, which subclasses implement:
  `prepare` (one image, CPU: segmentation or resizing; raises ImageError
  when there is nothing to read), `predict` (a batch: one compiled model
  call) and `finish` (a batch: decoding, word rules). Reading files runs the
  stages of consecutive batches at once: while the model reads batch k, a
  thread prepares batch k + 1 and another finishes batch k - 1."""

  input_error = ImageError   # what `read` raises for an input with nothing to read

  def prepare(self, image: np.ndarray):
    raise NotImplementedError

  def load(self, path: str):
    """What `prepare` takes, from a file (images; the ink reader: ink files)."""
    return load_image(path)

  def predict(self, prepared: list):
    raise NotImplementedError

  def finish(self, prepared: list, predicted) -> list[Reading]:
    raise NotImplementedError

  def _prepare_all(self, images) -> list:
    """`prepare` of each image; a Reading with `error` for those that fail."""
    out = []
    for image in images:
      try:
        if isinstance(image, Exception):
          raise image
        out.append(self.prepare(image))
      except INPUT_ERRORS as e:
        out.append(Reading("", [], error=str(e)))
    return out

  def _predict_good(self, prepared: list):
    good = [p for p in prepared if not isinstance(p, Reading)]
    return good, (self.predict(good) if good else None)

  def _finish_all(self, prepared: list, good: list, predicted) -> list[Reading]:
    readings = iter(self.finish(good, predicted) if good else [])
    return [p if isinstance(p, Reading) else next(readings) for p in prepared]

  def _load_or_error(self, path: str):
    try:
      return self.load(path)
    except INPUT_ERRORS as e:
      return e

  def read_many(self, images: list[np.ndarray]) -> list[Reading]:
    """Readings of many images, batched; an image that cannot be read gets
    a Reading with `error` set (and empty text) and the others go on."""
    prepared = self._prepare_all(images)
    return self._finish_all(prepared, *self._predict_good(prepared))

  def read(self, image: np.ndarray) -> Reading:
    """One image -> Reading; ImageError when it holds nothing to read."""
    reading = self.read_many([image])[0]
    if reading.error is not None:
      raise self.input_error(reading.error)
    return reading

  def read_file(self, path: str) -> Reading:
    return self.read(self.load(path))

  def read_files(self, paths: list[str], batch_size: int = 128) -> list[Reading]:
    """Readings of image files, in order; a file that cannot be read or holds
    nothing to read gets a Reading with `error` set."""
    return [reading for _, reading in self.iter_files(paths, batch_size)]

  def iter_files(self, paths: list[str], batch_size: int = 128):
    """Yields (path, Reading) in order, `batch_size` files per model call."""
    def load_and_prepare(batch):
      return self._prepare_all(self._load_or_error(p) for p in batch)
    batches = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    if not batches:
      return
    with ThreadPoolExecutor(1) as loader, ThreadPoolExecutor(1) as finisher:
      loading = loader.submit(load_and_prepare, batches[0])
      finishing = None
      for k, batch in enumerate(batches):
        prepared = loading.result()
        if k + 1 < len(batches):
          loading = loader.submit(load_and_prepare, batches[k + 1])
        good, predicted = self._predict_good(prepared)
        if finishing is not None:
          yield from finishing.result()
        finishing = finisher.submit(
            lambda b, p, g, o: list(zip(b, self._finish_all(p, g, o))),
            batch, prepared, good, predicted)
      yield from finishing.result()


def decode(decoder, name: str, charset: str, probs: np.ndarray) -> tuple[str, float]:
  """(text, confidence) of a (T, K + 1) probability matrix read with the CTC
  decoder `name`: the confidence is P(text | input) under the model (CTC,
  summed over alignments)."""
  from hwr_jax.ctc.decoders import ctc_log_prob
  text, score = decoder.decode(probs, name)
  if name != "best_path":   # best path's score is already this CTC probability
    score = ctc_log_prob(probs, [charset.index(c) + 1 for c in text])
  return text, significant(np.exp(score))


def significant(p: float) -> float:
  """A probability to 4 significant digits: a long line's P(text | image) is
  small, and rounding it to decimals would make it 0."""
  return float(f"{float(p):.4g}")


def expect_model(workdir: str, model_name: str, what: str) -> None:
  """Refuses, with a message that says what to train, a workdir that holds no
  trained model or another kind of model than `model_name`."""
  from hwr_jax.checkpoints import load_workdir_config
  config = load_workdir_config(workdir)
  if config is None:
    raise ReaderError(f"{workdir} holds no config.json: not a workdir of a trained "
                      f"model. {what}.")
  found = config.get("model", {}).get("name")
  if found != model_name:
    raise ReaderError(f"{workdir} holds a {found!r} model; {what}.")
