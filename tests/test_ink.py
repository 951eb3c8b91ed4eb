"""Reading pen strokes: ink files, preprocessing, the ink model, its reader and CLI.

CI has no IAM-OnDB: the tests write ink in its formats, and learn from a small
synthetic ink set made here (letters drawn as strokes, jittered per sample).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from tests_helpers import random_text, write_json, write_strokes
from hwr_jax.data import ink_files
from hwr_jax.data.ink_files import InkError
from hwr_jax.preprocess import ink

ONDB_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession>
  <WhiteboardDescription>
    <SensorLocation corner="top_left"/>
    <DiagonallyOppositeCoords x="6512" y="1376"/>
  </WhiteboardDescription>
  <StrokeSet>
{strokes}
  </StrokeSet>
</WhiteboardCaptureSession>
"""


def ondb_xml(strokes) -> str:
  body = "\n".join(
      f'    <Stroke colour="black" start_time="{s[0, 2]:.2f}" end_time="{s[-1, 2]:.2f}">\n' +
      "\n".join(f'      <Point x="{x:.0f}" y="{y:.0f}" time="{t:.2f}"/>' for x, y, t in s) +
      "\n    </Stroke>" for s in strokes)
  return ONDB_XML.format(strokes=body)


# -- files ---------------------------------------------------------------------

def test_the_three_formats_read_the_same_strokes(tmp_path):
  strokes = write_strokes("lox", np.random.default_rng(0), origin=(900, 3000))
  strokes = [np.round(s, 2) for s in strokes]
  (tmp_path / "a.xml").write_text(ondb_xml(strokes), encoding="latin-1")
  traces = "\n".join(f"<trace>{', '.join(f'{x:.2f} {y:.2f} {t * 1000:.0f}' for x, y, t in s)}</trace>"
                     for s in strokes)
  (tmp_path / "a.inkml").write_text(
      '<ink xmlns="http://www.w3.org/2003/InkML"><traceFormat><channel name="X"/>'
      '<channel name="Y"/><channel name="T" units="ms"/></traceFormat>' + traces + "</ink>")
  write_json(tmp_path / "a.ink.json", strokes)
  read = {ext: ink_files.read_ink(str(tmp_path / f"a{ext}")) for ext in (".xml", ".inkml", ".ink.json")}
  for ext, found in read.items():
    assert len(found) == len(strokes), ext
    for a, b in zip(found, strokes):
      np.testing.assert_allclose(a[:, :2], np.round(b[:, :2], 0 if ext == ".xml" else 2), atol=0.51)
      np.testing.assert_allclose(a[:, 2], b[:, 2], atol=0.006)   # seconds
  # InkML without a trace format: X Y (no times); plain JSON lists of [x, y]
  (tmp_path / "b.inkml").write_text("<ink><trace>0 0, 10 5, 20 0</trace><trace>5 9, 6 9</trace></ink>")
  found = ink_files.read_ink(str(tmp_path / "b.inkml"))
  assert [len(s) for s in found] == [3, 2] and np.isnan(found[0][:, 2]).all()
  (tmp_path / "c.json").write_text("[[[0, 0], [3, 4]], [[1, 1], [2, 2]]]")
  assert [len(s) for s in ink_files.read_ink(str(tmp_path / "c.json"))] == [2, 2]


