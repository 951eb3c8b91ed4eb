// hwr-jax in the browser: what a reader does around the exported network, as
// pure functions (no page, no onnxruntime), each a port of the Python step it
// names so the page reads a drawing as hwr-read reads the same drawing:
//
//   inkLines, inkFeatures   preprocess/ink.py split_lines, normalize
//   imageInput              preprocess/word_input.py normalize (+ image.py to_gray, quantile)
//   padInk, padImage        data/ink_sources.py, data/word_batches.py make_batch
//   bestPath, beamSearch    ctc/decoders.py best_path_decode, ctc/compiled.py beam_search
//
// tests/test_web.py runs these under Node against the Python functions.

// ---------------------------------------------------------------- ink
const SPACING = 0.1;     // preprocess/ink.py
const MAX_JUMP = 8.0;
const MAX_SLANT = 1.0;

function median(values) {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

function percentile(values, q) {   // numpy's default (linear)
  const a = Float64Array.from(values).sort();
  const position = (q / 100) * (a.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, a.length - 1);
  const t = position - low;
  const d = a[high] - a[low];
  return t >= 0.5 ? a[high] - d * (1 - t) : a[low] + d * t;
}

function dropRepeats(stroke) {
  const out = [];
  for (const [x, y] of stroke) {
    const last = out[out.length - 1];
    if (!last || last[0] !== x || last[1] !== y) out.push([x, y]);
  }
  return out;
}

function deskew(strokes) {
  const all = strokes.flat();
  const mx = all.reduce((s, p) => s + p[0], 0) / all.length;
  const my = all.reduce((s, p) => s + p[1], 0) / all.length;
  let xx = 0, xy = 0;
  for (const [x, y] of all) { xx += (x - mx) * (x - mx); xy += (x - mx) * (y - my); }
  if (xx === 0) return strokes;
  const angle = Math.atan(xy / xx);
  const c = Math.cos(-angle), s = Math.sin(-angle);
  return strokes.map(st => st.map(([x, y]) => [c * x - s * y, s * x + c * y]));
}

function bodyHeight(strokes) {
  const ys = strokes.flat().map(p => p[1]);
  let height = percentile(ys, 90) - percentile(ys, 10);
  if (height <= 0) {
    const xs = strokes.flat().map(p => p[0]);
    height = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  }
  return Math.max(height, 1e-9);
}

function deslant(strokes) {
  let weighted = 0, total = 0, steep = false;
  for (const s of strokes) {
    for (let i = 1; i < s.length; i++) {
      const dx = s[i][0] - s[i - 1][0], dy = s[i][1] - s[i - 1][1];
      if (Math.abs(dy) > Math.abs(dx)) {
        const length = Math.hypot(dx, dy);
        weighted += (dx / dy) * length;
        total += length;
        steep = true;
      }
    }
  }
  if (!steep) return strokes;
  const shear = Math.min(MAX_SLANT, Math.max(-MAX_SLANT, weighted / total));
  const middle = median(strokes.flat().map(p => p[1]));
  return strokes.map(s => s.map(([x, y]) => [x - shear * (y - middle), y]));
}

function interp(at, xp, fp) {   // numpy.interp on increasing xp
  const out = new Float64Array(at.length);
  let j = 0;
  for (let i = 0; i < at.length; i++) {
    const x = at[i];
    if (x >= xp[xp.length - 1]) { out[i] = fp[fp.length - 1]; continue; }
    if (x <= xp[0]) { out[i] = fp[0]; continue; }
    while (j < xp.length - 2 && xp[j + 1] <= x) j++;
    const slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    out[i] = slope * (x - xp[j]) + fp[j];
  }
  return out;
}

function resample(stroke, spacing) {
  if (stroke.length < 2) return stroke.slice(0, 1);
  const arc = [0];
  for (let i = 1; i < stroke.length; i++) {
    arc.push(arc[i - 1] + Math.hypot(stroke[i][0] - stroke[i - 1][0], stroke[i][1] - stroke[i - 1][1]));
  }
  const end = arc[arc.length - 1];
  if (end <= 0) return stroke.slice(0, 1);
  const count = Math.max(2, Math.ceil(end / spacing) + 1);
  const step = end / (count - 1);
  const at = Array.from({length: count}, (_, i) => i * step);
  at[count - 1] = end;
  const xs = interp(at, arc, stroke.map(p => p[0]));
  const ys = interp(at, arc, stroke.map(p => p[1]));
  return Array.from(xs, (x, i) => [x, ys[i]]);
}

// Strokes (lists of [x, y], y down) -> Float32Array of (T, 4) features and T.
export function inkFeatures(strokes) {
  strokes = strokes.map(dropRepeats).filter(s => s.length);
  if (!strokes.length) throw new Error("no points");
  strokes = deskew(strokes);
  const scale = bodyHeight(strokes);
  const all = strokes.flat();
  const ox = Math.min(...all.map(p => p[0])), oy = Math.min(...all.map(p => p[1]));
  strokes = strokes.map(s => s.map(([x, y]) => [(x - ox) / scale, (y - oy) / scale]));
  strokes = deslant(strokes);
  strokes = strokes.map(s => resample(s, SPACING));
  const points = strokes.flat();
  const middle = median(points.map(p => p[1]));
  const out = new Float32Array(points.length * 4);
  let k = 0;
  for (const s of strokes) {
    s.forEach(([x, y], i) => {
      const before = k === 0 ? points[0] : points[k - 1];
      out[4 * k] = Math.min(MAX_JUMP, Math.max(-MAX_JUMP, x - before[0]));
      out[4 * k + 1] = Math.min(MAX_JUMP, Math.max(-MAX_JUMP, y - before[1]));
      out[4 * k + 2] = i === 0 ? 1 : 0;
      out[4 * k + 3] = y - middle;
      k++;
    });
  }
  return {features: out, points: points.length};
}

// Strokes written on several lines -> one list of strokes per line, top to bottom.
export function inkLines(strokes, up = 4.0, merge = 1.0) {
  if (strokes.length < 2) return [strokes];
  const lows = strokes.map(s => Math.min(...s.map(p => p[1])));
  const highs = strokes.map(s => Math.max(...s.map(p => p[1])));
  const middles = lows.map((l, i) => (l + highs[i]) / 2);
  const heights = lows.map((l, i) => highs[i] - l);
  const positive = heights.filter(h => h > 0);
  const typical = positive.length ? median(positive) : 1.0;
  const lines = [];
  let current = [0];
  for (let k = 1; k < strokes.length; k++) {
    const drop = middles[k] - median(current.map(i => middles[i]));
    const back = strokes[k][0][0] - Math.max(...strokes[k - 1].map(p => p[0]));
    if ((back < -3 * typical && drop > typical) || drop > 4 * typical || drop < -up * typical) {
      lines.push(current);
      current = [];
    }
    current.push(k);
  }
  lines.push(current);
  const centre = line => median(line.map(i => middles[i]));
  const tallest = line => Math.max(...line.map(i => heights[i]));
  const big = lines.filter(l => tallest(l) >= 0.5 * typical)
      .map((l, order) => [l, order]).sort((a, b) => centre(a[0]) - centre(b[0]) || a[1] - b[1])
      .map(([l]) => l);
  if (!big.length) return [strokes];
  const merged = [big[0]];
  for (const line of big.slice(1)) {
    if (centre(line) - centre(merged[merged.length - 1]) < merge * typical) {
      merged[merged.length - 1] = merged[merged.length - 1].concat(line);
    } else {
      merged.push(line);
    }
  }
  for (const line of lines) {
    if (tallest(line) < 0.5 * typical) {
      const distances = merged.map(m => Math.abs(centre(line) - centre(m)));
      const nearest = distances.indexOf(Math.min(...distances));
      merged[nearest] = merged[nearest].concat(line);
    }
  }
  return merged.map(line => [...line].sort((a, b) => a - b).map(i => strokes[i]));
}

function bucket(size, buckets) {
  for (const b of buckets) if (size <= b) return b;
  return buckets[buckets.length - 1];
}

// Features -> the ink model's inputs: padded to the shortest bucket that holds
// them (longer than all: the next multiple of 256), frames = points / step.
export function padInk({features, points}, buckets, pointsPerFrame) {
  let length = bucket(points, buckets);
  if (points > length) length = Math.ceil(points / 256) * 256;
  const ink = new Float32Array(length * 4);
  ink.set(features.subarray(0, Math.min(points, length) * 4));
  return {ink, length, frames: Math.floor(Math.min(points, length) / pointsPerFrame)};
}

// ---------------------------------------------------------------- images
const INK_LEVEL = 96;    // preprocess/word_input.py

export function quantile(histogram, total, q) {   // image.py quantile
  const cdf = new Float64Array(256);
  let sum = 0;
  for (let v = 0; v < 256; v++) { sum += histogram[v]; cdf[v] = sum; }
  const position = q * (total - 1);
  const low = Math.floor(position);
  const searchRight = value => { let i = 0; while (i < 256 && cdf[i] <= value) i++; return i; };
  const below = searchRight(low), above = searchRight(Math.min(low + 1, total - 1));
  return below + (position - low) * (above - below);
}

// RGBA pixels -> grey as OpenCV's BGR2GRAY (alpha composited onto white first).
export function toGray(rgba, width, height) {
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < width * height; i++) {
    let r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    const a = rgba[4 * i + 3];
    if (a !== 255) {
      const alpha = Math.fround(a / 255);
      const mix = v => Math.floor(Math.fround(Math.fround(v * alpha) + Math.fround(255 * (1 - alpha))));
      r = mix(r); g = mix(g); b = mix(b);
    }
    gray[i] = (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
  }
  return gray;
}

function areaTable(source, target) {   // OpenCV's computeResizeAreaTab
  const scale = source / target;
  const table = [];
  for (let d = 0; d < target; d++) {
    const f1 = d * scale, f2 = f1 + scale;
    const cell = Math.min(scale, source - f1);
    let s1 = Math.ceil(f1), s2 = Math.floor(f2);
    s2 = Math.min(s2, source - 1);
    s1 = Math.min(s1, s2);
    const entry = [];
    if (s1 - f1 > 1e-3) entry.push([s1 - 1, (s1 - f1) / cell]);
    for (let s = s1; s < s2; s++) entry.push([s, 1 / cell]);
    if (f2 - s2 > 1e-3) entry.push([s2, Math.min(Math.min(f2 - s2, 1), cell) / cell]);
    table.push(entry);
  }
  return table;
}

function linearTable(source, target) {   // OpenCV's INTER_AREA when enlarging
  const scale = source / target, inverse = target / source;
  const table = [];
  for (let d = 0; d < target; d++) {
    let s = Math.floor(d * scale);
    let f = Math.fround((d + 1) - (s + 1) * inverse);
    f = f <= 0 ? 0 : f - Math.floor(f);
    if (s < 0) { s = 0; f = 0; }
    if (s >= source - 1) { s = source - 1; f = 0; }
    table.push(f === 0 ? [[s, 1]] : [[s, 1 - f], [s + 1, f]]);
  }
  return table;
}

function resizeArea(image, width, height, newWidth, newHeight) {
  const enlarge = newWidth > width || newHeight > height;
  const cols = (enlarge ? linearTable : areaTable)(width, newWidth);
  const rows = (enlarge ? linearTable : areaTable)(height, newHeight);
  const out = new Uint8Array(newWidth * newHeight);
  const row = new Float64Array(newWidth);
  for (let y = 0; y < newHeight; y++) {
    const acc = new Float64Array(newWidth);
    for (const [sy, wy] of rows[y]) {
      for (let x = 0; x < newWidth; x++) {
        let v = 0;
        for (const [sx, wx] of cols[x]) v += image[sy * width + sx] * wx;
        row[x] = v;
      }
      for (let x = 0; x < newWidth; x++) acc[x] += row[x] * wy;
    }
    for (let x = 0; x < newWidth; x++) out[y * newWidth + x] = Math.min(255, Math.max(0, Math.floor(acc[x] + 1e-4)));
  }
  return out;
}

function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 ? r - 1 : r;
}

