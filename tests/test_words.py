import numpy as np
import pytest

from configs import common
from hwr_jax.data import labels, word_synthesis
from hwr_jax.language import wordlists
from hwr_jax.data.labels import BYCLASS_CHARS
from conftest import synthetic_glyphs


@pytest.fixture
def bank():
  images = np.zeros((62 * 3, 28, 28), np.uint8)
  images[:, 4:24, 8:20] = 255                         # a 20 x 12 block of ink
  return word_synthesis.GlyphBank(images, np.repeat(np.arange(62), 3))


def test_letters_sit_where_handwriting_puts_them(bank):
  style = word_synthesis.WordStyle(cap_height=40, scale_jitter=0.0, baseline_jitter=0.0)
  _, boxes = word_synthesis.render_ink("xhgA7", bank, np.random.default_rng(0), style)
  (x, h, g, cap, digit) = boxes
  baseline = x[3]
  assert x[3] == h[3] == cap[3] == digit[3] == baseline        # on the baseline
  assert x[3] - x[1] == 24 and h[3] - h[1] == 40                # x-height, ascender
  assert g[1] == x[1] and g[3] - baseline == 16                 # descender below
  assert all(a[2] < b[0] or a[2] - b[0] <= 4 for a, b in zip(boxes, boxes[1:]))


def test_rendered_word_is_dark_ink_on_light_paper(bank):
  image = word_synthesis.render_word("hello", bank, np.random.default_rng(1))
  assert image.dtype == np.uint8 and image.ndim == 2
  assert np.median(image) > 150 and image.min() < 110


def test_missing_glyphs_are_reported():
  bank = word_synthesis.GlyphBank(np.zeros((1, 28, 28), np.uint8), np.array([0]))
  with pytest.raises(ValueError, match="No glyph images of 'a'"):
    word_synthesis.render_word("a", bank, np.random.default_rng(0))


def test_texts_mix_words_capitals_and_digits():
  texts = wordlists.sample_texts(400, np.random.default_rng(0))
  assert all(0 < len(t) <= 12 and set(t) <= set(BYCLASS_CHARS) for t in texts)
  assert any(t.isdigit() for t in texts) and any(t.isupper() and len(t) > 1 for t in texts)
  assert any(t[0].isupper() and t[1:].islower() for t in texts if len(t) > 1)
  assert sum(t.islower() for t in texts) > 200
  vocabulary, weights = wordlists.word_list(1000)
  assert len(vocabulary) == 1000 and "the" in vocabulary and weights.sum() == pytest.approx(1)


def test_heldout_bank_is_the_validation_split(tmp_path):
  from hwr_jax.data import idx
  images, labels = synthetic_glyphs(200, 62)
  images[np.arange(200), 0, 0] = np.arange(200)   # make every image unique
  idx.write_idx(str(tmp_path / "i.gz"), np.swapaxes(images, 1, 2))
  idx.write_idx(str(tmp_path / "l.gz"), labels)
  config = common.get_base_config().data
  config.update(source="idx", train_images=str(tmp_path / "i.gz"),
                train_labels=str(tmp_path / "l.gz"), label_space="byclass",
                validation_fraction=0.25)
  bank = word_synthesis.heldout_bank(config)
  np.testing.assert_array_equal(bank.images, images[150:])   # never the training part
  assert bank.charset == BYCLASS_CHARS


@pytest.mark.parametrize("space, allowed", [
    ("digits", set(labels.DIGITS)), ("letters", set(labels.LETTERS)),
    ("balanced", set(labels.BALANCED_CHARS))])
def test_a_bank_spells_only_what_its_label_space_holds(space, allowed):
  images, glyph_labels = synthetic_glyphs(400, len(labels.charset(space)))
  bank = word_synthesis.GlyphBank(images, glyph_labels, labels.charset(space))
  rng = np.random.default_rng(0)
  word_images, texts = word_synthesis.sample_words(60, bank, rng)
  assert len(texts) == len(word_images) == 60
  assert all(set(t) <= allowed for t in texts)
  if space == "digits":
    assert all(t.isdigit() for t in texts)
  else:   # words, as many as ByClass gets
    assert sum(t.isalpha() for t in texts) > 45
  with pytest.raises(ValueError, match="No glyph images"):
    bank.sample("!", rng)
