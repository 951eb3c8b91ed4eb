"""Draw and read: a local web app (Gradio) that reads what you draw or upload.

  hwr-demo                                  # the pretrained models
  hwr-demo --workdir=runs/dev_byclass [--workdir=runs/iam ...] [--model=NAME] [--port=7860]
  python -m hwr_jax.demo --workdir=runs/dev_byclass

Draw a character, a word or a short line on the canvas (mouse, pen or
finger); the reading appears when a stroke ends. An ink model reads the pen
strokes themselves (with their times), lines written one under another as
lines; the other models read the canvas as an image. Or upload an image file, or
take a picture with the camera. A character classifier shows its segmentation (boxes,
each crop as the classifier sees it, the top 3 classes); a word model shows
its text, confidence and the best beam alternatives; a line model reads an
uploaded page and shows its line and word boxes beside its text. Drawings are normalized
first (`preprocess/drawing.py`) so the readers see what they trained on.
"""

import argparse
import os
import sys
import time

import numpy as np

MAX_PIXELS = 25_000_000
CANVAS = (900, 300)      # width, height

# A light drawing canvas as a Gradio custom HTML component: pointer events
# (mouse, pen, finger) draw round black strokes; when a stroke ends, the
# canvas goes to the server as a PNG and as strokes of [x, y, t] points
# (canvas pixels, milliseconds) in the event's data, in one request.
CANVAS_HTML = f"""
<div class="hwr-canvas">
  <canvas width="{CANVAS[0]}" height="{CANVAS[1]}"></canvas>
  <div class="hwr-tools"><button class="undo">Undo</button> <button class="clear">Clear</button>
  <span class="hint">draw with a mouse, pen or finger</span></div>
</div>"""
CANVAS_CSS = """
.hwr-canvas canvas { width: 100%; max-width: 900px; border: 1px solid #bbb; border-radius: 6px;
                     touch-action: none; cursor: crosshair; background: white; }
.hwr-tools { margin-top: 6px; } .hwr-tools .hint { color: #888; font-size: 0.9em; }
"""
CANVAS_JS = """
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
let strokes = [], current = null;
function redraw() {
  ctx.fillStyle = 'white'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = 'black'; ctx.lineWidth = 8; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
  for (const s of strokes) {
    ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s) ctx.lineTo(x, y);
    ctx.stroke();
  }
}
function point(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height,
          Math.round(e.timeStamp)];
}
function send() {
  trigger('change', {image: strokes.length ? canvas.toDataURL('image/png') : '', strokes: strokes});
}
canvas.addEventListener('pointerdown', e => {
  canvas.setPointerCapture(e.pointerId); current = [point(e)]; strokes.push(current); redraw();
});
canvas.addEventListener('pointermove', e => { if (current) { current.push(point(e)); redraw(); } });
const end = () => { if (current) { current = null; send(); } };
canvas.addEventListener('pointerup', end);
canvas.addEventListener('pointercancel', end);
element.querySelector('.undo').addEventListener('click', () => { strokes.pop(); redraw(); send(); });
element.querySelector('.clear').addEventListener('click', () => { strokes = []; redraw(); send(); });
redraw();
canvas.dataset.ready = '1';   // listening (tests wait for this before drawing)
"""


def load_readers(workdirs: list[str]) -> tuple[dict, dict]:
  """name -> (reader, workdir) for each usable workdir; name -> message for
  the others."""
  from hwr_jax import readers
  usable, problems = {}, {}
  from hwr_jax import pretrained
  for workdir in workdirs:
    name = os.path.basename(os.path.normpath(workdir))
    if not os.path.exists(workdir) and workdir in pretrained.names():
      workdir = pretrained.find(workdir)   # its folder: vocabulary and LM lines are read there
    try:
      reader = readers.load_reader(workdir)
      kind = "word model (CRNN)" if is_crnn(reader) else "ink model (pen strokes)" \
          if is_ink(reader) else f"character classifier, {len(reader.charset)} classes"
      usable[f"{name}: {kind}"] = (reader, workdir)
    except (ValueError, OSError) as e:
      problems[name] = str(e)
  return usable, problems