// A grey word image -> the model's input (height rows, ink bright on black,
// cropped to the ink, scaled to the height): {pixels, width}.
export function imageInput(gray, width, height, geometry) {
  const histogram = new Float64Array(256);
  let lo = 255, hi = 0;
  for (const v of gray) { histogram[v]++; lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const total = gray.length;
  if (quantile(histogram, total, 0.5) > (lo + hi) / 2) {   // dark ink: make it bright
    gray = gray.map(v => 255 - v);
    histogram.reverse();
    [lo, hi] = [255 - hi, 255 - lo];
  }
  const low = Math.fround(quantile(histogram, total, 0.05));
  const gain = Math.fround(255 / Math.max(hi - low, 1));
  const bright = new Float32Array(total);
  for (let i = 0; i < total; i++) {
    bright[i] = Math.min(255, Math.max(0, Math.fround(Math.fround(gray[i] - low) * gain)));
  }
  let y0 = height, y1 = 0, x0 = width, x1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (bright[y * width + x] > INK_LEVEL) {
        y0 = Math.min(y0, y); y1 = Math.max(y1, y + 1); x0 = Math.min(x0, x); x1 = Math.max(x1, x + 1);
      }
    }
  }
  let crop = bright, cw = width, ch = height;
  if (y1 > 0) {
    const margin = Math.max(2, Math.floor((y1 - 1 - y0) / 8));
    const top = Math.max(0, y0 - margin), bottom = Math.min(height, y1 + margin);
    const left = Math.max(0, x0 - margin), right = Math.min(width, x1 + margin);
    cw = right - left; ch = bottom - top;
    crop = new Float32Array(cw * ch);
    for (let y = 0; y < ch; y++) {
      crop.set(bright.subarray((top + y) * width + left, (top + y) * width + right), y * cw);
    }
  }
  const target = geometry.height;
  const maxWidth = geometry.buckets[geometry.buckets.length - 1];
  const newWidth = Math.min(maxWidth, Math.max(geometry.columns_per_frame,
                                               roundHalfEven(cw * target / ch)));
  return {pixels: resizeArea(crop, cw, ch, newWidth, target), width: newWidth};
}

