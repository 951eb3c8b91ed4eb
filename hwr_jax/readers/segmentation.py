"""The segmentation reader: cut a word or line image into characters
(`hwr_jax/preprocess/characters.py`), classify all of them in one compiled call, then apply
the word rules (`rules.py`), or read each word as the best dictionary word
(`decoder="lexicon"`: the characters' distributions as a CTC matrix,
`hwr_jax/ctc/dictionary.py`)."""

import numpy as np

from hwr_jax.preprocess import characters
from hwr_jax.readers import rules
from hwr_jax.readers.base import Character, Reader, ReaderError, Reading, expect_model


def _words(n: int, spaces_before: list[int]):
  """(start, end) index ranges of the words of a line."""
  edges = [0] + list(spaces_before) + [n]
  return list(zip(edges[:-1], edges[1:]))


class SegmentationReader(Reader):
  """Segments images into characters and classifies them with a character
  classifier (a configs/balanced.py, byclass.py or dev_*.py workdir)."""

  def __init__(self, workdir: str, checkpoint: str = "best", use_case_by_size: bool = True,
               use_word_rules: bool = True, model=None,
               decoder: str = "best_path", lexicon_path: str | None = None):
    if model is None:
      expect_model(workdir, "cnn", "the segmentation reader needs a character classifier "
                   "(python launch.py --config=configs/dev_byclass.py)")
      from hwr_jax import inference   # (here: a model given, e.g. onnxruntime's, needs no JAX)
      model = inference.load_model(workdir, checkpoint, model_name="cnn")
    self.model = model
    self.charset = self.model.charset
    self.use_case_by_size = use_case_by_size
    self.use_word_rules = use_word_rules
    if decoder not in ("best_path", "lexicon"):
      raise ReaderError(f"The segmentation reader reads each character's best class "
                        f"(best_path, with its word rules) or the best dictionary word "
                        f"(lexicon), not {decoder!r}.")
    self.dictionary, self.class_prior = None, None
    if decoder == "lexicon":
      from hwr_jax.data import vocabulary
      counts = vocabulary.read_class_counts(workdir, self.charset) if workdir else None
      if counts is not None:
        self.class_prior = np.maximum(counts, 1) / np.maximum(counts, 1).sum()
      from hwr_jax.ctc.dictionary import DictionaryDecoder
      from hwr_jax.language.defaults import default_lexicon
      from hwr_jax.language.lexicon import Lexicon
      lexicon = Lexicon.from_file(lexicon_path) if lexicon_path else default_lexicon()
      # Closed vocabulary: an open reading never won on the calibration words
      # (experiments/dictionary_decoding.py).
      # Capitalized 0.2: calibrated for this reader as the margin was.
      self.dictionary = DictionaryDecoder(self.charset, lexicon, fallback=False,
                                          case_log_priors={"capitalized": np.log(0.2)})

  def prepare(self, image: np.ndarray) -> characters.Segmentation:
    return characters.segment(image)

  def predict(self, segmentations: list[characters.Segmentation]) -> np.ndarray:
    """All characters of all images classified in one call."""
    return self.model.classify(np.concatenate([s.crops for s in segmentations]))

  def finish(self, segmentations: list[characters.Segmentation], probs: np.ndarray
             ) -> list[Reading]:
    readings, start = [], 0
    for seg in segmentations:
      readings.append(self._reading(seg, probs[start:start + len(seg.crops)]))
      start += len(seg.crops)
    return readings

  def _dictionary_reading(self, seg: characters.Segmentation, probs: np.ndarray) -> Reading:
    """Each word of the line as the best dictionary word (or number) for its
    characters' distributions; per-character results where the word has as
    many characters as segments."""
    from hwr_jax.ctc.dictionary import segments_as_frames
    words, characters, optical = [], [], 0.0
    for start, end in _words(len(probs), seg.spaces_before):
      found = self.dictionary.decode(segments_as_frames(self._likelihoods(
          probs[start:end], seg.boxes[start:end])), kind="probs")
      words.append(found.text)
      optical += found.optical
      if characters is not None and len(found.text) == end - start:
        characters += [Character(ch, round(float(probs[i, self.charset.index(ch)]), 4),
                                 seg.input_box(seg.boxes[i]))
                       for i, ch in zip(range(start, end), found.text)]
      else:
        characters = None
    return Reading(" ".join(words), characters or [], seg, round(float(np.exp(optical)), 4))

  def _likelihoods(self, probs: np.ndarray, boxes) -> np.ndarray:
    """A word's per-character posteriors made fit for a dictionary: divided
    by the classes' training frequencies when the workdir has them (EMNIST
    has ~10x more 0 than o: left in, numbers would beat words), and the case
    of same-shape letters (o/O, s/S, ...) taken mostly from their size."""
    if self.class_prior is not None:
      probs = probs / self.class_prior
      probs = probs / probs.sum(1, keepdims=True)
    probs = probs.copy()
    chars = [self.charset[k] for k in probs.argmax(-1)]
    by_size = rules.case_by_size(chars, boxes, self.charset)
    for i, k in enumerate(by_size):
      ch = self.charset[k]
      if ch.lower() in rules.SAME_SHAPE and ch.swapcase() in self.charset:
        other = self.charset.index(ch.swapcase())
        probs[i, k], probs[i, other] = probs[i, k] + 0.8 * probs[i, other], 0.2 * probs[i, other]
    return probs

  def _reading(self, seg: characters.Segmentation, probs: np.ndarray) -> Reading:
    if self.dictionary is not None:
      return self._dictionary_reading(seg, probs)
    classes = probs.argmax(-1)
    for start, end in _words(len(classes), seg.spaces_before):
      if self.use_word_rules:
        classes[start:end] = rules.letters_or_digits(probs[start:end], self.charset)
      if self.use_case_by_size:
        classes[start:end] = rules.case_by_size([self.charset[k] for k in classes[start:end]],
                                                seg.boxes[start:end], self.charset)
      if self.use_word_rules:
        classes[start:end] = rules.consistent_case(classes[start:end], probs[start:end],
                                                   self.charset)
    characters, text = [], ""
    for i, (k, box) in enumerate(zip(classes, seg.boxes)):
      char = self.charset[k]
      # Same-shape letters: the confidence is that of the letter, either case.
      other = char.swapcase()
      confidence = probs[i, k] + (probs[i, self.charset.index(other)]
                                  if other != char and other in self.charset and
                                  char.lower() in rules.SAME_SHAPE else 0.0)
      if i in seg.spaces_before:
        text += " "
      text += char
      characters.append(Character(char, round(float(confidence), 4), seg.input_box(box)))
    return Reading(text, characters, seg)


def save_picture(reading: Reading, out_png: str, title: str = "") -> None:
  """Writes a picture of a segmentation reading: boxes and predictions on the
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