BAD_INK = {
    "empty.ink.json": ("[]", "no ink"),
    "one-point.ink.json": ("[[[3, 4, 0]]]", "single point"),
    "nan.ink.json": ("[[[0, 0], [NaN, 1]]]", "NaN or infinite"),
    "inf.ink.json": ("[[[0, 0], [Infinity, 1]]]", "NaN or infinite"),
    "huge.ink.json": ("[[[0, 0], [1e12, 1]]]", "not pen coordinates"),
    "shape.ink.json": ('{"strokes": [[1, 2, 3]]}', "every point must be"),
    "text.ink.json": ("not json", "not valid JSON"),
    "broken.xml": ("<WhiteboardCaptureSession><StrokeSet><Stroke>", "not well-formed XML"),
    "nostrokes.xml": ("<WhiteboardCaptureSession/>", "no <Stroke> elements"),
    "letter.xml": ('<S><Stroke><Point x="a" y="1" time="0"/></Stroke></S>', "is not a number"),
    "bomb.xml": ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                 '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                 '<S><Stroke><Point x="&lol2;" y="1" time="0"/></Stroke></S>', "refused unsafe XML"),
    "external.inkml": ('<?xml version="1.0"?><!DOCTYPE ink [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                       '<ink><trace>&x;</trace></ink>', "refused unsafe XML"),
    "notink.inkml": ("<svg><trace>0 0, 1 1</trace></svg>", "not InkML"),
    "drawing.png": ("", "not an ink file"),
}


@pytest.mark.parametrize("name", sorted(BAD_INK))
def test_bad_ink_gets_one_clear_error(tmp_path, name):
  content, message = BAD_INK[name]
  (tmp_path / name).write_text(content)
  with pytest.raises(InkError, match=message):
    ink_files.read_ink(str(tmp_path / name))


def test_times_that_go_backwards_are_dropped_with_a_note():
  strokes = [np.array([[0, 0, 5.0], [1, 1, 5.1]]), np.array([[2, 0, 1.0], [3, 1, 1.1]])]
  notes = []
  found = ink_files.check_strokes(strokes, notes)
  assert np.isnan(np.concatenate(found)[:, 2]).all() and "times go backwards" in notes[0]
  jitter = [np.array([[0, 0, 5.0], [1, 1, 4.98], [2, 2, 5.1]])]   # clock jitter: kept
  notes = []
  assert np.isfinite(ink_files.check_strokes(jitter, notes)[0][:, 2]).all() and not notes


def write_ondb_folder(root, forms: dict, rng) -> None:
  """An IAM-OnDB-format folder: lineStrokes/<a01>/<a01-020>/<form>-NN.xml and
  ascii/.../<form>.txt (CRLF, an OCR section, then CSR); a08-551z gets one
  line file more than its CSR lines, as in IAM-OnDB."""
  for form, texts in forms.items():
    writer, base = form[:3], form[:7]
    (root / "lineStrokes" / writer / base).mkdir(parents=True, exist_ok=True)
    (root / "ascii" / writer / base).mkdir(parents=True, exist_ok=True)
    files = len(texts) + (1 if form == "a08-551z" else 0)
    for k in range(files):
      (root / "lineStrokes" / writer / base / f"{form}-{k + 1:02d}.xml").write_text(
          ondb_xml(write_strokes(texts[min(k, len(texts) - 1)], rng, (800, 900 + 150 * k))))
    (root / "ascii" / writer / base / f"{form}.txt").write_text(
        "OCR:\r\n\r\nsomething else\r\n\r\nCSR:\r\n\r\n" + "\r\n".join(texts) + "\r\n")


def test_iam_ondb_folders_are_read_with_the_official_split(tmp_path):
  from hwr_jax.data import ondb
  forms = {"a01-020x": ["lo", "vix zo"], "a02-050": ["cool"], "a02-000": ["nix"],
           "a01-000u": ["zoo"], "a08-551z": ["lo", "ol"]}   # train, validation, test, extra; a mismatch
  write_ondb_folder(tmp_path, forms, np.random.default_rng(4))
  catalogue = ondb.read_lines(str(tmp_path))
  assert catalogue.skipped_forms == ["a08-551z"]
  assert {(l.line_id, l.text, l.split) for l in catalogue.lines} == {
      ("a01-020x-01", "lo", "train"), ("a01-020x-02", "vix zo", "train"),
      ("a02-050-01", "cool", "validation"), ("a02-000-01", "nix", "test"),
      ("a01-000u-01", "zoo", "extra")}
  with pytest.raises(Exception, match="lineStrokes"):
    ondb.read_lines(str(tmp_path / "ascii"))


def test_iam_ondb_training_lines_are_drawn_as_line_images_without_test_text(tmp_path):
  import cv2

  from hwr_jax.data import ondb_images
  forms = {"a01-020x": ["lo vix zo ol nix lo", "cool zinc"], "a01-020w": ["cool vox"],
           "a02-000": ["nix"]}   # training forms (two), a test form
  write_ondb_folder(tmp_path, forms, np.random.default_rng(5))
  held_out = ["so lo vix zo ol nix lo then"]   # a test line sharing a 6-gram with a training line
  pairs = ondb_images.line_files(str(tmp_path), held_out)
  assert sorted(t for _, t in pairs) == ["cool vox", "cool zinc"]
  again = ondb_images.line_files(str(tmp_path), held_out)
  assert again == pairs   # from the cache, the same images
  shutil.rmtree(os.path.dirname(pairs[0][0]))   # the images deleted under the kept listing
  assert ondb_images.line_files(str(tmp_path), held_out) == pairs
  assert all(os.path.exists(path) for path, _ in pairs)
  for path, _ in pairs:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    ink = image < 128
    assert 90 <= image.shape[0] <= 170 and image.shape[1] > image.shape[0]
    assert 0.01 < ink.mean() < 0.4 and np.median(image) > 190   # dark strokes on light paper


def test_language_models_never_hold_a_line_that_shares_a_6_gram_with_a_test_line():
  from hwr_jax.language.leakage import without_test_text
  test = ["A MOVE to stop Mr . Gaitskell from nominating any more"]
  lines = ["to stop Mr . Gaitskell from",             # a 6-gram of the test line: out
           "to stop mr . gaitskell and others",        # 5 words in common: in
           "nominating any more Labour life Peers",    # in
           "mr . gaitskell FROM nominating any"]      # out (case does not matter)
  kept, dropped = without_test_text(lines, test + ["stop mr . gaitskell"])
  assert kept == lines[1:3] and dropped == 2
  assert without_test_text(lines, []) == (lines, 0)


ARPA = """
\\data\\
ngram 1=5
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<s>\t-0.3
-0.7\tthe\t-0.25
-1.2\tcat\t-0.2
-1.5\tSat\t-0.1
-2.0\t<unk>

\\2-grams:
-0.2\t<s> the\t-0.1
-0.4\tthe cat\t-0.05
-0.9\tcat sat

\\3-grams:
-0.1\t<s> the cat

\\end\\
"""


def test_an_arpa_model_scores_word_pairs_as_its_file_says(tmp_path):
  import math

  from hwr_jax.ctc.guides import word_log_prob
  from hwr_jax.language.ngrams import is_arpa, read_arpa
  (tmp_path / "lm.arpa").write_text(ARPA)
  (tmp_path / "text.txt").write_text("the cat sat\n")
  assert is_arpa(str(tmp_path / "lm.arpa")) and not is_arpa(str(tmp_path / "text.txt"))
  lm = read_arpa(str(tmp_path / "lm.arpa"), ["the", "cat", "sat", "mat"])
  log10 = lambda previous, word: word_log_prob(lm, previous, word) / math.log(10)
  assert log10(None, "the") == pytest.approx(-0.2)            # listed: <s> the
  assert log10("the", "cat") == pytest.approx(-0.4)           # listed
  assert log10("cat", "sat") == pytest.approx(-0.9)           # listed, 'Sat' lowercased
  assert log10("the", "sat") == pytest.approx(-0.25 - 1.5)    # backoff(the) + P(sat)
  assert log10("sat", "the") == pytest.approx(-0.1 - 0.7)     # no pairs after 'sat': backoff
  assert log10("the", "mat") == pytest.approx(-0.25 - 2.0)    # not in the file: <unk>
  (tmp_path / "bad.arpa").write_text("\\data\\\n\\2-grams:\n-0.1\n")
  with pytest.raises(ValueError, match="not an ARPA 2-gram line"):
    read_arpa(str(tmp_path / "bad.arpa"), ["the"])


# -- preprocessing ---------------------------------------------------------------

def test_normalization_ignores_position_and_scale():
  strokes = write_strokes("lovz", np.random.default_rng(1))
  features = ink.normalize(strokes)
  moved = [np.concatenate([s[:, :2] * 3.7 + [5000, -200], s[:, 2:]], 1) for s in strokes]
  np.testing.assert_allclose(ink.normalize(moved), features, atol=1e-4)
  assert features.shape[1] == ink.NUM_FEATURES
  assert features[:, 2].sum() == len(strokes)            # a pen lift per stroke
  steps = np.hypot(features[:, 0], features[:, 1])[features[:, 2] == 0]
  assert np.median(steps) == pytest.approx(ink.SPACING, rel=0.25)   # equidistant points


def test_deslant_makes_down_strokes_upright_and_deskew_levels_the_line():
  slanted = [np.array([[10.0 * k + 0.5 * y, y] for y in range(11)]) for k in range(5)]
  upright = ink.deslant(slanted)
  assert all(np.ptp(s[:, 0]) < 1e-6 for s in upright)
  line = [np.array([[x, 0.2 * x + (5 if x % 2 else 0)] for x in range(0, 100, 5)], float)]
  level = ink.deskew(line)[0]
  assert abs(np.polyfit(level[:, 0], level[:, 1], 1)[0]) < 0.01   # was 0.2


def test_ink_on_several_lines_splits_into_lines_top_to_bottom():
  rng = np.random.default_rng(2)
  first, second = write_strokes("lolz", rng, (0, 0)), write_strokes("vox il", rng, (20, 130))
  lines = ink.split_lines(first + second)
  assert [len(l) for l in lines] == [len(first), len(second)]
  drifting = [s + [0, 0.4 * s[0, 0], 0] for s in first + second]   # lines sloping down
  assert [len(l) for l in ink.split_lines(drifting)] == [len(first), len(second)]
  (alone,) = ink.split_lines(first)
  assert len(alone) == len(first)


# -- learning, reading, evaluating ---------------------------------------------------

def test_the_ink_model_learns_to_read_synthetic_lines(ink_run):
  _, workdir, _, results = ink_run
  records = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert records[-1]["train_loss"] < 0.5 * records[0]["train_loss"]
  assert records[-1]["val_cer"] < 0.5, records[-1]          # chance: ~100 %
  assert results["num_words"] == 48 and "no test split" in results["what"]
  # language models: the training lines (none shares a 6-gram with a validation line)
  assert len(open(workdir / "lm_lines.txt").read().splitlines()) == 480 - 48
  assert results["decoders"]["best_path"]["cer"] == pytest.approx(
      min(r["val_cer"] for r in records))


def hwr_read(*args):
  return subprocess.run([sys.executable, "-m", "hwr_jax.read", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)


def test_cli_reads_ink_files_folders_and_lines(ink_run, tmp_path):
  folder, workdir, _, _ = ink_run
  rng = np.random.default_rng(7)
  two_lines = write_strokes("lol", rng, (0, 0)) + write_strokes("zin", rng, (0, 150))
  (tmp_path / "sub").mkdir()
  write_json(tmp_path / "sub" / "two.ink.json", two_lines)
  (tmp_path / "page.xml").write_text(ondb_xml(two_lines))
  (tmp_path / "bomb.inkml").write_text(BAD_INK["bomb.xml"][0].replace("S>", "ink>"))
  result = hwr_read(str(tmp_path), f"--workdir={workdir}", "--json")
  assert result.returncode == 1, result.stderr[-2000:]      # one file could not be read
  readings = {json.loads(l)["file"].split("/")[-1]: json.loads(l) for l in result.stdout.splitlines()}
  assert set(readings) == {"two.ink.json", "page.xml", "bomb.inkml"}      # found recursively
  assert "refused unsafe XML" in readings["bomb.inkml"]["error"]
  for name in ("two.ink.json", "page.xml"):
    lines = readings[name]["lines"]
    assert len(lines) == 2 and lines[0]["box"][1] < lines[1]["box"][1]
    assert readings[name]["text"] == "\n".join(l["text"] for l in lines)
  result = hwr_read(str(tmp_path / "page.xml"), f"--workdir={workdir}", "--decoder=beam")
  assert result.returncode == 0 and [l.split("\t")[0] for l in result.stdout.splitlines()] == [
      f"{tmp_path / 'page.xml'}:1", f"{tmp_path / 'page.xml'}:2"]
  result = hwr_read(str(tmp_path / "page.xml"), f"--workdir={workdir}", "--decoder=word_beam",
                    "--json")
  assert result.returncode == 0, result.stderr[-2000:]
  from hwr_jax.data import vocabulary
  from hwr_jax.language.defaults import default_lexicon
  lexicon = default_lexicon(vocabulary.read(str(workdir)))
  words = json.loads(result.stdout)["text"].split()
  assert words and all(lexicon.is_word(w) for w in words)   # dictionary words only
  result = hwr_read(str(tmp_path / "page.xml"), f"--workdir={workdir}", "--decoder=lexicon")
  assert result.returncode == 2 and "reads lines with" in result.stderr


def test_python_api_reads_strokes(ink_run):
  import hwr_jax
  _, workdir, _, _ = ink_run
  reader = hwr_jax.load_reader(str(workdir), compilation_cache=False)
  rng = np.random.default_rng(3)
  texts = [random_text(rng) for _ in range(12)]
  readings = reader.read_many([write_strokes(t, rng) for t in texts] + [[np.zeros((1, 2))]])
  assert readings[-1].error and "single point" in readings[-1].error
  from hwr_jax.evaluators.text import text_error_rates
  assert text_error_rates(texts, [r.text for r in readings[:-1]])["cer"] < 0.5
  with pytest.raises(InkError, match="no ink"):
    reader.read([])


def test_launch_evaluates_an_ink_model(ink_run, tmp_path):
  _, workdir, _, _ = ink_run
  from tests_helpers import launch_evaluate
  result = launch_evaluate(workdir, tmp_path, "--decoders=best_path,beam")
  assert result.returncode == 0, result.stderr[-3000:]
  saved = json.load(open(workdir / "eval_test_words.json"))
  assert set(saved["decoders"]) == {"best_path", "beam"} and saved["num_words"] == 48


def test_the_ondb_experiment_reads_testset_f_with_each_decoder(ink_run, tmp_path):
  _, workdir, _, _ = ink_run
  rng = np.random.default_rng(5)
  write_ondb_folder(tmp_path / "ondb", {"a02-000": ["lov zin", "cool"], "a03-017": ["nix"],
                                        "a02-050": ["zoo"]}, rng)          # 2 test forms
  result = subprocess.run(
      [sys.executable, "experiments/ondb_lines.py", f"--workdir={workdir}",
       f"--ondb={tmp_path / 'ondb'}", f"--out={tmp_path / 'out'}", "--latency_lines=3",
       "--decoders=best_path,word_beam"], cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  saved = json.load(open(tmp_path / "out" / "results.json"))
  assert saved["results"]["num_words"] == 3 and "testset_f" in saved["results"]["what"]
  assert set(saved["results"]["decoders"]) == {"best_path", "word_beam"}
  assert saved["speed"]["lines_timed"] == 3 and saved["speed"]["ms_per_line_median"] > 0
  assert saved["line_splitting"] == {"forms": 2, "forms_split_exactly": 2}
  assert "| hwr-jax ink reader, word_beam |" in (tmp_path / "out" / "results.md").read_text()
