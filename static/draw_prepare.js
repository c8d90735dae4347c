// The Draw tab's strokes -> the 28x28 digit the CNN expects, and the not-sure rule, in the
// visitor's browser: the same recipe as inference/strokes.py, inference/preprocess.py and
// inference/classifier.judge, function for function (the same names in camelCase), held to them by
// tests/test_browser_reading_parity.py. Plain arithmetic on typed arrays: no DOM, no canvas, so
// it runs the same in any browser (and in Node). All of it is our own code: the rasteriser is
// strokes.py's (a disc dragged along each segment, in IEEE double arithmetic done in the same order,
// so the ink is the server's bit for bit), and the resize implements the documented Lanczos-3
// algorithm with the filter's support widened by the scale factor when shrinking, as Pillow's
// resize (which the server calls) does, so both sides agree.

export const RASTER = 280; // inference/strokes.py
export const SUPERSAMPLE = 2;
export const WIDTH_SHARE = 0.13;
export const MIN_WIDTH = 2.0;
export const MAX_STROKES = 300;
export const MAX_POINTS = 6000;
export const MAX_PATH = 100; // the pen's whole path, in canvas sides (strokes.py says why)
export const MAX_CHARS = 200000;
export const FIELD = 28; // inference/preprocess.py
export const BOX = 20;
export const INK_FLOOR = 0.1;
export const THRESHOLDS = { // inference/classifier.py (the parity test checks they are the same)
  min_box_fraction: 0.06, max_split_share: 0.1, max_aspect: 2.0, max_fill: 0.6, min_confidence: 0.6,
  fill_min_aspect: 0.3, max_strokes: 12, max_path: 4.5,
};

const f32 = Math.fround;

