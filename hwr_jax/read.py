"""Reading word and line images with the character classifier (segmentation
reader), from Python or the command line.

  hwr-read word.png line.jpg scans/ --workdir=runs/dev_byclass [--json] [--show=out.png]
  hwr-read word.png --workdir=runs/words --reader=crnn --decoder=beam_lm
  python -m hwr_jax.read word.png --workdir=runs/dev_byclass
"""

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

from hwr_jax import segment

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

# Letters whose lower- and uppercase forms have the same shape; only their
# size and position on the line tell them apart.
SAME_SHAPE = set("cmosuvwxzpy")
# Characters whose height marks the cap height / ascender line.
TALL = set("ABDEFGHJKLMNPQRTUY0123456789bdfhklt")
# Lowercase letters that mark the x-height.
X_HEIGHT = set("aenr")


class ReaderError(ValueError):
  """The workdir does not hold a character classifier this reader can use."""


@dataclasses.dataclass
class Character:
  char: str
  confidence: float
  box: tuple[int, int, int, int]   # x0, y0, x1, y1 in the input image's pixels


@dataclasses.dataclass
class Reading:
  text: str
  characters: list[Character]          # per character (segmentation reader)
  segmentation: segment.Segmentation | None = None
  confidence: float | None = None      # per word (CRNN reader)

  def to_json(self) -> dict:
    out = {"text": self.text}
    if self.confidence is not None:
      out["confidence"] = self.confidence
    if self.characters:
      out["characters"] = [dataclasses.asdict(c) for c in self.characters]
    return out


def letters_or_digits(probs: np.ndarray, charset: str) -> np.ndarray:
  """Words are letters or numbers, rarely a mix: when most characters of a
  word are more likely digits, every character is read as the best digit,
  otherwise as the best letter. Removes l/1, O/0, g/9, S/5 slips (and cannot
  read mixed strings such as 'B52'). Returns classes."""
  is_digit = np.array([c.isdigit() for c in charset])
  digit_mass = probs[:, is_digit].sum(1)
  allowed = is_digit if (digit_mass > 0.5).mean() > 0.5 else ~is_digit
  return np.where(allowed, probs, -1).argmax(-1)


def consistent_case(classes: np.ndarray, probs: np.ndarray, charset: str) -> np.ndarray:
  """Handwritten words are lowercase, Capitalized or ALL CAPS: the case most
  letters after the first have wins, and those letters are read as the best
  letter of that case (the first letter keeps its own). Returns classes."""
  chars = [charset[k] for k in classes]
  rest = [c for c in chars[1:] if c.isalpha()]
  if not rest:
    return classes
  upper = sum(c.isupper() for c in rest) > len(rest) / 2
  allowed = np.array([c.isupper() if upper else c.islower() for c in charset])
  forced = np.where(allowed, probs, -1).argmax(-1)
  out = np.array(classes)
  for i in range(1 if not upper else 0, len(out)):
    if chars[i].isalpha():
      out[i] = forced[i]
  return out


def case_by_size(chars: list[str], boxes, charset: str) -> list[int]:
  """Picks lower or upper case of same-shape letters (o/O, s/S, ...) from
  their height against the line: the tall characters' height (cap height)
  or, without any, the x-height letters' height. Returns class indices."""
  tops = np.array([b[1] for b in boxes], np.float32)
  bottoms = np.array([b[3] for b in boxes], np.float32)
  heights = bottoms - tops
  tall = [i for i, c in enumerate(chars) if c in TALL]
  small = [i for i, c in enumerate(chars) if c in X_HEIGHT]
  baseline = float(np.median(bottoms))
  classes = [charset.index(c) for c in chars]
  for i, c in enumerate(chars):
    if c.lower() not in SAME_SHAPE or c.lower() not in charset or c.upper() not in charset:
      continue
    above = baseline - tops[i]   # how far the glyph reaches above the baseline
    if tall:
      is_upper = above > 0.8 * float(np.median(baseline - tops[tall]))
    elif small:
      is_upper = heights[i] > 1.3 * float(np.median(heights[small]))
    else:
      continue  # no reference on this line: keep the classifier's choice
    classes[i] = charset.index(c.upper() if is_upper else c.lower())
  return classes


def _words(n: int, spaces_before: list[int]):
  """(start, end) index ranges of the words of a line."""
  edges = [0] + list(spaces_before) + [n]
  return list(zip(edges[:-1], edges[1:]))


