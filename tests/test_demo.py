"""The draw-and-read app in a real browser: Playwright drives Debian's
Chromium (no browser is downloaded), draws strokes with mouse events, waits
for the reading, checks the per-character panel, uploads an image, and saves
screenshots under the test's output folder."""

import os
import shutil
import socket
import time

import cv2
import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags a closed network needs (no background connections, no sandbox as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
  if CHROMIUM is None:   # before training a model the browser tests cannot use
    pytest.skip("needs Chromium from the distribution: apt-get install -y chromium")
  os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
  from tests_helpers import tiny_workdir
  from hwr_jax import demo
  folder = tmp_path_factory.mktemp("demo")
  app = demo.build_app([tiny_workdir(folder), str(folder / "not-a-workdir")])
  port = free_port()
  demo.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
              quiet=True)
  yield f"http://127.0.0.1:{port}/"
  app.close()


@pytest.fixture(scope="module")
def browser():
  if CHROMIUM is None:
    pytest.skip("needs Chromium from the distribution: apt-get install -y chromium")
  playwright = pytest.importorskip("playwright.sync_api")
  with playwright.sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def open_page(browser, url):
  page = browser.new_page(viewport={"width": 1400, "height": 1000})
  page.goto(url)
  page.wait_for_selector("#canvas canvas[data-ready='1']", timeout=60_000)
  return page


@pytest.fixture(scope="module")
def page(app_url, browser):
  page = open_page(browser, app_url)
  yield page
  page.close()


def reading(page) -> str:
  return page.eval_on_selector("#reading textarea", "e => e.value")


def stroke(page, points):
  page.mouse.move(*points[0])
  page.mouse.down()
  for x, y in points[1:]:
    page.mouse.move(x, y, steps=8)
  page.mouse.up()


def test_drawing_is_read_with_a_panel_per_character(page, tmp_path):
  assert "not-a-workdir" in page.inner_text("#problems")       # the bad workdir is named
  box = page.locator("#canvas canvas").last.bounding_box()
  x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
  height = box["height"] * 0.4
  latencies = []
  for i in range(2):                            # two strokes, two characters
    before = reading(page)
    x = x0 + i * box["width"] * 0.2
    stroke(page, [(x, y0), (x, y0 + height)])
    start = time.perf_counter()
    page.wait_for_function(
        "([before]) => { const t = document.querySelector('#reading textarea').value;"
        " return t.length > 0 && t !== before; }", arg=[before], timeout=30_000)
    latencies.append(time.perf_counter() - start)
  text = reading(page)
  rows = page.locator("#character-table tr")
  assert len(text) == 2 and rows.count() == 1 + 2
  assert "ms" in page.inner_text("#details")
  page.screenshot(path=str(tmp_path / "drawn.png"), full_page=True)
  print(f"reading latency after a stroke ends: {[round(1000 * s) for s in latencies]} ms")


def test_upload_is_read_and_bad_uploads_get_a_message(page, tmp_path):
  page.get_by_role("tab", name="Upload").click()
  image = np.full((60, 200), 230, np.uint8)
  for x in (30, 90, 150):
    image[15:45, x:x + 10] = 20
  cv2.imwrite(str(tmp_path / "word.png"), image)
  page.locator("#upload input[type=file]").set_input_files(str(tmp_path / "word.png"))
  page.wait_for_function("document.querySelector('#reading textarea').value.length == 3",
                         timeout=30_000)
  assert page.locator("#character-table tr").count() == 4
  page.screenshot(path=str(tmp_path / "uploaded.png"), full_page=True)
  (tmp_path / "notes.png").write_text("not an image")
  (tmp_path / "empty.png").write_bytes(b"")
  for name, message in [("notes.png", "not a readable image"), ("empty.png", "the file is empty")]:
    page.locator("#upload button[aria-label='Clear']").click()   # the last file out
    page.locator("#upload input[type=file]").set_input_files(str(tmp_path / name))
    page.wait_for_function("([m]) => document.querySelector('#details').innerText.includes(m)",
                           arg=[message], timeout=30_000)
    assert reading(page) == ""


def test_uploads_that_are_not_readable_images_get_a_message(tmp_path, monkeypatch):
  """Without a browser: the checks behind the upload tab's messages."""
  from hwr_jax import demo
  from hwr_jax.readers import ImageError
  cv2.imwrite(str(tmp_path / "small.png"), np.full((20, 30), 200, np.uint8))
  assert demo.load_upload(str(tmp_path / "small.png")).shape == (20, 30)
  monkeypatch.setattr(demo, "MAX_PIXELS", 500)
  with pytest.raises(ImageError, match="too large \\(30x20 pixels\\)"):
    demo.load_upload(str(tmp_path / "small.png"))
  (tmp_path / "empty.png").write_bytes(b"")
  with pytest.raises(ImageError, match="empty"):
    demo.load_upload(str(tmp_path / "empty.png"))


@pytest.fixture(scope="module")
def ink_page(ink_run, browser):
  """The demo with an ink model, in Chromium."""
  from hwr_jax import demo
  _, workdir, _, _ = ink_run
  app = demo.build_app([str(workdir)])
  port = free_port()
  demo.launch(app, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
              quiet=True)
  page = open_page(browser, f"http://127.0.0.1:{port}/")
  yield page
  page.close()
  app.close()


def test_an_ink_model_reads_the_strokes_and_two_lines_come_back_as_two(ink_page, tmp_path):
  from tests_helpers import LETTERS
  page = ink_page
  box = page.locator("#canvas canvas").last.bounding_box()
  size = box["height"] * 0.22
  latencies = []
  for row, word in enumerate(("lov", "zil")):      # two lines, one under the other
    y = box["y"] + box["height"] * (0.12 + 0.5 * row)
    for k, ch in enumerate(word):
      x = box["x"] + box["width"] * 0.1 + k * size * 1.1
      for poly in LETTERS[ch]:
        stroke(page, [(x + px * size, y + py * size) for px, py in poly])
        start = time.perf_counter()
        page.wait_for_function(     # the reading of all strokes so far
            "([n]) => document.querySelector('#details').innerText.includes(n + ' strokes,')",
            arg=[len(latencies) + 1], timeout=30_000)
        latencies.append(time.perf_counter() - start)
  assert "7 strokes, 2 line(s)" in page.inner_text("#details")
  assert reading(page).count("\n") == 1
  page.screenshot(path=str(tmp_path / "ink.png"), full_page=True)
  print(f"ink: stroke end -> text: median {1000 * np.median(latencies):.0f} ms, "
        f"max {1000 * max(latencies):.0f} ms over {len(latencies)} strokes")
