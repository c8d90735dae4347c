// The Draw tab's two views, drawn in the visitor's browser from the page's own prepared strokes
// (draw_prepare.js) and the saliency the server sends (tabs/draw/tab.py's /look_strokes): the 28x28 as
// the model saw it (tabs/draw/tab.py `_seen_view`) and where it looked (inference/classifier.py
// `saliency_on_strokes`, with `_looked_view`'s strip of paper on top). The server then encodes no
// pictures for a page that reads for itself: the saliency is 784 numbers, the views are made here.
// Float32 arithmetic in numpy's order (Math.fround at each step) so the pixels match the server's,
// held to them by tests/test_browser_views_parity.py. Pixels are RGBA {data, w, h}.
import {BILINEAR, FIELD, pyRound, resize} from './draw_prepare.js';

export const VIEW = 168; // tabs/draw/tab.py: the 28x28 at 6x, nearest
export const LOOKED = 224; // classifier.saliency_on_strokes's default size
const f32 = Math.fround;
const GREY = [110, 110, 120], HOT = [240, 90, 20], COLD = [40, 110, 230];

function rgba(w, h, fill) {
  const data = new Uint8ClampedArray(w * h * 4).fill(fill);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return {data, w, h};
}

// NOTHING_SEEN and NOTHING_LOOKED: a black 28x28 and blank paper, before a reading and after Clear.
export const nothingSeen = () => rgba(VIEW, VIEW, 0);
export const nothingLooked = () => rgba(VIEW, VIEW, 255);

// _seen_view: (clip(image) * 255) as uint8 (truncated), enlarged with square pixels.
export function seenView(image) {
  const out = rgba(VIEW, VIEW, 0);
  for (let y = 0; y < VIEW; y++) for (let x = 0; x < VIEW; x++) {
    const v = image.data[Math.trunc(((y + 0.5) * FIELD) / VIEW) * FIELD + Math.trunc(((x + 0.5) * FIELD) / VIEW)];
    const grey = Math.trunc(f32(Math.min(1, Math.max(0, v)) * 255));
    out.data.fill(grey, (y * VIEW + x) * 4, (y * VIEW + x) * 4 + 3);
  }
  return out;
}

// saliency_on_strokes then _looked_view: the visitor's ink (cropped around it with a margin, on
// white) coloured by `heat` (28x28, flat or rows) stretched back from the fitted digit over the
// ink's box, both resized (Pillow's BILINEAR on float images) so the longer side is `size`.
export function lookedView(steps, heat, size = LOOKED) {
  if (steps.box === null || !heat) return nothingLooked();
  const flat = Float32Array.from(heat.flat ? heat.flat() : heat);
  const [top, left, bottom, right] = steps.box, [row, col] = steps.offset, {h: fh, w: fw} = steps.fitted;
  const patch = new Float32Array(fh * fw);
  for (let y = 0; y < fh; y++) patch.set(flat.subarray((row + y) * FIELD + col, (row + y) * FIELD + col + fw), y * fw);
  const local = resize({data: patch, h: fh, w: fw}, right - left, bottom - top, BILINEAR);
  const margin = Math.max(2, Math.trunc(0.12 * Math.max(bottom - top, right - left)));
  const {ink} = steps;
  const t = Math.max(0, top - margin), l = Math.max(0, left - margin);
  const b = Math.min(ink.h, bottom + margin), r = Math.min(ink.w, right + margin);
  const h = b - t, w = r - l;
  const cropped = new Float32Array(h * w), signed = new Float32Array(h * w);
  for (let y = 0; y < h; y++) cropped.set(ink.data.subarray((t + y) * ink.w + l, (t + y) * ink.w + r), y * w);
  for (let y = 0; y < bottom - top; y++) signed.set(local.data.subarray(y * local.w, (y + 1) * local.w), (top - t + y) * w + (left - l));
  const scale = size / Math.max(h, w);
  const ow = Math.max(1, pyRound(w * scale)), oh = Math.max(1, pyRound(h * scale));
  const inkOut = resize({data: cropped, h, w}, ow, oh, BILINEAR).data;
  const heatOut = resize({data: signed, h, w}, ow, oh, BILINEAR).data;
  const strip = Math.max(8, Math.trunc(oh / 7)); // _looked_view: paper on top, for the image's name
  const out = rgba(ow, oh + strip, 255);
  for (let i = 0; i < ow * oh; i++) {
    const s = heatOut[i], positive = Math.min(1, Math.max(0, s)), negative = Math.min(1, Math.max(0, -s));
    const a = Math.min(1, Math.max(0, inkOut[i]));
    for (let c = 0; c < 3; c++) {
      const colour = f32(f32(GREY[c] + f32(positive * (HOT[c] - GREY[c]))) + f32(negative * (COLD[c] - GREY[c])));
      const value = f32(f32(255 * f32(1 - a)) + f32(colour * a));
      out.data[(strip * ow + i) * 4 + c] = Math.trunc(Math.min(255, Math.max(0, value)));
    }
  }
  return out;
}

// Pixels -> a PNG data URL, for an <img>'s src (as generate_web.js shows its digit).
export function dataURL({data, w, h}) {
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d').putImageData(new ImageData(data, w, h), 0, 0);
  return canvas.toDataURL('image/png');
}