// A model input -> the network's inputs: padded to the narrowest bucket.
export function padImage({pixels, width}, geometry) {
  const padded = bucket(width, geometry.buckets);
  const height = geometry.height;
  const image = new Uint8Array(height * padded);
  const used = Math.min(width, padded);
  for (let y = 0; y < height; y++) {
    image.set(pixels.subarray(y * width, y * width + used), y * padded);
  }
  return {image, width: padded, frames: Math.floor(used / geometry.columns_per_frame)};
}

// ---------------------------------------------------------------- CTC decoding
// logProbs: Float32Array of (frames x classes) rows, blank = 0; labels k >= 1
// are charset[k - 1].

// The most likely label of each frame (the first of equals, as numpy's argmax).
export function frameLabels(logProbs, frames, classes) {
  const labels = new Int32Array(frames);
  for (let t = 0; t < frames; t++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (logProbs[t * classes + c] > logProbs[t * classes + best]) best = c;
    }
    labels[t] = best;
  }
  return labels;
}

export function bestPath(logProbs, frames, classes, charset) {
  let text = "", previous = -1;
  for (const label of frameLabels(logProbs, frames, classes)) {
    if (label !== previous && label !== 0) text += charset[label - 1];
    previous = label;
  }
  return text;
}

function logAddExp(a, b) {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
}

