"""Pages: IAM pages rebuilt from word boxes, line finding on pages the tests
compose (known lines: touching, turned, bent, faint, small), bad pages, and
the CTC alignment that gives each word its box."""

import cv2
import numpy as np
import pytest

from hwr_jax.ctc.decoders import ctc_align
from hwr_jax.data import iam_pages
from hwr_jax.preprocess import lines
from hwr_jax.preprocess.image import ImageError
from tests_helpers import compose_page, draw_line, random_text


def overlap(a, b) -> float:
  """Intersection over the smaller box's area."""
  w = min(a[2], b[2]) - max(a[0], b[0])
  h = min(a[3], b[3]) - max(a[1], b[1])
  if w <= 0 or h <= 0:
    return 0.0
  smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
  return w * h / smaller


def page_texts(rng, n=7):
  return [" ".join(random_text(rng) for _ in range(3)) for _ in range(n)]


@pytest.mark.parametrize("style", [
    dict(), dict(gap=-0.1), dict(gap=0.0, angle=-3), dict(angle=3), dict(bend=0.3),
    dict(height=24), dict(ink=150, paper=210, noise=6)],
    ids=["plain", "touching", "touching-turned", "turned", "bent", "small", "faint-grey"])
def test_lines_are_found_in_reading_order(style):
  rng = np.random.default_rng(0)
  page, truth = compose_page(page_texts(rng), rng, **style)
  layout = lines.find(page)
  assert len(layout.lines) == len(truth)
  if not style.get("angle") and not style.get("bend"):
    for found, box in zip(layout.lines, truth):   # top to bottom, each on its own line
      assert overlap(found.box, box) > 0.8
  if style.get("angle"):
    assert layout.skew == pytest.approx(style["angle"], abs=0.5)
  for found in layout.lines:   # each cut holds one line: about one letter height of ink
    ink = np.flatnonzero((found.image < np.median(found.image) - 30).any(1))
    assert ink[-1] - ink[0] < 2.2 * style.get("height", 48)


def test_a_page_of_one_line_and_a_word_are_one_line():
  rng = np.random.default_rng(1)
  assert len(lines.find(draw_line("zoo lxv", rng)).lines) == 1
  page, _ = compose_page(["oxo"], rng)
  assert len(lines.find(page).lines) == 1


