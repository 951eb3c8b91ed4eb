"""The browser page (`hwr-export --web`) on real ink: IAM-OnDB test lines
(testset_f) drawn on its canvas in Chromium, read by onnxruntime-web, against
the Python reader on the strokes the page recorded (an ink model) or on the
canvas picture (a word or line model).

  npm ci --prefix hwr_jax/web && apt-get install -y chromium
  python experiments/benchmark_web.py --ondb=ONDB_FOLDER [--model=ondb-lines] [--lines=200]
  python experiments/benchmark_web.py --ondb=ONDB_FOLDER --model=iam-words   # first words

Each line is drawn stroke by stroke with pointer events (scaled to the
canvas), its last stroke after the reading of the others has finished, so the
time measured is what a writer waits for: from the end of the last stroke to
the text on screen (best path and beam). Prints one JSON object: the CPU,
median / p90 / max ms, and how many texts equal the Python reader's (JAX,
same decoder) on the same strokes. A word model gets each line's first word:
its strokes up to the first gap wider than a quarter of the line's height.
"""

import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "experiments"))

from benchmark_pages import cpu_name  # noqa: E402


def first_word(strokes: list[np.ndarray]) -> list[np.ndarray]:
  """The strokes before the first one that starts a quarter of the line's
  height right of all before it."""
  height = np.ptp(np.concatenate(strokes)[:, 1])
  right = strokes[0][:, 0].max()
  for i, stroke in enumerate(strokes[1:], 1):
    if stroke[:, 0].min() > right + 0.25 * height:
      return strokes[:i]
    right = max(right, stroke[:, 0].max())
  return strokes


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--ondb", required=True, help="IAM-OnDB folder (lineStrokes/, ascii/)")
  parser.add_argument("--model", default="ondb-lines", help="a pretrained model")
  parser.add_argument("--lines", type=int, default=200, help="test lines, evenly spread")
  args = parser.parse_args()
  from playwright.sync_api import sync_playwright

  from hwr_jax import export, pretrained, runtime
  from hwr_jax.data import ink_files, ondb
  from hwr_jax.exporting import page_driver
  from hwr_jax.exporting.page_driver import DRAW, on_canvas
  from hwr_jax.readers import load_reader
  from hwr_jax.readers.ink import InkReader
  runtime.set_xla_flags()
  lines = [l for l in ondb.read_lines(args.ondb).lines if l.split == "test"]
  lines = [lines[i] for i in np.linspace(0, len(lines) - 1, args.lines).astype(int)]
  folder = tempfile.mkdtemp()
  try:
    assert export.main([f"--model={args.model}", f"--web={folder}"]) == 0
    readers = {d: load_reader(pretrained.find(args.model), decoder=d)
               for d in ("best_path", "beam")}
    results = {d: {"ms": [], "same_text": 0} for d in readers}
    ink = isinstance(readers["best_path"], InkReader)
    png = os.path.join(folder, "canvas.png")
    with page_driver.served(folder) as url, sync_playwright() as p:
      browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                  args=["--no-sandbox", "--disable-gpu"])
      page = browser.new_page()
      page.goto(url)
      page.wait_for_selector("body[data-ready=yes]", timeout=120_000)
      page.select_option("#model", args.model)
      for line in lines:
        strokes = ink_files.read_ink(line.path)
        strokes = on_canvas(strokes if ink else first_word(strokes))
        for decoder, reader in readers.items():
          reading = page.evaluate(DRAW, [strokes, decoder])
          if ink:
            expected = reader.read([np.array(s) for s in page.evaluate("window.hwrStrokes()")])
          else:
            with open(png, "wb") as f:
              f.write(base64.b64decode(page.evaluate("window.hwrCanvasPng()").split(",")[1]))
            expected = reader.read_file(png)
          results[decoder]["ms"].append(reading["ms"])
          results[decoder]["same_text"] += reading["text"] == expected.text
      browser.close()
  finally:
    shutil.rmtree(folder)
  report = {"cpu": cpu_name(), "browser": "Chromium (Debian), onnxruntime-web 1.30.0, wasm, 1 thread",
            "model": args.model, "lines": len(lines),
            "drawn": "the lines' strokes" if ink else "each line's first word, read as a picture"}
  for decoder, r in results.items():
    ms = np.array(r["ms"])
    report[decoder] = {"median_ms": round(statistics.median(ms), 1),
                       "p90_ms": round(float(np.percentile(ms, 90)), 1),
                       "max_ms": round(float(ms.max()), 1),
                       "same_text_as_python": f"{r['same_text']}/{len(lines)}"}
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