// Python's round(): halves go to the even neighbour.
export function pyRound(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

class BadStrokes extends Error {}

// The page's JSON (or the same as an object) -> {size, strokes: [Float64Array [x0, y0, ...]], lifted}.
export function parse(value) {
  if (typeof value === 'string') {
    if (value.length > MAX_CHARS) throw new BadStrokes('too long');
    if (!value.trim()) return {size: RASTER, strokes: [], lifted: true};
    try { value = JSON.parse(value); } catch { throw new BadStrokes('not JSON'); }
  }
  if (value === null || value === undefined) return {size: RASTER, strokes: [], lifted: true};
  if (typeof value !== 'object' || Array.isArray(value)) throw new BadStrokes('not a drawing');
  const size = value.size ?? RASTER;
  if (typeof size !== 'number' || !Number.isFinite(size) || size < 8 || size > 10000) throw new BadStrokes('bad size');
  const raw = value.strokes || [];
  if (!Array.isArray(raw) || raw.length > MAX_STROKES) throw new BadStrokes('bad strokes');
  const strokes = [];
  let total = 0, path = 0;
  for (const stroke of raw) {
    if (!Array.isArray(stroke) || stroke.length % 2) throw new BadStrokes('a stroke is not x, y pairs');
    total += stroke.length / 2;
    if (total > MAX_POINTS) throw new BadStrokes('too many points');
    if (!stroke.length) continue;
    if (!stroke.every((n) => typeof n === 'number')) throw new BadStrokes('not numbers');
    if (!stroke.every(Number.isFinite)) throw new BadStrokes('not finite');
    const points = Float64Array.from(stroke, (n) => Math.min(size, Math.max(0, n)));
    for (let i = 2; i < points.length; i += 2) path += Math.hypot(points[i] - points[i - 2], points[i + 1] - points[i - 1]);
    if (path > MAX_PATH * size) throw new BadStrokes('too long a path');
    strokes.push(points);
  }
  return {size, strokes, lifted: value.up !== false};
}

function extent(strokes, scale) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const s of strokes) {
    for (let i = 0; i < s.length; i += 2) {
      const x = s[i] * scale, y = s[i + 1] * scale;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return Math.max(x1 - x0, y1 - y0);
}

// The width to redraw with, in raster pixels: WIDTH_SHARE of the drawing's larger side.
export function strokeWidth(strokes, scale = 1.0) {
  return Math.max(MIN_WIDTH, WIDTH_SHARE * extent(strokes, scale));
}

// Strokes -> ink [side * side] Float32Array in [0,1], round caps and joins, anti-aliased: a fine
// pixel (SUPERSAMPLE x finer) is ink when its centre is within the pen's radius of any segment,
// then each SUPERSAMPLE x SUPERSAMPLE block is averaged. strokes.py's arithmetic, operation for
// operation (doubles, no sqrt in the test): which pixels each side tests differs (its batches'
// boxes are larger), but a pixel beyond a box is more than a pixel out of the pen's reach, so it is
// ink in neither.
export function rasterise(size, strokes, side = RASTER) {
  const ink = new Float32Array(side * side);
  if (!strokes.length) return ink;
  const big = side * SUPERSAMPLE;
  const grid = new Uint8Array(big * big);
  const scale = side / size;
  const width = strokeWidth(strokes, scale) * SUPERSAMPLE;
  const half = width / 2;
  const r2 = half * half;
  for (const s of strokes) {
    const p = Float64Array.from(s, (v) => (v * scale) * SUPERSAMPLE);
    const last = Math.max(2, p.length - 2); // a one-point stroke is the segment a -> a
    for (let k = 0; k < last; k += 2) {
      const ax = p[k], ay = p[k + 1];
      const bx = p.length > 2 ? p[k + 2] : ax, by = p.length > 2 ? p[k + 3] : ay;
      const dx = bx - ax, dy = by - ay;
      const length2 = dx * dx + dy * dy;
      // a long segment in pieces about a pen wide, each piece's box tested against the whole segment
      const pieces = Math.max(1, Math.ceil(Math.hypot(dx, dy) / (width + 4)));
      for (let piece = 0; piece < pieces; piece++) {
        const px0 = ax + (piece / pieces) * dx, px1 = ax + ((piece + 1) / pieces) * dx;
        const py0 = ay + (piece / pieces) * dy, py1 = ay + ((piece + 1) / pieces) * dy;
        const x0 = Math.max(0, Math.floor(Math.min(px0, px1) - half) - 2), x1 = Math.min(big, Math.ceil(Math.max(px0, px1) + half) + 2);
        const y0 = Math.max(0, Math.floor(Math.min(py0, py1) - half) - 2), y1 = Math.min(big, Math.ceil(Math.max(py0, py1) + half) + 2);
        for (let i = y0; i < y1; i++) {
          const y = i + 0.5, row = i * big;
          for (let j = x0; j < x1; j++) {
            if (grid[row + j]) continue;
            const x = j + 0.5;
            let t = ((x - ax) * dx + (y - ay) * dy) / (length2 > 0 ? length2 : 1);
            t = Math.min(Math.max(t, 0), 1);
            const ex = x - (ax + t * dx);
            const ey = y - (ay + t * dy);
            if (ex * ex + ey * ey <= r2) grid[row + j] = 1;
          }
        }
      }
    }
  }
  const cells = SUPERSAMPLE * SUPERSAMPLE;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let count = 0;
      for (let i = 0; i < SUPERSAMPLE; i++) for (let j = 0; j < SUPERSAMPLE; j++) count += grid[(y * SUPERSAMPLE + i) * big + x * SUPERSAMPLE + j];
      ink[y * side + x] = count / cells;
    }
  }
  return ink;
}

// The pen's total path over the drawing's larger side (0 for a dot).
export function pathRatio(strokes) {
  const side = extent(strokes, 1);
  let length = 0;
  for (const s of strokes) for (let i = 2; i < s.length; i += 2) length += Math.hypot(s[i] - s[i - 2], s[i + 1] - s[i - 1]);
  return side > 0 ? length / side : 0;
}

// ---- inference/preprocess.py: MNIST's normalisation. Images are {data: Float32Array, h, w}. ----

// [top, left, bottom, right], exclusive, of the ink above INK_FLOOR; null when blank.
export function inkBox({data, h, w}) {
  let top = h, left = w, bottom = -1, right = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] >= INK_FLOOR) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return bottom < 0 ? null : [top, left, bottom + 1, right + 1];
}