class SegmentationReader:
  """Segments an image into characters and classifies them in one batched,
  jit-compiled call."""

  def __init__(self, workdir: str, checkpoint: str = "best", use_case_by_size: bool = True,
               use_word_rules: bool = True):
    import jax
    from hwr_jax import checkpoints, train
    from hwr_jax.data import labels
    config = _load_config(workdir, "cnn", "the segmentation reader needs a character "
                          "classifier (python launch.py --config=configs/dev_byclass.py)")
    self.charset = labels.charset(config.data.label_space)
    state = train.create_train_state(config, len(self.charset), 1)
    state, _ = checkpoints.restore_for_inference(workdir, config.to_dict(), state, checkpoint)
    self.params = state.params
    apply = state.apply_fn
    self._probs = jax.jit(lambda p, x: jax.nn.softmax(apply({"params": p}, train.preprocess(x))))
    self.use_case_by_size = use_case_by_size
    self.use_word_rules = use_word_rules

  def classify(self, crops: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 crops -> (n, K) probabilities. Batches are padded to
    a power of two (at least 16) so only a few shapes are ever compiled."""
    n = len(crops)
    size = max(16, 1 << (n - 1).bit_length())
    padded = np.zeros((size, 28, 28), np.uint8)
    padded[:n] = crops
    return np.asarray(self._probs(self.params, padded))[:n]

  def read(self, image: np.ndarray) -> Reading:
    seg = segment.segment(image)
    probs = self.classify(seg.crops)
    classes = probs.argmax(-1)
    for start, end in _words(len(classes), seg.spaces_before):
      if self.use_word_rules:
        classes[start:end] = letters_or_digits(probs[start:end], self.charset)
      if self.use_case_by_size:
        classes[start:end] = case_by_size([self.charset[k] for k in classes[start:end]],
                                          seg.boxes[start:end], self.charset)
      if self.use_word_rules:
        classes[start:end] = consistent_case(classes[start:end], probs[start:end], self.charset)
    characters, text = [], ""
    for i, (k, box) in enumerate(zip(classes, seg.boxes)):
      char = self.charset[k]
      # Same-shape letters: the confidence is that of the letter, either case.
      other = char.swapcase()
      confidence = probs[i, k] + (probs[i, self.charset.index(other)]
                                  if other != char and other in self.charset and
                                  char.lower() in SAME_SHAPE else 0.0)
      if i in seg.spaces_before:
        text += " "
      text += char
      characters.append(Character(char, round(float(confidence), 4), seg.input_box(box)))
    return Reading(text, characters, seg)

  def read_file(self, path: str) -> Reading:
    return self.read(load_image(path))


def load_image(path: str) -> np.ndarray:
  import cv2
  if not os.path.exists(path):
    raise segment.ImageError("file not found")
  image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
  if image is None:
    raise segment.ImageError("not a readable image (unknown format or corrupt file)")
  return image


class CRNNReader:
  """Reads whole word images with a trained CRNN and a CTC decoder."""

  def __init__(self, workdir: str, checkpoint: str = "best", decoder: str = "best_path",
               beam_width: int = 16, lexicon_path: str | None = None):
    import jax
    from hwr_jax import checkpoints, parallel, train_words
    from hwr_jax.ctc.decode import DECODERS, TextDecoder
    from hwr_jax.ctc.language import CharNgramLM, Lexicon
    from hwr_jax.data import labels, words
    if decoder not in DECODERS:
      raise ReaderError(f"Unknown decoder {decoder!r}; choose from {DECODERS}.")
    config = _load_config(workdir, "crnn", "the CRNN reader needs a word model "
                          "(python launch.py --config=configs/words.py)")
    config.init_from = ""   # the checkpoint holds every weight
    self.config, self.decoder_name = config, decoder
    self.charset = labels.charset(config.data.label_space)
    state = train_words.create_train_state(config, self.charset)
    state, _ = checkpoints.restore_for_inference(workdir, config.to_dict(), state, checkpoint)
    self.mesh = parallel.make_mesh()
    self.state = jax.device_put(state, parallel.replicated(self.mesh))
    self._predict = jax.jit(train_words.predict_step)
    self._probs_fn = train_words.predict_probs
    lm = lexicon = None
    if decoder == "beam_lm":
      texts = words.sample_texts(20000, np.random.default_rng(0))
      lm = CharNgramLM(texts, order=4)
    if decoder == "lexicon":
      if lexicon_path:
        lexicon = Lexicon.from_file(lexicon_path)
      else:
        vocabulary, weights = words.word_list()
        lexicon = Lexicon(vocabulary, weights)
    self.decoder = TextDecoder(self.charset, beam_width=beam_width, lm=lm, lexicon=lexicon)

  def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
    size = min(self.config.eval_batch_size, max(8, 1 << (len(images) - 1).bit_length()))
    size -= size % self.mesh.size
    return self._probs_fn(self.state, self._predict, images, self.config, self.mesh,
                          batch_size=max(size, self.mesh.size))

  def read_many(self, images: list[np.ndarray]) -> list[Reading]:
    """Reads a list of word images in batches; the confidence of a word is
    P(text | image) under the model (CTC, summed over alignments)."""
    from hwr_jax.ctc.decoders import ctc_log_prob
    readings = []
    for probs in self.probabilities(images):
      text, _ = self.decoder.decode(probs, self.decoder_name)
      confidence = float(np.exp(ctc_log_prob(probs, [self.charset.index(c) + 1 for c in text])))
      readings.append(Reading(text, [], None, round(confidence, 4)))
    return readings

  def read(self, image: np.ndarray) -> Reading:
    return self.read_many([image])[0]

  def read_file(self, path: str) -> Reading:
    image = segment.to_gray(load_image(path))
    if not segment.ink_mask(image).any():
      raise segment.ImageError("no ink found (blank or nearly uniform image)")
    return self.read(image)


def _load_config(workdir: str, model_name: str, what: str):
  from hwr_jax import checkpoints
  config = checkpoints.load_workdir_config(workdir)
  if config is None:
    raise ReaderError(f"{workdir} holds no config.json: not a workdir of a trained "
                      f"model. {what}.")
  found = config.get("model", {}).get("name")
  if found != model_name:
    raise ReaderError(f"{workdir} holds a {found!r} model; {what}.")
  return config


def show(reading: Reading, out_png: str, title: str = "") -> None:
  """Writes a picture of the segmentation: boxes and predictions on the
  image, and below it each 28x28 crop the model saw."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  seg = reading.segmentation
  n = max(1, len(reading.characters))
  fig = plt.figure(figsize=(max(6, 0.9 * n), 4.2))
  top = fig.add_axes([0.02, 0.4, 0.96, 0.55])
  top.imshow(seg.gray, cmap="gray", vmin=0, vmax=255)
  for c, (x0, y0, x1, y1) in zip(reading.characters, seg.boxes):
    top.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                edgecolor="red", linewidth=1))
    top.text(x0, y0 - 2, c.char, color="red", fontsize=11, va="bottom")
  top.set_title(f"{title}  ->  {reading.text!r}" if title else repr(reading.text))
  top.axis("off")
  for i, (c, crop) in enumerate(zip(reading.characters, seg.crops)):
    ax = fig.add_axes([0.02 + 0.96 * i / n, 0.05, 0.96 / n * 0.9, 0.28])
    ax.imshow(crop, cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"{c.char} {c.confidence:.2f}", fontsize=9)
    ax.axis("off")
  fig.savefig(out_png, dpi=100)
  plt.close(fig)


