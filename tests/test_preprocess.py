import cv2
import numpy as np
import pytest

from hwr_jax.preprocess import characters, image as image_steps


def paper(h=80, w=200, ink_boxes=(), dark_ink=True):
  """Light paper with dark filled rectangles (or the inverse)."""
  image = np.full((h, w), 220, np.uint8)
  for x0, y0, x1, y1 in ink_boxes:
    image[y0:y1, x0:x1] = 30
  return image if dark_ink else 255 - image


def test_to_gray_handles_colour_alpha_and_16_bit():
  bgr = np.zeros((10, 12, 3), np.uint8)
  bgr[..., 2] = 255
  assert image_steps.to_gray(bgr).shape == (10, 12)
  bgra = np.zeros((10, 12, 4), np.uint8)        # fully transparent -> white
  assert image_steps.to_gray(bgra).min() == 255
  assert image_steps.to_gray(np.full((4, 4), 65535, np.uint16)).max() == 255
  with pytest.raises(image_steps.ImageError):
    image_steps.to_gray(np.zeros((0, 0), np.uint8))


def test_polarity_does_not_matter():
  boxes = [(20, 20, 30, 60), (60, 20, 70, 60)]
  dark = image_steps.ink_mask(paper(ink_boxes=boxes))
  light = image_steps.ink_mask(paper(ink_boxes=boxes, dark_ink=False))
  assert image_steps.ink_is_dark(paper(ink_boxes=boxes))
  assert not image_steps.ink_is_dark(paper(ink_boxes=boxes, dark_ink=False))
  np.testing.assert_array_equal(dark, light)
  assert dark[40, 25] == 255 and dark[5, 5] == 0


def test_uneven_lighting_leaves_no_background_blobs():
  h, w = 80, 300
  light = np.linspace(90, 250, w)[None, :].repeat(h, 0)   # dark left, bright right
  image = light.copy()
  for x in (30, 130, 250):
    image[20:60, x:x + 6] = light[20:60, x:x + 6] - 70    # strokes 70 below local paper
  mask = image_steps.ink_mask(image.astype(np.uint8))
  count, _ = cv2.connectedComponents(mask)
  assert count - 1 == 3
  assert mask[40, 32] and mask[40, 252] and not mask[5, 5] and not mask[70, 200]


def test_specks_are_removed():
  mask = np.zeros((50, 50), np.uint8)
  mask[10:40, 10:20] = 255
  mask[5, 45] = 255
  cleaned = characters.remove_specks(mask, min_area=4)
  assert cleaned[5, 45] == 0 and cleaned[20, 15] == 255


def test_boxes_known_positions_dot_of_i_and_broken_stroke():
  mask = np.zeros((60, 200), np.uint8)
  mask[20:50, 10:30] = 255            # a letter
  mask[25:50, 60:66] = 255            # i: stem
  mask[14:19, 60:66] = 255            #    and its dot
  mask[20:33, 100:110] = 255          # a stroke broken in two
  mask[36:50, 101:111] = 255
  mask[20:50, 150:170] = 255          # another letter
  boxes = characters.character_boxes(mask)
  assert boxes == [(10, 20, 30, 50), (60, 14, 66, 50), (100, 20, 111, 50), (150, 20, 170, 50)]


def test_touching_characters_are_split_at_the_neck():
  mask = np.zeros((40, 80), np.uint8)
  mask[5:35, 5:25] = 255               # two 20-px-wide blobs
  mask[5:35, 29:49] = 255
  mask[18:21, 25:29] = 255             # joined by a thin bridge
  (box,) = characters.character_boxes(mask)
  pieces = characters.split_wide_boxes(mask, [box], char_width=20)
  assert len(pieces) == 2
  assert 24 <= pieces[0][2] <= 30 and pieces[1][0] == pieces[0][2]
  # A box of one wide character with no neck stays whole.
  solid = np.zeros((40, 80), np.uint8)
  solid[5:35, 5:50] = 255
  assert characters.split_wide_boxes(solid, [(5, 5, 50, 35)], char_width=20) == [(5, 5, 50, 35)]


def test_spaces_from_gap_statistics():
  boxes = [(0, 0, 10, 20), (13, 0, 23, 20), (26, 0, 36, 20), (60, 0, 70, 20), (73, 0, 83, 20)]
  assert characters.word_breaks(boxes, line_height=20) == [3]
  assert characters.word_breaks(boxes[:3], line_height=20) == []


