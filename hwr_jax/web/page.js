// The page: a canvas to write on, read in the browser itself by onnxruntime-web
// (WebAssembly) with the models `hwr-export --web` put in models/. No server
// but a file server; nothing is fetched but this folder's files.
import * as ort from "./ort.wasm.bundle.min.mjs";
import {bestPath, beamSearch, frameLabels, imageInput, inkFeatures, inkLines, padImage, padInk,
        toGray}
  from "./hwr.js";

// A page served without cross-origin isolation has no threads in WebAssembly.
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("./", import.meta.url).href;

const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d", {willReadFrequently: true});
const output = document.getElementById("text");
const status = document.getElementById("status");
const choice = document.getElementById("model");
const decoderChoice = document.getElementById("decoder");
const PEN_WIDTH = 6;

const models = {};          // name -> {settings, session}
let strokes = [];           // [[x, y], ...] per stroke, canvas pixels, y down
let drawing = null;
let generation = 0;         // +1 on Clear: a reading of an older drawing is dropped

function clearCanvas() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  strokes = [];
  generation++;
  output.textContent = "";
  status.textContent = "";
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} (run hwr-export --web again)`);
  return response;
}

async function model(name) {
  if (!models[name].session) {
    const bytes = await (await fetchOk(`models/${encodeURIComponent(name)}.onnx`)).arrayBuffer();
    models[name].session = await ort.InferenceSession.create(new Uint8Array(bytes),
                                                             {executionProviders: ["wasm"]});
  }
  return models[name];
}

let frameLabelsRead = [];   // per line, each frame's most likely label (for checks)

function decode(logProbs, frames, classes, charset, decoder) {
  frameLabelsRead.push(Array.from(frameLabels(logProbs, frames, classes)));
  return decoder === "beam"
    ? beamSearch(logProbs, frames, classes, charset).text
    : bestPath(logProbs, frames, classes, charset);
}

async function run(session, feeds) {
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  return {logProbs: out.data, classes: out.dims[2]};
}

// What is on the canvas -> text (ink models: the strokes; word models: the
// pixels), with the model and decoder chosen when the reading starts.
export async function read(name = choice.value, decoder = decoderChoice.value) {
  const drawn = strokes.map(stroke => stroke.slice());
  const {width, height} = canvas;
  const pixels = context.getImageData(0, 0, width, height).data;
  const {settings, session} = await model(name);
  frameLabelsRead = [];
  const charset = Array.from(settings.charset);   // one entry per character, astral ones too
  if (settings.kind === "ink") {
    const texts = [];
    for (const line of inkLines(drawn)) {
      const input = padInk(inkFeatures(line), settings.buckets, settings.points_per_frame);
      const {logProbs, classes} = await run(session, {
        ink: new ort.Tensor("float32", input.ink, [1, input.length, 4]),
        lengths: new ort.Tensor("int32", Int32Array.of(input.frames), [1])});
      texts.push(decode(logProbs, input.frames, classes, charset, decoder));
    }
    return texts.join("\n");
  }
  const gray = toGray(pixels, width, height);
  const input = padImage(imageInput(gray, width, height, settings), settings);
  const {logProbs, classes} = await run(session, {
    images: new ort.Tensor("uint8", input.image, [1, settings.height, input.width]),
    lengths: new ort.Tensor("int32", Int32Array.of(input.frames), [1])});
  return decode(logProbs, input.frames, classes, charset, decoder);
}

// Reads after each stroke; strokes that end while a reading runs are read
// together, once, after it.
let requested = null, busy = false;

async function readNow(strokeEnd) {
  requested = strokeEnd;
  if (busy) return;
  busy = true;
  while (requested !== null) {
    const since = requested, count = strokes.length, started = generation;
    const name = choice.value, decoder = decoderChoice.value;
    requested = null;
    try {
      const text = count ? await read(name, decoder) : "";
      if (started !== generation) continue;   // cleared while it read
      output.textContent = text;
      const ms = performance.now() - since;
      status.textContent = `read in the browser in ${ms.toFixed(0)} ms`;
      window.hwrLastReading = {text, ms, strokes: count, model: name, decoder,
                               frameLabels: frameLabelsRead};
    } catch (error) {
      status.textContent = `error: ${error.message}`;
    }
  }
  busy = false;
}

// Canvas pixels of a pointer event (inside the canvas's CSS border).
function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left - canvas.clientLeft) * canvas.width / canvas.clientWidth,
          (event.clientY - box.top - canvas.clientTop) * canvas.height / canvas.clientHeight];
}

function ink(x0, y0, x1, y1) {
  context.strokeStyle = "#000";
  context.lineWidth = PEN_WIDTH;
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  context.moveTo(x0, y0);
  context.lineTo(x1, y1);
  context.stroke();
}

canvas.addEventListener("pointerdown", event => {
  try { canvas.setPointerCapture(event.pointerId); } catch { /* a synthetic pointer */ }
  drawing = [point(event)];
  strokes.push(drawing);
  ink(...drawing[0], ...drawing[0]);   // a tap is a dot (an i's, a full stop)
});
canvas.addEventListener("pointermove", event => {
  if (!drawing) return;
  const [x0, y0] = drawing[drawing.length - 1];
  const [x1, y1] = point(event);
  drawing.push([x1, y1]);
  ink(x0, y0, x1, y1);
});
for (const end of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(end, () => {
    if (!drawing) return;
    drawing = null;
    readNow(performance.now());
  });
}
document.getElementById("clear").addEventListener("click", clearCanvas);
decoderChoice.addEventListener("change", () => readNow(performance.now()));
choice.addEventListener("change", () => readNow(performance.now()));

async function start() {
  clearCanvas();
  const list = await (await fetchOk("models.json")).json();
  for (const name of Object.keys(list)) {
    models[name] = {settings: await (await fetchOk(`models/${encodeURIComponent(name)}.json`)).json()};
    const option = document.createElement("option");
    option.value = name;
    option.textContent = `${name} (${list[name]})`;
    choice.append(option);
  }
  if (!choice.options.length) {
    status.textContent = "no models: hwr-export --model=NAME --web=THIS_FOLDER adds one";
    return;
  }
  await model(choice.value);   // compile the first model before the first stroke
  document.body.dataset.ready = "yes";
  status.textContent = "write on the canvas";
}
window.hwrStrokes = () => strokes;
window.hwrCanvasPng = () => canvas.toDataURL("image/png");
start().catch(error => { status.textContent = `error: ${error.message}`; });
