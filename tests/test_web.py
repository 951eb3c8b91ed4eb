"""The page that reads in the browser (`hwr-export --web`): its JavaScript
steps against the Python ones they port (under Node), the page written by the
CLI, and the page itself in Chromium (Playwright): strokes drawn on its canvas
are read by onnxruntime-web with the text the Python reader gives the same
strokes (the shipped ink model) or the same picture (the shipped word model,
a line model)."""

import base64
import json
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from hwr_jax.exporting import page_driver, web
from hwr_jax.exporting.page_driver import DRAW, on_canvas
from hwr_jax.preprocess import ink, word_input
from tests_helpers import draw_line, write_strokes

NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HWR_JS = os.path.join(web.WEB, "hwr.js")

# Runs hwr.js on the JSON it is given (stdin) and prints what each step made.
NODE_SCRIPT = """
import {bestPath, beamSearch, imageInput, inkFeatures, inkLines} from "%s";
let data = "";
process.stdin.on("data", chunk => data += chunk);
process.stdin.on("end", () => {
  const input = JSON.parse(data);
  const lines = inkLines(input.strokes);
  const out = {
    lines: lines.map(line => line.map(s => input.strokes.indexOf(s))),
    features: lines.map(line => Array.from(inkFeatures(line).features)),
    image: (({pixels, width}) => ({pixels: Array.from(pixels), width}))(
        imageInput(Uint8Array.from(input.gray), input.width, input.height, input.geometry)),
    decoded: input.matrices.map(m => {
      const logProbs = Float32Array.from(m.flat());
      return {best: bestPath(logProbs, m.length, m[0].length, input.charset),
              beam: beamSearch(logProbs, m.length, m[0].length, input.charset)};
    }),
  };
  process.stdout.write(JSON.stringify(out));
});
"""


def run_node(tmp_path, data: dict) -> dict:
  script = tmp_path / "check.mjs"
  script.write_text(NODE_SCRIPT % ("file://" + HWR_JS))
  done = subprocess.run([NODE, str(script)], input=json.dumps(data), capture_output=True,
                        text=True, timeout=60)
  assert done.returncode == 0, done.stderr
  return json.loads(done.stdout)


def peaked_matrices(rng, charset: str, n: int = 6) -> list[np.ndarray]:
  """Log-probability matrices with runs of likely labels and blanks, as a
  CTC model's look, some with near ties (where a port's order would show)."""
  out = []
  for k in range(n):
    frames, classes = int(rng.integers(20, 60)), len(charset) + 1
    logits = rng.normal(0, 1.0 + k, (frames, classes))
    logits[np.arange(frames), rng.integers(0, classes, frames)] += 3.0
    logits[rng.random(frames) < 0.4, 0] += 6.0
    e = np.exp(logits - logits.max(1, keepdims=True))
    out.append(np.log(e / e.sum(1, keepdims=True)).astype(np.float32))
  return out


@pytest.mark.skipif(NODE is None, reason="needs Node.js (the page's JavaScript runs under it)")
def test_the_pages_steps_match_the_python_ones(tmp_path):
  from hwr_jax.ctc.decoders import best_path_decode, prefix_beam_search
  rng = np.random.default_rng(3)
  strokes = write_strokes("zinc vol", rng) + write_strokes("nix", rng, origin=(20.0, 120.0))
  xy = [s[:, :2].round(1) for s in strokes]
  gray = draw_line("vixon zinc", rng, height=40)
  geometry = word_input.InputGeometry(height=32, buckets=(64, 128, 256, 512))
  charset = "abcdefghij "
  matrices = peaked_matrices(rng, charset)
  out = run_node(tmp_path, {
      "strokes": [s.tolist() for s in xy], "gray": gray.ravel().tolist(),
      "width": gray.shape[1], "height": gray.shape[0],
      "geometry": {"height": 32, "buckets": list(geometry.buckets), "columns_per_frame": 4},
      "matrices": [m.tolist() for m in matrices], "charset": charset})

  lines = ink.split_lines(xy)
  assert len(lines) == len(out["lines"]) == 2
  for line, indices, features in zip(lines, out["lines"], out["features"]):
    assert [id(s) for s in line] == [id(xy[i]) for i in indices]
    np.testing.assert_allclose(np.array(features).reshape(-1, 4), ink.normalize(line),
                               atol=1e-4)

  expected = word_input.normalize(gray, geometry)
  got = np.array(out["image"]["pixels"], np.int32).reshape(32, out["image"]["width"])
  assert got.shape == expected.shape
  difference = np.abs(got - expected)
  assert difference.max() <= 1 and (difference == 0).mean() > 0.99

  for m, decoded in zip(matrices, out["decoded"]):
    labels = best_path_decode(m[None])[0]
    assert decoded["best"] == "".join(charset[k - 1] for k in labels)
    (beam_labels, score), *_ = prefix_beam_search(m, 16, kind="log_probs")
    assert decoded["beam"]["text"] == "".join(charset[k - 1] for k in beam_labels)
    assert decoded["beam"]["score"] == pytest.approx(score, abs=1e-4)


def test_hwr_export_web_needs_onnxruntime_web(tmp_path, monkeypatch, capsys):
  from hwr_jax import export
  monkeypatch.setenv("HWR_ORT_WEB", str(tmp_path / "nothing-here"))
  assert export.main(["--model=ondb-lines", f"--web={tmp_path / 'page'}"]) == 2
  assert "npm ci --prefix" in capsys.readouterr().err
  with pytest.raises(SystemExit):
    export.main(["--model=ondb-lines"])   # neither --out nor --web