export function crop({data, w}, [top, left, bottom, right]) {
  const out = new Float32Array((bottom - top) * (right - left));
  for (let y = top; y < bottom; y++) out.set(data.subarray(y * w + left, y * w + right), (y - top) * (right - left));
  return {data: out, h: bottom - top, w: right - left};
}

// Resampling as Pillow's resize computes it (the server calls it): a filter's weights for each
// output pixel over a support widened by the scale factor when shrinking, so every input pixel
// counts; weights in double, normalised to sum 1, each pass stored as float32. Lanczos-3 (a
// windowed sinc) prepares the digit (preprocess.py); the triangle (Pillow's BILINEAR) stretches the
// saliency over the strokes (classifier.saliency_on_strokes, in draw_views.js).
function lanczos(x) {
  const sinc = (v) => (v === 0 ? 1 : Math.sin(v * Math.PI) / (v * Math.PI));
  return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

export const LANCZOS = {support: 3, weight: lanczos};
export const BILINEAR = {support: 1, weight: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0)};

function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize, filterscale = Math.max(1, scale);
  const support = filter.support * filterscale, ss = 1 / filterscale;
  const taps = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k = new Float64Array(Math.max(0, xmax));
    let ww = 0;
    for (let x = 0; x < xmax; x++) ww += k[x] = filter.weight((x + xmin - center + 0.5) * ss);
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    taps.push([xmin, k]);
  }
  return taps;
}

export function resize({data, h, w}, outW, outH, filter = LANCZOS) {
  let image = {data, h, w};
  if (outW !== w) { // the horizontal pass first, as the server's resize does it
    const taps = coefficients(w, outW, filter), out = new Float32Array(h * outW);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const [xmin, k] = taps[xx];
        let ss = 0;
        for (let x = 0; x < k.length; x++) ss += data[y * w + x + xmin] * k[x];
        out[y * outW + xx] = ss;
      }
    }
    image = {data: out, h, w: outW};
  }
  if (outH !== h) {
    const taps = coefficients(h, outH, filter), src = image.data, out = new Float32Array(outH * outW);
    for (let yy = 0; yy < outH; yy++) {
      const [ymin, k] = taps[yy];
      for (let x = 0; x < outW; x++) {
        let ss = 0;
        for (let y = 0; y < k.length; y++) ss += src[(y + ymin) * outW + x] * k[y];
        out[yy * outW + x] = ss;
      }
    }
    image = {data: out, h: outH, w: outW};
  }
  return image;
}

// Resize so the longer side is `side`, keeping the aspect ratio (a '1' stays thin).
export function fitInBox(cropped, side = BOX) {
  const scale = side / Math.max(cropped.h, cropped.w);
  const w = Math.max(1, pyRound(cropped.w * scale)), h = Math.max(1, pyRound(cropped.h * scale));
  const resized = resize(cropped, w, h);
  const out = resized.data === cropped.data ? Float32Array.from(cropped.data) : resized.data;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i]));
  return {data: out, h, w};
}

// Paste into a side x side field so the ink's centre of mass lands on the field's centre.
export function centreByMass(fitted, side = FIELD) {
  const {data, h, w} = fitted;
  let total = 0, rows = 0, cols = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = data[y * w + x];
    total += v; rows += v * y; cols += v * x;
  }
  const [comRow, comCol] = total <= 0 ? [(h - 1) / 2, (w - 1) / 2] : [rows / total, cols / total];
  const centre = (side - 1) / 2;
  const row = Math.min(side - h, Math.max(0, pyRound(centre - comRow)));
  const col = Math.min(side - w, Math.max(0, pyRound(centre - comCol)));
  const field = new Float32Array(side * side);
  for (let y = 0; y < h; y++) field.set(data.subarray(y * w, (y + 1) * w), (row + y) * side + col);
  return [{data: field, h: side, w: side}, [row, col]];
}

// ---- the features the not-sure rule reads (preprocess.Steps' properties) ----