def expand_paths(paths: list[str]) -> list[str]:
  files = []
  for path in paths:
    if os.path.isdir(path):
      files += sorted(os.path.join(path, f) for f in os.listdir(path)
                      if f.lower().endswith(IMAGE_EXTENSIONS))
    else:
      files.append(path)
  return files


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="hwr-read", description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("images", nargs="+", help="image files or folders of images")
  parser.add_argument("--workdir", required=True, help="workdir of a trained model")
  parser.add_argument("--reader", default="segment", choices=["segment", "crnn"],
                      help="segment: cut into characters and classify them (a classifier "
                           "workdir); crnn: read whole words (a configs/words.py workdir)")
  parser.add_argument("--decoder", default="best_path",
                      choices=["best_path", "beam", "beam_lm", "lexicon"], help="crnn: CTC decoder")
  parser.add_argument("--beam-width", type=int, default=16, help="crnn: beam width")
  parser.add_argument("--lexicon", metavar="FILE",
                      help="crnn --decoder=lexicon: word list (one word per line, optional "
                           "count); default: the 20,000 most frequent English words")
  parser.add_argument("--checkpoint", default="best", help="'best', 'latest' or a step")
  parser.add_argument("--json", action="store_true", help="print one JSON object per image")
  parser.add_argument("--show", metavar="OUT.png",
                      help="write a picture of the segmentation (one image: this file; "
                           "several: OUT-<name>.png)")
  parser.add_argument("--no-case-by-size", action="store_true",
                      help="leave o/O, s/S, ... to the classifier alone")
  parser.add_argument("--no-word-rules", action="store_true",
                      help="do not make a word all letters or all digits, nor one case")
  args = parser.parse_args(argv)
  files = expand_paths(args.images)
  if not files:
    parser.error("no images found")
  try:
    if args.reader == "crnn":
      reader = CRNNReader(args.workdir, args.checkpoint, args.decoder, args.beam_width,
                          args.lexicon)
    else:
      reader = SegmentationReader(args.workdir, args.checkpoint,
                                  use_case_by_size=not args.no_case_by_size,
                                  use_word_rules=not args.no_word_rules)
  except (ReaderError, ValueError, OSError) as e:  # OSError: FileNotFoundError too
    print(f"error: {e}", file=sys.stderr)
    return 2
  failures = 0
  for path in files:
    try:
      reading = reader.read_file(path)
    except segment.ImageError as e:
      failures += 1
      message = f"{path}: cannot read: {e}"
      print(json.dumps({"file": path, "error": str(e)}) if args.json else message,
            file=sys.stdout if args.json else sys.stderr)
      continue
    if args.json:
      print(json.dumps({"file": path, **reading.to_json()}))
    elif reading.confidence is not None:
      print(f"{path}\t{reading.text}\t{reading.confidence:.2f}")
    else:
      confidences = " ".join(f"{c.char}:{c.confidence:.2f}" for c in reading.characters)
      print(f"{path}\t{reading.text}\t{confidences}")
    if args.show and reading.segmentation is not None:
      out = args.show if len(files) == 1 else \
          f"{os.path.splitext(args.show)[0]}-{os.path.splitext(os.path.basename(path))[0]}.png"
      show(reading, out, os.path.basename(path))
  return 1 if failures else 0


if __name__ == "__main__":
  sys.exit(main())
