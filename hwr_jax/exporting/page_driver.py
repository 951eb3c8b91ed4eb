"""Drives the exported web page (`hwr-export --web`) in a browser, for its
tests and experiments/benchmark_web.py: serve the folder, draw strokes on the
canvas with pointer events, wait for the page's reading."""

import contextlib
import functools
import http.server
import threading

import numpy as np

# Draws strokes with pointer events dispatched in the page (thousands of mouse
# moves through Playwright would take seconds): all but the last, waits for
# their reading, then the last, and returns its reading (text, ms from the end
# of the last stroke, model, decoder, frame labels). Canvas pixels -> client
# coordinates inside the canvas's CSS border, as page.js maps them back.
DRAW = """async ([strokes, decoder]) => {
  const canvas = document.getElementById("canvas");
  const box = canvas.getBoundingClientRect();
  const event = (kind, [x, y]) => canvas.dispatchEvent(new PointerEvent(kind, {
      clientX: box.left + canvas.clientLeft + x * canvas.clientWidth / canvas.width,
      clientY: box.top + canvas.clientTop + y * canvas.clientHeight / canvas.height,
      pointerId: 1, bubbles: true}));
  const readingOf = n => new Promise(resolve => {
    const wait = () => window.hwrLastReading && window.hwrLastReading.strokes === n
        ? resolve(window.hwrLastReading) : setTimeout(wait, 5);
    wait();
  });
  const draw = stroke => {
    event("pointerdown", stroke[0]);
    for (const p of stroke.slice(1)) event("pointermove", p);
    event("pointerup", stroke[stroke.length - 1]);
  };
  document.getElementById("clear").click();
  document.getElementById("decoder").value = decoder;
  window.hwrLastReading = null;
  strokes.slice(0, -1).forEach(draw);
  if (strokes.length > 1) await readingOf(strokes.length - 1);
  draw(strokes[strokes.length - 1]);
  return await readingOf(strokes.length);
}"""


def on_canvas(strokes: list[np.ndarray], scale: float | None = None, width: int = 900,
              height: int = 300, margin: int = 20) -> list:
  """Strokes ((N, 2+) arrays) as canvas pixels: `scale`d, or as large as the
  canvas holds."""
  xy = np.concatenate([s[:, :2] for s in strokes])
  span = np.maximum(np.ptp(xy, 0), 1e-9)
  scale = scale or min((width - 2 * margin) / span[0], (height - 2 * margin) / span[1])
  return [((s[:, :2] - xy.min(0)) * scale + margin).round(1).tolist() for s in strokes]


@contextlib.contextmanager
def served(folder: str):
  """The page in `folder` served on a free local port; yields its URL."""
  class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
      pass
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                           functools.partial(Quiet, directory=str(folder)))
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
  finally:
    server.shutdown()