function features(steps) {
  const {box, ink, fitted, image} = steps;
  const [top, left, bottom, right] = box;
  steps.boxFraction = Math.max(bottom - top, right - left) / Math.max(ink.h, ink.w);
  steps.aspect = (right - left) / (bottom - top);
  let sum = 0, peak = 0;
  for (const v of fitted.data) { sum += v; if (v > peak) peak = v; }
  steps.fill = peak > 0 ? sum / fitted.data.length / peak : 0;
  // split share: where an empty column splits the ink, the smaller side's share of it
  const n = FIELD, mass = new Float64Array(n), high = new Float64Array(n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const v = image.data[y * n + x];
    mass[x] += v;
    if (v > high[x]) high[x] = v;
  }
  const inked = [...high.keys()].filter((x) => high[x] > 0.2);
  steps.splitShare = 0;
  if (inked.length) {
    const total = mass.reduce((a, b) => a + b, 0);
    let before = 0;
    for (let k = 0; k < inked[inked.length - 1]; k++) {
      before += mass[k];
      if (k >= inked[0] && high[k] <= 0.2) steps.splitShare = Math.max(steps.splitShare, Math.min(before, total - before) / total);
    }
  }
  return steps;
}

// The MNIST recipe on an ink map that is already clean.
export function stepsFromInk(ink, extra = {}) {
  const box = inkBox(ink);
  if (box === null) return {ink, box: null, image: {data: new Float32Array(FIELD * FIELD), h: FIELD, w: FIELD}, reason: 'serving.blank', ...extra};
  const fitted = fitInBox(crop(ink, box));
  const [image, offset] = centreByMass(fitted);
  let peak = 0;
  for (const v of image.data) if (v > peak) peak = v;
  if (peak > 0) for (let i = 0; i < image.data.length; i++) image.data[i] = f32(image.data[i] / peak);
  return features({ink, box, fitted, offset, image, reason: null, ...extra});
}

// The page's strokes -> steps (never throws): {image: {data: Float32Array(784)}, box, reason,
// strokes, path, lifted, boxFraction, aspect, fill, splitShare}.
export function prepareStrokes(value) {
  let parsed;
  try {
    parsed = parse(value);
  } catch (error) {
    if (!(error instanceof BadStrokes)) throw error;
    return stepsFromInk({data: new Float32Array(RASTER * RASTER), h: RASTER, w: RASTER}, {reason: 'draw.reason.unreadable', strokes: 0, path: 0, lifted: true});
  }
  const {size, strokes, lifted} = parsed;
  const ink = {data: rasterise(size, strokes), h: RASTER, w: RASTER};
  if (!strokes.length) return stepsFromInk(ink, {strokes: 0, path: 0, lifted});
  return stepsFromInk(ink, {strokes: strokes.length, path: pathRatio(strokes), lifted});
}

// ---- inference/classifier.py ----

// Logits -> probabilities, in double, as classifier.read does (a log-softmax, then exp).
export function softmax(logits) {
  const top = Math.max(...logits);
  const shifted = Array.from(logits, (v) => v - top);
  const norm = Math.log(shifted.reduce((a, v) => a + Math.exp(v), 0));
  return shifted.map((v) => Math.exp(v - norm));
}

// The measured not-sure rule: [notSure, reason code, values]; `probs` null: the model did not run.
export function judge(steps, probs) {
  const t = THRESHOLDS;
  if (steps.box === null || probs === null) {
    if ([null, undefined, 'serving.blank', 'serving.no_image'].includes(steps.reason)) return [true, 'blank', {}];
    return [true, steps.reason, {}];
  }
  if (steps.boxFraction < t.min_box_fraction) return [true, 'too_small', {}];
  if (steps.splitShare > t.max_split_share || steps.aspect > t.max_aspect) return [true, 'more_than_one', {}];
  const thinBar = steps.aspect < t.fill_min_aspect;
  if ((steps.fill > t.max_fill && !thinBar) || steps.strokes > t.max_strokes) return [true, 'blob', {}];
  if (steps.path > t.max_path) return [true, 'scribble', {}];
  const top = Math.max(...probs);
  if (top < t.min_confidence) return [true, 'low_confidence', {confidence: top}];
  return [false, null, {}];
}