def test_long_thin_images_do_not_break_line_finding():
  for shape in ((10, 1400), (60, 8000)):
    image = np.full(shape, 235, np.uint8)
    image[shape[0] // 3:2 * shape[0] // 3, 20:-20:40] = 20
    try:
      found = lines.find(image)
    except ImageError:   # a clear message is fine; a crash is not
      continue
    assert len(found.lines) >= 1


def test_blank_and_noise_pages_say_so():
  with pytest.raises(ImageError, match="no ink"):
    lines.find(np.full((1200, 900), 230, np.uint8))
  noise = np.random.default_rng(0).integers(0, 256, (800, 800)).astype(np.uint8)
  with pytest.raises(ImageError, match="no handwriting"):
    lines.find(noise)


def test_ctc_alignment_gives_each_label_its_frames():
  frames = [0, 1, 1, 0, 2, 0, 2, 3]   # blank a a blank b blank b c
  probs = np.full((8, 4), 0.01)
  probs[np.arange(8), frames] = 0.97
  assert ctc_align(probs, [1, 2, 2, 3], kind="probs").tolist() == [[1, 2], [4, 4], [6, 6], [7, 7]]
  with pytest.raises(ValueError, match="do not fit"):
    ctc_align(probs[:3], [1, 2, 2, 3], kind="probs")
  # A long line: more CTC states (2 labels + 1) than an int8 counts.
  labels = [1 + k % 3 for k in range(90)]
  long = np.full((2 * len(labels), 4), 0.01)
  long[1::2, 0] = 0.97
  long[np.arange(0, 2 * len(labels), 2), labels] = 0.97
  assert ctc_align(long, labels, kind="probs").tolist() == [[2 * k, 2 * k] for k in range(90)]


def write_iam_pages(root, rng):
  """An IAM-format folder of two forms (writers 3: test, 5: training), each
  three lines of three words, with real boxes: words.txt, forms.txt and the
  word crops. Returns the texts of each form's lines."""
  words, forms, texts = [], [], {}
  for form, writer in (("a01-000u", 3), ("b02-010", 5)):
    forms.append(f"{form} {writer:03d} 2 prt 7 5 52 36")
    folder = root / "words" / form.split("-")[0] / form
    folder.mkdir(parents=True)
    texts[form] = []
    for line in range(3):
      x, y = 300, 700 + 150 * line
      tokens = [random_text(rng).split()[0] for _ in range(2)] + ["."]
      for k, token in enumerate(tokens):
        crop = draw_line(token, rng, height=40) if token != "." else \
            cv2.circle(np.full((20, 20), 255, np.uint8), (10, 12), 4, 20, -1)
        word_id = f"{form}-{line:02d}-{k:02d}"
        cv2.imwrite(str(folder / f"{word_id}.png"), crop)
        h, w = crop.shape
        status = "err" if (form, line, k) == ("b02-010", 0, 0) else "ok"   # ink all the same
        words.append(f"{word_id} {status} 180 {x} {y + 50 - h} {w} {h} NN {token}")
        x += w + (4 if k == 1 else 60)   # the full stop right after its word
      texts[form].append(" ".join(tokens[:2]) + ".")
  words.append("a01-000u-03-00 err 180 -1 -1 -1 -1 NN lost")   # no box: left out
  (root / "words.txt").write_text("\n".join(words) + "\n")
  (root / "forms.txt").write_text("\n".join(forms) + "\n")
  return texts


def test_iam_pages_are_rebuilt_at_the_word_boxes(tmp_path):
  texts = write_iam_pages(tmp_path, np.random.default_rng(2))
  pages = {p.form: p for p in iam_pages.read_pages(str(tmp_path))}
  assert set(pages) == {"a01-000u", "b02-010"}
  page = pages["a01-000u"]
  assert (page.split, page.writer, page.missing) == ("test", 3, 1)
  assert [l.text for l in page.lines] == texts["a01-000u"]   # "word." not "word ."
  image = iam_pages.render_page(page)
  assert image.shape == page.size
  for line in page.lines:   # ink inside every word box, paper between the lines
    for word in line.words:
      x0, y0, x1, y1 = word.box
      assert image[y0:y1, x0:x1].min() < 60
  gap = page.lines[0].box[3] + 20
  assert image[gap:gap + 40].min() > 150
  found = lines.find(image)
  assert len(found.lines) == 3
  for cut, truth in zip(found.lines, page.lines):
    assert overlap(cut.box, truth.box) > 0.8
  files = iam_pages.line_files(str(tmp_path))
  assert [t for _, t, _ in files["test"]] == texts["a01-000u"]
  assert [t for _, t, _ in files["train"]] == texts["b02-010"]
  line_image = cv2.imread(files["train"][0][0], cv2.IMREAD_GRAYSCALE)
  assert line_image.shape[0] < 100 and line_image.min() < 60
  # Words cut from their line as the page reader cuts them: full height, gap middle to gap middle.
  line = page.lines[0]
  cuts = iam_pages.word_cuts(page, line)
  assert [w for _, w in cuts] == list(line.words)
  height = iam_pages.render_line(page, line).shape[0]
  assert all(cut.shape[0] == height and cut.min() < 100 for cut, _ in cuts)
  widths = [cut.shape[1] for cut, _ in cuts]
  words = line.words
  assert widths[0] == (words[0].box[2] + words[1].box[0]) // 2 - words[0].box[0]
  assert widths[1] == (words[1].box[2] + words[2].box[0]) // 2 - (
      words[0].box[2] + words[1].box[0]) // 2
  cut_files = iam_pages.word_cut_files(str(tmp_path))
  train_words = [w.text for l in pages["b02-010"].lines for w in l.words]
  assert [t for _, t, _ in cut_files["train"]] == train_words[1:]   # the 'err' word left out
  assert [t for _, t, _ in cut_files["test"]] == [w.text for l in page.lines for w in l.words]