def test_emnist_crop_is_centred_padded_and_keeps_aspect():
  mask = np.zeros((100, 100), np.uint8)
  mask[10:90, 40:60] = 255                   # tall bar: 80 x 20
  crop = characters.emnist_crop(mask, (40, 10, 60, 90))
  assert crop.shape == (28, 28) and crop.dtype == np.uint8 and crop.max() == 255
  assert crop[0].max() == 0 and crop[:, 0].max() == 0      # padding
  ys, xs = np.nonzero(crop > 127)
  assert abs(xs.mean() - 13.5) < 1 and abs(ys.mean() - 13.5) < 1
  assert (ys.max() - ys.min()) > 2.5 * (xs.max() - xs.min())


def test_crops_look_like_emnist(shared_emnist):
  """Real EMNIST glyphs printed large on paper and read back through the
  pipeline come out close to the originals."""
  from hwr_jax.data import idx
  images, _ = idx.read_image_label_pair(
      f"{shared_emnist}/emnist-balanced-sample-test-images-idx3-ubyte.gz",
      f"{shared_emnist}/emnist-balanced-sample-test-labels-idx1-ubyte.gz")
  correlations = []
  for glyph in images[:40]:
    big = cv2.resize(glyph, (112, 112), interpolation=cv2.INTER_CUBIC)
    page = np.pad(255 - big, 30, constant_values=255)       # dark ink on white
    seg = characters.segment(page)
    if len(seg.crops) != 1:
      continue
    correlations.append(np.corrcoef(seg.crops[0].ravel().astype(float),
                                    glyph.ravel().astype(float))[0, 1])
  assert len(correlations) >= 30
  assert np.median(correlations) > 0.8


@pytest.mark.parametrize("shade", [0, 200, 255])
def test_blank_paper_of_any_shade_has_no_ink(shade):
  blank = np.full((60, 200), shade, np.uint8)
  assert not image_steps.has_ink(blank)
  with pytest.raises(image_steps.ImageError, match="no ink"):
    characters.segment(blank)
  faint = blank.copy()
  faint[20:40, 50:60] = shade - 10 if shade else 10        # a smudge, not ink
  assert not image_steps.has_ink(faint)


def test_blank_and_huge_images_are_refused():
  with pytest.raises(image_steps.ImageError, match="too large"):
    characters.segment(np.zeros((8000, 8000), np.uint8))


def test_quantile_from_the_histogram_equals_numpy():
  rng = np.random.default_rng(0)
  for _ in range(200):
    gray = rng.integers(0, 256, rng.integers(1, 40, 2)).astype(np.uint8)
    if rng.random() < 0.5:
      gray = (gray // 64 * 64).astype(np.uint8)    # few distinct values: ties
    for q in (0.0, 0.05, 0.5, 0.95, 1.0):
      assert image_steps.quantile(gray, q) == pytest.approx(np.quantile(gray, q), abs=1e-9)


def test_a_tight_crop_of_a_punctuation_mark_has_ink():
  """IAM's word crops of '.', ',' and '-' are mostly ink (522 of 47,028 IAM
  images were refused as blank when more than half ink counted as none).
  A synthetic dot of that kind: a noisy blob filling an 8x9 crop."""
  dot = np.array([[193, 162, 133, 127, 101, 130, 134, 153, 191],
                  [170, 135, 117, 90, 84, 77, 102, 134, 161],
                  [146, 111, 80, 52, 50, 46, 66, 117, 143],
                  [141, 85, 41, 44, 62, 61, 59, 89, 133],
                  [132, 92, 36, 46, 51, 65, 58, 106, 131],
                  [142, 76, 77, 57, 67, 49, 74, 102, 134],
                  [156, 127, 112, 81, 67, 82, 103, 124, 171],
                  [170, 156, 140, 108, 116, 129, 138, 144, 179]], np.uint8)
  assert image_steps.has_ink(dot)


def test_pixel_noise_is_not_handwriting():
  rng = np.random.default_rng(0)
  for noise in (rng.integers(0, 256, (60, 200)), rng.normal(200, 40, (60, 200))):
    problem = image_steps.ink_problem(np.clip(noise, 0, 255).astype(np.uint8))
    assert problem and problem.startswith("no handwriting found")