// CTC prefix beam search without a guide, as ctc/compiled.py beam_search:
// the K most likely labels above `threshold` extend each beam, frames where
// blank holds more than `skip` of the mass are pure blank. -> {text, score}.
export function beamSearch(logProbs, frames, classes, charset,
                           {width = 16, threshold = 1e-3, skip = 0.999} = {}) {
  const maxCandidates = Math.max(1, Math.min(width, classes - 1));
  const logThreshold = Math.log(threshold), logSkip = Math.log(skip);
  // A beam: log-scores of its paths ending in blank / in its last label, its labels.
  let beams = [{blank: 0, label: -Infinity, labels: [], key: ""}];
  for (let t = 0; t < frames; t++) {
    const frame = logProbs.subarray(t * classes, (t + 1) * classes);
    const total = beams.map(b => logAddExp(b.blank, b.label));
    if (frame[0] > logSkip) {
      beams = beams.map((b, i) => ({...b, blank: total[i] + frame[0], label: -Infinity}));
      continue;
    }
    const candidates = [];
    for (let c = 1; c < classes; c++) {
      if (frame[c] <= logThreshold) continue;
      if (candidates.length === maxCandidates && frame[c] <= frame[candidates[maxCandidates - 1]]) continue;
      let i = Math.min(candidates.length, maxCandidates - 1);
      candidates[i] = c;
      while (i > 0 && frame[candidates[i - 1]] < frame[c]) {
        candidates[i] = candidates[i - 1];
        candidates[i - 1] = c;
        i--;
      }
    }
    const last = beams.map(b => (b.labels.length ? b.labels[b.labels.length - 1] : -1));
    const entries = [], mergedFrom = [];
    beams.forEach((q, qi) => {
      let stay = last[qi] >= 0 ? q.label + frame[last[qi]] : -Infinity;
      mergedFrom[qi] = -1;
      if (last[qi] >= 0) {
        const parent = beams.findIndex(p => p.key === q.parent && p.labels.length + 1 === q.labels.length);
        if (parent >= 0) {
          const source = last[parent] === last[qi] ? beams[parent].blank : total[parent];
          stay = logAddExp(stay, source + frame[last[qi]]);
          mergedFrom[qi] = parent;
        }
      }
      const blank = total[qi] + frame[0];
      entries.push({score: logAddExp(blank, stay), blank, label: stay, from: qi, c: -1});
    });
    beams.forEach((p, pi) => {
      for (const c of candidates) {
        if (beams.some((q, qi) => mergedFrom[qi] === pi && last[qi] === c)) continue;
        const source = last[pi] === c ? p.blank : total[pi];
        entries.push({score: source + frame[c], blank: -Infinity, label: source + frame[c], from: pi, c});
      }
    });
    const order = entries.map((e, i) => i).sort((a, b) => entries[b].score - entries[a].score || a - b);
    const next = [];
    for (const i of order.slice(0, width)) {
      const e = entries[i];
      if (e.score === -Infinity) break;
      const p = beams[e.from];
      next.push(e.c < 0 ? {...p, blank: e.blank, label: e.label}
                        : {blank: e.blank, label: e.label, labels: [...p.labels, e.c],
                           key: p.key + "," + e.c, parent: p.key});
    }
    beams = next;
  }
  let best = null;
  for (const b of beams) {
    const score = logAddExp(b.blank, b.label);
    if (best === null || score > best.score) best = {score, labels: b.labels};
  }
  return {text: best.labels.map(k => charset[k - 1]).join(""), score: best.score};
}