def png_header(width: int, height: int) -> bytes:
  """The first bytes of a PNG of that size: its signature, IHDR chunk and the
  start of its (here empty) image data."""
  import struct
  import zlib
  ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
  return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr +
          struct.pack(">I", zlib.crc32(ihdr)) + struct.pack(">I", 0) + b"IDAT" +
          struct.pack(">I", zlib.crc32(b"IDAT")))


def test_hwr_read_reads_pages_lines_and_tiff_pages(line_run, tmp_path):
  """A line model reads a composed page as lines (--json: boxes, texts,
  confidences, words with boxes inside their line), a multi-page TIFF page
  by page, a single line as one line; bad files get a message each."""
  import json
  import subprocess
  import sys

  from conftest import ROOT
  _, workdir, _ = line_run
  rng = np.random.default_rng(5)
  page, truth = compose_page(page_texts(rng, 4), rng)
  cv2.imwrite(str(tmp_path / "page.png"), page)
  cv2.imwritemulti(str(tmp_path / "scan.tif"), [page, compose_page(page_texts(rng, 2), rng)[0]])
  cv2.imwrite(str(tmp_path / "line.png"), draw_line("zoo lxv", rng))
  cv2.imwrite(str(tmp_path / "blank.png"), np.full((900, 700), 240, np.uint8))
  (tmp_path / "broken.png").write_bytes(cv2.imencode(".png", page)[1].tobytes()[:5000])
  cv2.imwrite(str(tmp_path / "noise.png"), rng.integers(0, 256, (700, 900)).astype(np.uint8))
  (tmp_path / "huge.png").write_bytes(png_header(12_000, 9_000))   # 108 MP, never decoded
  run = subprocess.run(
      [sys.executable, "-m", "hwr_jax.read", *(str(tmp_path / f) for f in
       ("page.png", "scan.tif", "line.png", "blank.png", "broken.png", "noise.png",
        "huge.png")),
       f"--workdir={workdir}", "--json", f"--show={tmp_path / 'show.png'}"],
      capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert run.returncode == 1, run.stderr   # some files could not be read
  out = [json.loads(l) for l in run.stdout.splitlines()]
  assert [o["file"].rsplit("/", 1)[1] for o in out] == [
      "page.png", "scan.tif[1]", "scan.tif[2]", "line.png", "blank.png", "broken.png",
      "noise.png", "huge.png"]
  page_json = out[0]
  assert len(page_json["lines"]) == 4 and page_json["text"].count("\n") == 3
  for line, box in zip(page_json["lines"], truth):
    assert overlap(line["box"], box) > 0.8 and 0 <= line["confidence"] <= 1
    for word in line["words"]:
      assert word["text"].strip() == word["text"] and word["text"]
      assert overlap(word["box"], line["box"]) > 0.9
    assert " ".join(w["text"] for w in line["words"]) == " ".join(line["text"].split())
  assert len(out[1]["lines"]) == 4 and len(out[2]["lines"]) == 2
  assert len(out[3]["lines"]) == 1 and out[3]["lines"][0]["box"][:2] == [0, 0]
  assert "no ink" in out[4]["error"] and "not a readable image" in out[5]["error"]
  assert "no handwriting" in out[6]["error"] and "12000x9000 pixels is too large" in out[7]["error"]
  for name in ("show-page.png", "show-scan-1.png", "show-scan-2.png"):   # --show: one picture per page
    assert cv2.imread(str(tmp_path / name)) is not None


def test_the_demo_shows_an_uploaded_page_with_its_boxes_and_text(line_run, tmp_path):
  """The demo's upload path (without a browser: its tests drive the upload
  tab itself) reads a page with a line model: its text, a line per line, and
  a picture of the page with line and word boxes beside the text."""
  from hwr_jax import demo, readers
  _, workdir, _ = line_run
  rng = np.random.default_rng(6)
  page, _ = compose_page(page_texts(rng, 3), rng)
  cv2.imwrite(str(tmp_path / "page.png"), page)
  reader = readers.load_reader(str(workdir))
  text, details, _, picture = demo.read_image(str(tmp_path / "page.png"), reader, drawn=False,
                                              normalize=False)
  assert text.count("\n") == 2 and details.startswith("3 line(s)")
  assert picture.shape[0] == page.shape[0] and picture.shape[1] > 2 * page.shape[1] - 10
  boxes = (picture[..., 2].astype(int) - picture[..., 1] > 100)   # red word boxes, blue lines
  assert boxes[:, :page.shape[1]].any() and not boxes[:, page.shape[1]:].any()


def test_a_word_model_fine_tuned_from_a_line_model_still_reads_words():
  """The shipped iam-words was fine-tuned from the line model and keeps its
  space; it reads single words, a line model (or a user's folder of lines)
  reads pages."""
  from configs import iam_lines, iam_words
  from hwr_jax.preprocess.word_input import reads_lines
  assert not reads_lines(iam_words.get_config(), "ab c")
  assert reads_lines(iam_lines.get_config(), "ab c")
  assert not reads_lines(iam_lines.get_config(), "abc")
  folder = iam_words.get_config()
  folder.words.source = "folder"
  assert reads_lines(folder, "ab c")


def test_a_line_is_cut_into_pieces_for_the_word_model():
  """Words lose the punctuation at their edges (the line model's reading of
  it stays); a cut falls in the emptiest column between two pieces."""
  from hwr_jax.readers.crnn import gap_column, pieces
  text = '(Lords, but it\'s "x". .'
  assert [(text[a:b], reread) for a, b, reread in pieces(text)] == [
      ("(", False), ("Lords", True), (",", False), ("but", True), ("it's", True),
      ('"', False), ("x", True), ('".', False), (".", False)]
  ink = np.array([9, 9, 5, 0, 0, 0, 4, 9, 9])
  assert gap_column(ink, 1.0, 8.0) == 4      # the middle of the empty run
  assert gap_column(ink, 6.0, 4.0) == 5      # overlapping pieces: halfway


def test_a_word_reading_loses_the_punctuation_the_line_keeps_beside_it():
  """The word model reads IAM's "Mr." whole; beside the line model's own
  "." it would be "Mr.."; punctuation the line has not got stays."""
  from hwr_jax.readers.crnn import shed
  assert shed("Mr.", "", ".") == "Mr"
  assert shed("Mr.", "", '."') == "Mr"
  assert shed('"The', '"', "") == "The"
  assert shed("(Board)", "(", ").") == "Board"
  assert shed("do.", "", "") == "do."                  # the line has no "." there
  assert shed("do.", "", ",") == "do."
  assert shed("it's", "", "'") == "it's"               # not edge punctuation
  assert shed(".", "", ".") == "."                     # nothing left: as read


class _WordModel:
  """A word reader that reads every cut as 'qq' (or the cuts in turn as
  `texts`; None: unreadable), and keeps the cuts."""
  reads_lines, decoder_name, charset = False, "lexicon", "q"

  def __init__(self, texts: list[str] | None = None):
    self.cuts, self.texts = [], texts

  def read_many(self, images):
    from hwr_jax.readers import Reading
    self.cuts += images
    texts = self.texts or ["qq"] * len(images)   # None: that cut could not be read
    return [Reading(t, []) if t is not None else Reading("", [], error="no ink found")
            for t in texts[:len(images)]]


def test_a_word_model_rereads_each_word_of_a_lines_reading(line_run, monkeypatch):
  """With a word reader, each word of each line (less its edge punctuation)
  is cut from the line and read by it; spaces, punctuation and the word
  boxes stay the line model's (punctuation: the test above). (The tiny line
  model's reading is set: it reads too little of a page to cut.)"""
  from hwr_jax import readers
  from hwr_jax.readers import crnn
  _, workdir, _ = line_run
  monkeypatch.setattr(crnn, "decode", lambda *_: ("zoo lx vi", 0.5))   # its whole charset
  rng = np.random.default_rng(7)
  page, _ = compose_page(page_texts(rng, 3), rng)
  alone = readers.load_reader(str(workdir)).read(page)
  words = _WordModel()   # (word_gap=0: the set reading's cuts need not fall on gaps)
  reread = readers.load_reader(str(workdir), word_reader=words, word_gap=0).read(page)
  assert alone.text == "\n".join(["zoo lx vi"] * 3)
  assert reread.text == "\n".join(["qq qq qq"] * 3)
  assert len(words.cuts) == 9 and all(cut.ndim == 2 and cut.shape[1] > 0 for cut in words.cuts)
  for before, after in zip(alone.lines, reread.lines):
    assert [w.box for w in before.words] == [w.box for w in after.words]
    assert [w.text for w in after.words] == ["qq", "qq", "qq"]
    starts = [w.box[0] for w in after.words]
    assert starts == sorted(starts)
  stretched = _WordModel()   # each cut also read at half its width
  readers.load_reader(str(workdir), word_reader=stretched, word_widths=(1, 0.5),
                      word_gap=0).read(page)
  assert [cut.shape for cut in stretched.cuts[::2]] == [cut.shape for cut in words.cuts]
  assert [cut.shape[1] for cut in stretched.cuts[1::2]] == [
      max(2, round(cut.shape[1] / 2)) for cut in words.cuts]
  with pytest.raises(readers.ReaderError, match="re-reads the words of a line model"):
    readers.load_reader(str(workdir), word_reader=readers.load_reader(str(workdir)))


def test_words_the_line_model_ran_together_are_parted_at_a_gap(line_run, monkeypatch):
  """A piece of a line's reading that spans a gap in the ink as wide as the
  line's word gaps (here half of them), where the line model's frames give
  a space some probability, is cut there: two words for the word model, each
  with its own box; without that evidence, or with a narrower gap, it stays
  one word."""
  from hwr_jax import readers
  from hwr_jax.preprocess.lines import PageLine
  from hwr_jax.readers import crnn
  _, workdir, _ = line_run
  text = "zoo lx vi zoolx"
  blocks = [(12, 60), (100, 148), (188, 236), (276, 324), (344, 392)]   # 40-px gaps, one of 20
  image = np.full((40, 400), 235, np.uint8)
  for a, b in blocks:
    image[8:32, a:b] = 20
  reader = readers.load_reader(str(workdir), word_reader=_WordModel())
  charset = reader.charset
  chars = [(c, blocks[k]) for k, word in enumerate(["zoo", "lx", "vi", "zoo", "lx"])
           for c in word]

  def frames(space_probability):
    probs = np.zeros((100, len(charset) + 1), np.float32)
    probs[:, 0] = 1.0
    for i, (c, (a, b)) in enumerate(chars):   # each character's frames within its block
      n = sum(block == (a, b) for _, block in chars)
      j = [x for x, (_, block) in enumerate(chars) if block == (a, b)].index(i)
      f0, f1 = (a + j * (b - a) // n) // 4, (a + (j + 1) * (b - a) // n) // 4
      probs[f0 + 1:f1, :] = 0.0
      probs[f0 + 1:f1, charset.index(c) + 1] = 1.0
    for (_, a), (b, _) in zip(blocks, blocks[1:]):   # between every two blocks
      probs[a // 4 + 1:b // 4, charset.index(" ") + 1] = space_probability
    probs += 1e-3
    return probs / probs.sum(1, keepdims=True)

  monkeypatch.setattr(crnn, "decode", lambda *_: (text, 0.5))
  line = PageLine(image, (0, 0, 400, 40), np.zeros((4, 2)), (0.0, 0.0), (1.0, 0.0))
  page = crnn._Page([line], [image], [(0.0, 1.0)])
  for gap, evidence, parted in [(0.4, 0.5, True), (0.4, 0.0, False), (0.6, 0.5, False)]:
    reader.word_gap = gap
    reader.word_reader = _WordModel(["zoo", "lx", "vi"] + (["zoo", "lx"] if parted else ["zoolx"]))
    reading = reader.finish_page(page, [frames(evidence)])
    words = reading.lines[0].words
    assert reading.text == ("zoo lx vi zoo lx" if parted else text)
    assert len(reader.word_reader.cuts) == len(words) == (5 if parted else 4)
    starts = [w.box[0] for w in words]
    assert starts == sorted(starts) and abs(words[-1].box[2] - 392) <= 8
    if parted:
      assert 320 <= words[3].box[2] <= words[4].box[0] <= 352   # (CTC frames: 4 columns)
  # A part the word model cannot read: the line model's reading of the piece stays.
  reader.word_gap, reader.word_reader = 0.4, _WordModel(["zo", "lx", "vi", "zoo", None])
  assert reader.finish_page(page, [frames(0.5)]).text == "zo lx vi zoolx"