def is_crnn(reader) -> bool:
  return reader.__class__.__name__ == "CRNNReader"


def is_ink(reader) -> bool:
  return reader.__class__.__name__ == "InkReader"


def read_strokes(strokes, reader) -> tuple:
  """(text, details markdown, characters HTML, picture) for the canvas's
  strokes read by an ink model: one line of text per line of writing."""
  from hwr_jax.data.ink_files import InkError, strokes_from_json
  if not strokes:
    return "", "Draw something to read.", "", None
  start = time.perf_counter()
  try:
    reading = reader.read(strokes_from_json(strokes))
  except InkError as e:
    return "", f"**Nothing to read:** {e}.", "", None
  ms = 1000 * (time.perf_counter() - start)
  lines = " · ".join(f"line {k}: confidence {l.confidence:.2f}"
                     for k, l in enumerate(reading.lines, 1))
  return (reading.text, f"{len(strokes)} strokes, {len(reading.lines)} line(s) · {lines} · "
          f"read in {ms:.0f} ms", "", None)


def annotate(gray: np.ndarray, reading) -> np.ndarray:
  """RGB picture: the image with each character's box and reading, and the
  28x28 crops the classifier saw in a strip below."""
  import cv2
  picture = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
  seg = reading.segmentation
  for c, (x0, y0, x1, y1) in zip(reading.characters, seg.boxes):
    cv2.rectangle(picture, (x0, y0), (x1, y1), (220, 30, 30), 1)
    cv2.putText(picture, c.char, (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (220, 30, 30), 1)
  crops = [cv2.resize(255 - crop, (56, 56), interpolation=cv2.INTER_NEAREST)
           for crop in seg.crops]
  strip = np.full((60, max(picture.shape[1], 60 * len(crops)), 3), 255, np.uint8)
  for i, crop in enumerate(crops):
    strip[2:58, 60 * i + 2:60 * i + 58] = crop[..., None]
  canvas = np.full((picture.shape[0] + 60, strip.shape[1], 3), 255, np.uint8)
  canvas[:picture.shape[0], :picture.shape[1]] = picture
  canvas[picture.shape[0]:] = strip
  return canvas


def characters_table(reader, reading) -> str:
  """HTML table: each character, its confidence and the classifier's top 3."""
  probs = reader.model.classify(reading.segmentation.crops)
  rows = []
  for c, p in zip(reading.characters, probs):
    top = np.argsort(p)[::-1][:3]
    alternatives = ", ".join(f"{reader.charset[k]} {p[k]:.2f}" for k in top)
    rows.append(f"<tr><td class='char'>{c.char}</td><td>{c.confidence:.2f}</td>"
                f"<td>{alternatives}</td></tr>")
  return ("<table id='character-table'><tr><th>char</th><th>confidence</th><th>top 3</th></tr>"
          + "".join(rows) + "</table>")


def alternatives_text(reader, reading, beams: int = 5) -> str:
  from hwr_jax.ctc.decoders import prefix_beam_search
  found = prefix_beam_search(reading.frames, beam_width=16)[:beams]
  return "\n".join(f"- `{reader.decoder.text(labels)}` {np.exp(score):.3f}"
                   for labels, score in found)


def decode_data_url(url: str) -> np.ndarray:
  import base64

  import cv2
  data = base64.b64decode(url.split(",", 1)[1])
  return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def load_upload(path: str) -> np.ndarray:
  """An uploaded file as an image; ImageError when it is not a readable
  image, empty, or too large (checked from its header, before decoding)."""
  from PIL import Image

  from hwr_jax.readers import ImageError, load_image
  if os.path.getsize(path) == 0:
    raise ImageError("the file is empty")
  try:
    with Image.open(path) as header:
      width, height = header.size
  except Exception:   # PIL raises many kinds for files that are not images
    raise ImageError("not a readable image (unknown format or corrupt file)") from None
  if width * height > MAX_PIXELS:
    raise ImageError(f"the image is too large ({width}x{height} pixels); crop it to the text")
  return load_image(path)


def read_image(image, reader, drawn: bool, normalize: bool):
  """(text, details markdown, characters HTML, picture) for one image: a
  canvas PNG (data URL), an uploaded file's path or a camera picture."""
  from hwr_jax.readers import ImageError
  from hwr_jax.preprocess.drawing import STROKE_SHARE, normalize_drawing
  if image is None or (isinstance(image, str) and not image):
    return "", "Draw or upload something to read.", "", None
  if isinstance(image, str) and image.startswith("data:"):   # the canvas: a PNG
    image = decode_data_url(image)
  elif isinstance(image, str):                      # an uploaded file
    try:
      image = load_upload(image)
    except ImageError as e:
      return "", f"**Cannot read this file:** {e}.", "", None
  elif image.ndim == 3 and image.shape[2] in (3, 4):  # Gradio gives RGB(A); OpenCV wants BGR(A)
    image = image[..., [2, 1, 0, 3][:image.shape[2]]]
  if image.size > MAX_PIXELS:
    return "", (f"**This image is too large** ({image.shape[1]}x{image.shape[0]} pixels); "
                "crop it to the text."), "", None
  if drawn and normalize:
    image = normalize_drawing(image, STROKE_SHARE["crnn" if is_crnn(reader) else "segment"])
  start = time.perf_counter()
  try:
    reading = reader.read(image)
  except ImageError as e:
    return "", f"**Nothing to read:** {e}.", "", None
  ms = 1000 * (time.perf_counter() - start)
  if reading.lines is not None:   # a line model: a page, a line or a word
    import cv2
    from hwr_jax.readers.base import page_picture
    lines = " · ".join(f"line {k}: confidence {l.confidence:.2f}"
                       for k, l in enumerate(reading.lines, 1))
    picture = cv2.cvtColor(page_picture(image, reading), cv2.COLOR_BGR2RGB)
    return (reading.text, f"{len(reading.lines)} line(s) · {lines} · read in {ms:.0f} ms", "",
            picture)
  if is_crnn(reader):
    details = (f"confidence {reading.confidence:.2f} · read in {ms:.0f} ms\n\n"
               f"best beam alternatives:\n{alternatives_text(reader, reading)}")
    return reading.text, details, "", None
  details = f"{len(reading.characters)} characters · read in {ms:.0f} ms"
  return (reading.text, details, characters_table(reader, reading),
          annotate(reading.segmentation.gray, reading))


def build_app(workdirs: list[str]):
  import gradio as gr
  readers, problems = load_readers(workdirs)
  for reader, _ in readers.values():        # compile before the first stroke
    try:
      if is_ink(reader):   # the lengths a canvas line has, one and two lines at a time
        from hwr_jax.preprocess.ink import NUM_FEATURES
        for points in [b for b in reader.model.geometry.buckets if b <= 768]:
          for lines in (1, 2):
            reader.model.ink_frame_probabilities([np.zeros((points, NUM_FEATURES), np.float32)]
                                                 * lines)
      else:
        reader.read(np.pad(np.full((40, 40), 20, np.uint8), 30, constant_values=230))
    except ValueError:
      pass
  problem_text = "\n".join(f"- **{name}**: {message}" for name, message in problems.items())
  decoders = ("best_path", "beam", "beam_lm", "lexicon", "word_beam")
  variants: dict = {}

  def reader_for(name, decoder):
    reader, workdir = readers[name]
    if not (is_crnn(reader) or is_ink(reader)) or decoder == reader.decoder_name:
      return reader
    if is_ink(reader) and decoder == "lexicon":   # lines: a dictionary of words per line
      decoder = "word_beam"
    if is_crnn(reader) and decoder == "word_beam" and " " not in reader.charset:
      decoder = "lexicon"
    if (name, decoder) not in variants:   # the same model, another decoder
      from hwr_jax.readers.crnn import CRNNReader
      from hwr_jax.readers.ink import InkReader
      kind = InkReader if is_ink(reader) else CRNNReader
      extra = (dict(word_reader=reader.word_reader, word_widths=reader.word_widths)
               if is_crnn(reader) else {})
      variants[(name, decoder)] = kind(workdir, decoder=decoder, model=reader.model, **extra)
    return variants[(name, decoder)]

  def run(drawn_or_image, name, decoder, normalize, drawn):
    if name not in readers:
      return "", "**No usable model.** " + (problem_text or "Pass --workdir=..."), "", None
    reader = reader_for(name, decoder)
    if isinstance(drawn_or_image, dict):   # the canvas: its PNG and its strokes
      if is_ink(reader):
        return read_strokes(drawn_or_image.get("strokes"), reader)
      drawn_or_image = drawn_or_image.get("image", "")
    elif is_ink(reader):
      return "", "**An ink model reads pen strokes:** draw on the canvas.", "", None
    return read_image(drawn_or_image, reader, drawn, normalize)

  with gr.Blocks(title="hwr-jax: draw and read") as app:
    gr.Markdown("## hwr-jax: draw and read\nDraw a character, a word or a short line; the "
                "reading appears when a stroke ends. Or upload an image.")
    if problem_text:
      gr.Markdown("These workdirs hold no usable model:\n" + problem_text, elem_id="problems")
    with gr.Row():
      with gr.Column(scale=3):
        with gr.Tab("Draw"):
          canvas = gr.HTML(html_template=CANVAS_HTML, css_template=CANVAS_CSS,
                           js_on_load=CANVAS_JS, elem_id="canvas")
        with gr.Tab("Upload"):
          upload = gr.File(file_types=["image"], type="filepath", label="an image file",
                           elem_id="upload")
        with gr.Tab("Camera"):
          camera = gr.Image(sources=("webcam", "clipboard"), type="numpy", label="camera",
                            elem_id="camera")
        with gr.Row():
          names = list(readers)
          model = gr.Dropdown(names, value=names[0] if names else None, label="model")
          decoder = gr.Dropdown(decoders, value="beam",
                                label="decoder (word and ink models)")
          normalize = gr.Checkbox(True, label="normalize drawings (stroke width, size)")
      with gr.Column(scale=2):
        text = gr.Textbox(label="reading", elem_id="reading", interactive=False)
        details = gr.Markdown(elem_id="details")
        characters = gr.HTML(elem_id="characters")
        picture = gr.Image(label="segments: boxes and the crops the classifier sees",
                           interactive=False, elem_id="segments")
    outputs = [text, details, characters, picture]
    drawing = gr.State({})          # the canvas's last PNG and strokes, re-read on a new setting

    def on_stroke(name, decoder_name, normalize_, evt: gr.EventData):
      drawn = dict(evt._data) if evt._data else {}
      return (drawn, *run(drawn, name, decoder_name, normalize_, True))

    canvas.change(on_stroke, [model, decoder, normalize], [drawing, *outputs],
                  trigger_mode="always_last", show_progress="hidden")
    for source in (upload, camera):
      source.change(lambda *a: run(*a, False), [source, model, decoder, normalize], outputs,
                    show_progress="hidden")
    for control in (model, decoder, normalize):
      control.change(lambda *a: run(*a, True), [drawing, model, decoder, normalize], outputs,
                     show_progress="hidden")
    if not readers:
      app.load(lambda: ("", "**No usable model.** " + (problem_text or "Pass --workdir=..."),
                        "", None), None, outputs)
  return app


def launch(app, **options):
  """Starts `app` with the demo's look: Gradio's default theme with the
  system's fonts (its own come from Google Fonts, which a machine offline
  cannot reach)."""
  import gradio as gr
  theme = gr.themes.Default(font=["system-ui", "sans-serif"],
                            font_mono=["ui-monospace", "monospace"])
  app.queue(default_concurrency_limit=1)
  return app.launch(theme=theme, show_error=True, **options)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="hwr-demo", description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", action="append", default=[],
                      help="workdir of a trained model (repeat for several)")
  parser.add_argument("--model", action="append", default=[], metavar="NAME",
                      help="a pretrained model by name (repeat for several); with neither "
                           "option: every pretrained model (hwr-read --list-models)")
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, default=7860)
  args = parser.parse_args(argv)
  os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
  from hwr_jax import runtime
  runtime.set_xla_flags()
  sources = args.workdir + args.model
  if not sources:
    from hwr_jax import pretrained
    sources = pretrained.names()
  launch(build_app(sources), server_name=args.host, server_port=args.port)
  return 0


if __name__ == "__main__":
  sys.exit(main())
