// Where the CNN looked, made in the visitor's browser: inference/classifier.py's occlusion saliency
// (`occlusion_batch`, `read`, `_saliency_map`) step by step, over the same .onnx our CNN reads with,
// in one batched onnxruntime-web run (the digit itself first, then a copy a patch of ink erased).
// The page then asks the server nothing when the pen stays up. Its constants are the server's and
// tests/test_browser_views_parity.py holds the result to the server's heat.
import {FIELD} from './draw_prepare.js';
import {run} from './onnx_web.js';

export const PATCH = 6, STRIDE = 4, MAX_PATCHES = 24, SALIENCY_FLOOR = 0.05;
// numpy compares a float32 image with 0.1 in float32 (a Python float is a "weak" scalar).
const INKED = Math.fround(0.1);

function maxOver(image, r0, r1, c0, c1) {
  let most = -Infinity;
  for (let r = r0; r < Math.min(r1, FIELD); r++) for (let c = c0; c < Math.min(c1, FIELD); c++) most = Math.max(most, image[r * FIELD + c]);
  return most;
}

// occlusion_batch: the corners of the inked patches (a coarser stride for a big, busy digit).
export function corners(image) {
  const rows = [], cols = [];
  for (let k = 0; k < FIELD; k++) {
    if (maxOver(image, k, k + 1, 0, FIELD) > INKED) rows.push(k);
    if (maxOver(image, 0, FIELD, k, k + 1) > INKED) cols.push(k);
  }
  if (!rows.length) return [];
  for (let stride = STRIDE; ; stride++) {
    const found = [];
    for (let r = Math.max(0, rows[0] - 1); r < rows.at(-1) + 1; r += stride) {
      for (let c = Math.max(0, cols[0] - 1); c < cols.at(-1) + 1; c += stride) {
        if (maxOver(image, r, r + PATCH, c, c + PATCH) > INKED) found.push([r, c]);
      }
    }
    if (found.length <= MAX_PATCHES) return found;
  }
}

// The digit and its occluded copies as one [K+1, 1, 28, 28] batch.
export function batch(image, at) {
  const size = FIELD * FIELD, out = new Float32Array((at.length + 1) * size);
  for (let k = 0; k <= at.length; k++) out.set(image, k * size);
  at.forEach(([r, c], k) => {
    for (let y = r; y < Math.min(r + PATCH, FIELD); y++) out.fill(0, (k + 1) * size + y * FIELD + c, (k + 1) * size + y * FIELD + Math.min(c + PATCH, FIELD));
  });
  return out;
}

// The batch's logits -> (log-probabilities of each row, in float64 as the server's).
function logSoftmax(logits, row) {
  const values = Array.from(logits.subarray(row * 10, row * 10 + 10));
  const top = Math.max(...values), shifted = values.map((v) => v - top);
  const total = Math.log(shifted.reduce((sum, v) => sum + Math.exp(v), 0));
  return shifted.map((v) => v - total);
}

// _saliency_map: each patch's drop spread over its pixels (overlaps averaged), scaled to +-1.
export function saliencyMap(drops, at) {
  const total = new Float64Array(FIELD * FIELD), count = new Float64Array(FIELD * FIELD);
  at.forEach(([r, c], k) => {
    for (let y = r; y < Math.min(r + PATCH, FIELD); y++) for (let x = c; x < Math.min(c + PATCH, FIELD); x++) {
      total[y * FIELD + x] += drops[k];
      count[y * FIELD + x] += 1;
    }
  });
  const heat = total.map((t, i) => (count[i] > 0 ? t / count[i] : 0));
  const peak = Math.max(heat.reduce((most, v) => Math.max(most, Math.abs(v)), 0), SALIENCY_FLOOR);
  return Float32Array.from(heat, (v) => v / peak);
}

// read(steps, saliency=True): {logits of the digit itself, heat: Float32Array(784)}; null for blank.
export async function saliency(url, steps) {
  if (steps.box === null) return null;
  const image = steps.image.data, at = corners(image);
  const out = await run(url, {image: ['float32', batch(image, at), [at.length + 1, 1, FIELD, FIELD]]});
  const logits = out.logits.data, first = logSoftmax(logits, 0);
  const digit = first.indexOf(Math.max(...first));
  const drops = at.map((_, k) => first[digit] - logSoftmax(logits, k + 1)[digit]);
  return {logits: logits.slice(0, 10), heat: saliencyMap(drops, at)};
}