def ort_installed() -> bool:
  try:
    web.ort_folder()
    return True
  except web.WebError:
    return False


@pytest.fixture(scope="module")
def page_url(tmp_path_factory, line_run):
  """The page with the shipped ink and word models and a small line model,
  served by a plain file server."""
  if CHROMIUM is None:
    pytest.skip("needs Chromium from the distribution: apt-get install -y chromium")
  if not ort_installed():
    pytest.skip(f"needs onnxruntime-web: npm ci --prefix {web.WEB}")
  from hwr_jax import export
  folder = tmp_path_factory.mktemp("web")
  assert export.main(["--model=ondb-lines", f"--web={folder}"]) == 0
  assert export.main(["--model=iam-words", f"--web={folder}"]) == 0
  assert export.main([f"--workdir={line_run[1]}", f"--web={folder}"]) == 0
  assert json.loads((folder / "models.json").read_text()) == {
      "ondb-lines": "pen strokes", "iam-words": "words", "run": "lines"}
  with page_driver.served(folder) as url:
    yield url


@pytest.fixture(scope="module")
def page(page_url):
  playwright = pytest.importorskip("playwright.sync_api")
  from test_demo import CHROMIUM_ARGS
  with playwright.sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page()
    page.goto(page_url)
    page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
    yield page
    browser.close()


def test_the_page_reads_ink_as_the_python_reader_does(page):
  from hwr_jax import pretrained
  from hwr_jax.readers import load_reader
  rng = np.random.default_rng(5)
  strokes = on_canvas(write_strokes("vixon zinc", rng) +
                      write_strokes("in nix", rng, origin=(0.0, 110.0)))
  page.select_option("#model", "ondb-lines")
  for decoder in ("best_path", "beam"):
    reading = page.evaluate(DRAW, [strokes, decoder])
    drawn = page.evaluate("window.hwrStrokes()")
    reader = load_reader(pretrained.find("ondb-lines"), decoder=decoder)
    expected = reader.read([np.array(s) for s in drawn])
    assert reading["text"] == expected.text and reading["text"].count("\n") == 1
    assert reading["model"] == "ondb-lines" and reading["decoder"] == decoder
    assert reading["ms"] < 5000


def test_the_page_reads_a_line_image_as_the_python_reader_does(page, line_run, tmp_path):
  from hwr_jax.readers import load_reader
  folder, workdir, _ = line_run
  rng = np.random.default_rng(6)
  page.select_option("#model", "run")
  # As the model's training lines are drawn: letters ~100 px high for a 6 px pen.
  reading = page.evaluate(DRAW, [on_canvas(write_strokes("zin vox", rng), 2.0), "best_path"])
  png = tmp_path / "canvas.png"
  png.write_bytes(base64.b64decode(page.evaluate("window.hwrCanvasPng()").split(",")[1]))
  assert cv2.imread(str(png)) is not None
  expected = load_reader(str(workdir)).read_file(str(png))
  assert reading["text"] == expected.text
  # The frames themselves (a small model reads few letters): each frame's most
  # likely label as the JAX model gives it for the same picture.
  from hwr_jax import inference
  from hwr_jax.preprocess.image import to_gray
  model = inference.load_model(str(workdir))
  probs = model.frame_probabilities([word_input.normalize(to_gray(cv2.imread(str(png))),
                                                          model.geometry)], prepared=True)[0]
  got = np.array(reading["frameLabels"][0])
  assert got.shape == (len(probs),) and (got == probs.argmax(1)).mean() >= 0.9


def test_the_page_reads_a_word_with_the_shipped_word_model(page, tmp_path):
  from hwr_jax.readers import load_reader
  page.select_option("#model", "iam-words")
  strokes = on_canvas(write_strokes("lion", np.random.default_rng(8)))
  png = tmp_path / "canvas.png"
  for decoder in ("best_path", "beam"):
    reading = page.evaluate(DRAW, [strokes, decoder])
    png.write_bytes(base64.b64decode(page.evaluate("window.hwrCanvasPng()").split(",")[1]))
    expected = load_reader("iam-words", decoder=decoder).read_file(str(png))
    assert reading["text"] and reading["text"] == expected.text
    assert reading["model"] == "iam-words" and reading["decoder"] == decoder


def test_clear_while_the_page_reads_drops_that_reading(page):
  """Clear right after the last stroke ends: the reading of the whole word,
  already started, must not write its text afterwards."""
  page.select_option("#model", "ondb-lines")
  strokes = on_canvas(write_strokes("zinc", np.random.default_rng(7)))
  before = page.evaluate(DRAW, [strokes, "best_path"])   # the same word, read to the end
  assert before["text"]
  page.evaluate("""(strokes) => {
    const canvas = document.getElementById("canvas");
    const box = canvas.getBoundingClientRect();
    const event = (kind, [x, y]) => canvas.dispatchEvent(new PointerEvent(kind, {
        clientX: box.left + canvas.clientLeft + x, clientY: box.top + canvas.clientTop + y,
        pointerId: 1, bubbles: true}));
    document.getElementById("clear").click();
    for (const stroke of strokes) {   // one reading starts; the others wait for it
      event("pointerdown", stroke[0]);
      for (const p of stroke.slice(1)) event("pointermove", p);
    }
    event("pointerup", strokes[strokes.length - 1].at(-1));
    document.getElementById("clear").click();
  }""", strokes)
  page.wait_for_timeout(1500)
  assert page.inner_text("#text") == ""
  assert page.evaluate("window.hwrStrokes().length") == 0
