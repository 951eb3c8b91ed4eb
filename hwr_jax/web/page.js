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

function clearCanvas() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  strokes = [];
  output.textContent = "";
  status.textContent = "";
}

async function model(name) {
  if (!models[name].session) {
    models[name].session = await ort.InferenceSession.create(`models/${name}.onnx`,
                                                             {executionProviders: ["wasm"]});
  }
  return models[name];
}

let frameLabelsRead = [];   // per line, each frame's most likely label (for checks)

function decode(logProbs, frames, classes, charset) {
  frameLabelsRead.push(Array.from(frameLabels(logProbs, frames, classes)));
  return decoderChoice.value === "beam"
    ? beamSearch(logProbs, frames, classes, charset).text
    : bestPath(logProbs, frames, classes, charset);
}

async function run(session, feeds) {
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  return {logProbs: out.data, classes: out.dims[2]};
}

// What is on the canvas -> text (ink models: the strokes; word models: the pixels).
export async function read() {
  const {settings, session} = await model(choice.value);
  frameLabelsRead = [];
  const charset = settings.charset;
  if (settings.kind === "ink") {
    const texts = [];
    for (const line of inkLines(strokes)) {
      const input = padInk(inkFeatures(line), settings.buckets, settings.points_per_frame);
      const {logProbs, classes} = await run(session, {
        ink: new ort.Tensor("float32", input.ink, [1, input.length, 4]),
        lengths: new ort.Tensor("int32", Int32Array.of(input.frames), [1])});
      texts.push(decode(logProbs, input.frames, classes, charset));
    }
    return texts.join("\n");
  }
  const {width, height} = canvas;
  const gray = toGray(context.getImageData(0, 0, width, height).data, width, height);
  const input = padImage(imageInput(gray, width, height, settings), settings);
  const {logProbs, classes} = await run(session, {
    images: new ort.Tensor("uint8", input.image, [1, settings.height, input.width]),
    lengths: new ort.Tensor("int32", Int32Array.of(input.frames), [1])});
  return decode(logProbs, input.frames, classes, charset);
}

// Reads after each stroke; strokes that end while a reading runs are read
// together, once, after it.
let requested = null, busy = false;

async function readNow(strokeEnd) {
  requested = strokeEnd;
  if (busy) return;
  busy = true;
  while (requested !== null) {
    const since = requested, count = strokes.length;
    requested = null;
    try {
      const text = count ? await read() : "";
      output.textContent = text;
      const ms = performance.now() - since;
      status.textContent = `read in the browser in ${ms.toFixed(0)} ms`;
      window.hwrLastReading = {text, ms, strokes: count, model: choice.value,
                               decoder: decoderChoice.value, frameLabels: frameLabelsRead};
    } catch (error) {
      status.textContent = `error: ${error.message}`;
    }
  }
  busy = false;
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width,
          (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", event => {
  try { canvas.setPointerCapture(event.pointerId); } catch { /* a synthetic pointer */ }
  drawing = [point(event)];
  strokes.push(drawing);
});
canvas.addEventListener("pointermove", event => {
  if (!drawing) return;
  const [x0, y0] = drawing[drawing.length - 1];
  const [x1, y1] = point(event);
  drawing.push([x1, y1]);
  context.strokeStyle = "#000";
  context.lineWidth = PEN_WIDTH;
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  context.moveTo(x0, y0);
  context.lineTo(x1, y1);
  context.stroke();
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
  const list = await (await fetch("models.json")).json();
  for (const name of Object.keys(list)) {
    models[name] = {settings: await (await fetch(`models/${name}.json`)).json()};
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
