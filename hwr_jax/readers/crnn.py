"""The CRNN reader: whole word images -> per-frame probabilities (one
compiled call per batch) -> a CTC decoder (`hwr_jax/ctc/`)."""

import numpy as np

from hwr_jax import inference, segment
from hwr_jax.ctc.decode import DECODERS, TextDecoder
from hwr_jax.ctc.decoders import ctc_log_prob
from hwr_jax.data import vocabulary, word_batches
from hwr_jax.models.crnn import input_height
from hwr_jax.readers.base import ImageError, Reader, ReaderError, Reading, expect_model

LM_TEXTS, LM_ORDER = 20000, 4


def _english_and(counts) -> tuple[list[str], np.ndarray]:
  """The 20,000 most frequent English words with their sampling weights,
  joined with a model's training vocabulary (`counts`; None: none); each
  half carries half the prior mass."""
  from hwr_jax.data import words
  english, weights = words.word_list()
  if not counts:
    return english, weights
  texts = sorted(counts)
  train = np.array([counts[t] for t in texts], np.float64)
  return english + texts, np.concatenate([0.5 * weights, 0.5 * train / train.sum()])


def default_language_model(counts=None):
  """beam_lm's character 4-gram model. A model of synthesized words: 20,000
  texts sampled like them (seed 0). A model with a training vocabulary
  (`data/vocabulary.py`): those texts and the English word list, weighted.
  Cached in the user's cache folder (building it takes ~0.4 s)."""
  from importlib.metadata import version

  from hwr_jax import cache
  from hwr_jax.ctc.language import CharNgramLM
  from hwr_jax.data import words

  if counts:
    def build_from_vocabulary():   # only on a cache miss
      texts, weights = _english_and(counts)
      return CharNgramLM(texts, order=LM_ORDER, weights=list(weights))
    key = ("vocabulary", LM_ORDER, sorted(counts.items()), version("wordfreq"))
    return cache.cached("char-lm", key, build_from_vocabulary)

  def build():
    return CharNgramLM(words.sample_texts(LM_TEXTS, np.random.default_rng(0)), order=LM_ORDER)
  return cache.cached("char-lm", (LM_TEXTS, LM_ORDER, 0, version("wordfreq")), build)


def real_text_priors(counts) -> dict:
  """The dictionary decoder's priors for a model trained on real text (a
  workdir with a vocabulary): numbers as rare as among its training words
  (IAM: 0.44 %, not the synthesized words' 10 %), word priors halfway between
  uniform and the words' frequencies, and a 12-nat open-vocabulary margin.
  Chosen on the IAM validation writers (experiments/iam_dictionary_priors.py):
  lexicon CER 9.69 % -> 9.31 %, WER 18.99 % -> 17.26 % (test writers: README)."""
  from hwr_jax.data import vocabulary
  return dict(number_share=vocabulary.number_share(counts), frequency_weight=0.5,
              open_margin=12.0)


def default_lexicon(counts=None):
  """The 20,000 most frequent English words, with their frequencies as
  priors, plus the model's training vocabulary when it has one."""
  from hwr_jax.ctc.language import Lexicon
  return Lexicon(*_english_and(counts))


class CRNNReader(Reader):
  """Reads whole word images with a trained CRNN (a configs/words.py or
  configs/iam_words.py workdir) and a CTC decoder: best_path, beam, beam_lm,
  lexicon, token_passing or (lines, a charset with a space) word_beam. The
  lexicon and language model know the English word list and the words the
  model trained on (the workdir's vocabulary.tsv, if any)."""

  def __init__(self, workdir: str, checkpoint: str = "best", decoder: str = "best_path",
               beam_width: int = 16, lexicon_path: str | None = None,
               model: inference.Model | None = None, lm_weight: float = 0.5,
               word_lm_path: str | None = None):
    if decoder not in DECODERS:
      raise ReaderError(f"Unknown decoder {decoder!r}; choose from {DECODERS}.")
    if model is None:
      expect_model(workdir, "crnn", "the CRNN reader needs a word model "
                   "(python launch.py --config=configs/words.py)")
      model = inference.load_model(workdir, checkpoint, model_name="crnn")
    self.model, self.config, self.charset = model, model.config, model.charset
    self.decoder_name = decoder
    counts = vocabulary.read(workdir) if workdir else None
    lm = default_language_model(counts) if decoder == "beam_lm" else None
    lexicon, word_lm = None, None
    if decoder in ("lexicon", "token_passing", "word_beam"):
      from hwr_jax.ctc.language import Lexicon
      lexicon = Lexicon.from_file(lexicon_path) if lexicon_path else default_lexicon(counts)
    if decoder == "word_beam":
      if " " not in self.charset:
        raise ReaderError(f"{workdir}'s model has no space in its charset: word_beam reads "
                          f"lines; use lexicon for single words.")
      if word_lm_path:
        from hwr_jax.ctc.language import WordNgramLM
        with open(word_lm_path, encoding="utf-8") as f:
          word_lm = WordNgramLM([line.split() for line in f], sorted(lexicon.spellings))
    if lm_weight < 0:
      raise ReaderError(f"lm_weight must be >= 0, not {lm_weight}.")
    self.decoder = TextDecoder(self.charset, beam_width=beam_width, lm=lm, lm_weight=lm_weight,
                               lexicon=lexicon, word_lm=word_lm,
                               **(real_text_priors(counts) if counts else {}))

  def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
    """(T_i, K + 1) per-frame probabilities of word images (blank = 0)."""
    return self.model.frame_probabilities(images)

  def prepare(self, image: np.ndarray) -> np.ndarray:
    """Any word image -> the model's input (its height, ink bright)."""
    gray = segment.to_gray(image)
    problem = segment.ink_problem(gray)
    if problem:
      raise ImageError(problem)
    return word_batches.prepare(gray, self.config.words.buckets[-1], input_height(self.config))

  def predict(self, prepared: list[np.ndarray]) -> list[np.ndarray]:
    return self.model.frame_probabilities(prepared, prepared=True)

  def finish(self, prepared: list[np.ndarray], frames: list[np.ndarray]) -> list[Reading]:
    """Decodes each word; its confidence is P(text | image) under the model
    (CTC, summed over alignments)."""
    readings = []
    for probs in frames:
      text, score = self.decoder.decode(probs, self.decoder_name)
      if self.decoder_name != "best_path":   # best path's score is already this CTC probability
        score = ctc_log_prob(probs, [self.charset.index(c) + 1 for c in text])
      confidence = float(np.exp(score))
      readings.append(Reading(text, [], None, round(confidence, 4), frames=probs))
    return readings
