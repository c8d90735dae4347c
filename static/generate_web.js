// The Generate tab's image, made in the visitor's browser while a slider moves: tabs/generate.py
// calls `follow` from the sliders' input events, and the server is asked nothing until release.
// One recipe, two implementations: this file mirrors inference/generator.py's `latent`, `generate`
// and `upscale` step by step (float32 at each step, as numpy does), held to them by
// tests/test_generate_browser.py (the browser's image equals the server's /show image).
//   z = truncation * z(seed) + sum_k s_k * direction_k,  image = generator(z[, digit])
// numpy's seeded normal z(seed) cannot be reproduced here, so the server hands the page the plain
// numbers (generator.page_numbers: z(seed), the unit directions, whether the model is told the
// digit, the clamps) when the seed or the model changes, and the model's URL (a gr.File).
// Anything that fails here throws: the tab's event then asks the server's /show instead, silently.
import {run, session} from './onnx_web.js';

const SIDE = 28;
const broken = new Set(); // model URLs the browser failed on: the page stays on the server's path for them
let wanted = null; // the newest request, waiting for the run in flight
let loop = null; // the run in flight (a promise every caller meanwhile shares)
let canvas = null;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
// generator.py's clean_slider / clean_truncation: not a number means the default, out of range is clamped.
const finite = (v, otherwise) => (v === null || v === '' || !Number.isFinite(Number(v)) ? otherwise : Number(v));

// generator.latent: float32 arithmetic, rounded after each step as numpy rounds its float32 arrays.
export function latent(numbers, truncation, sliders) {
  const [lo, hi] = numbers.truncation_range;
  const scale = Math.fround(clamp(finite(truncation, numbers.default_truncation), lo, hi));
  const z = Float32Array.from(numbers.z, (v) => scale * v);
  numbers.directions.forEach((direction, k) => {
    const s = Math.fround(clamp(finite(sliders[k], 0), -numbers.slider_limit, numbers.slider_limit));
    for (let i = 0; i < z.length; i++) z[i] += Math.fround(s * direction[i]);
  });
  return z;
}

// numpy's rint: halves go to the even neighbour.
function rint(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// generator.generate + the first half of upscale: the model's [-1,1] image -> 28x28 grey levels.
export async function grey(url, numbers, digit, truncation, sliders) {
  const inputs = {z: ['float32', latent(numbers, truncation, sliders), [1, numbers.z.length]]};
  if (numbers.conditional) inputs.label = ['int64', BigInt64Array.of(BigInt(digit)), [1]];
  const out = (await run(url, inputs)).image.data;
  const pixels = new Uint8ClampedArray(SIDE * SIDE);
  for (let i = 0; i < pixels.length; i++) {
    const unit = clamp(Math.fround(Math.fround(out[i] + 1) / 2), 0, 1);
    pixels[i] = rint(Math.fround(unit * 255));
  }
  return pixels;
}

// generator.upscale's squares, encoded as a PNG the <img> shows (and its download button keeps).
export function picture(pixels, factor) {
  const side = SIDE * factor;
  canvas ??= document.createElement('canvas');
  canvas.width = canvas.height = side;
  const context = canvas.getContext('2d');
  const frame = context.createImageData(side, side);
  const rgba = new Uint32Array(frame.data.buffer);
  for (let y = 0; y < side; y++) {
    const row = ((y / factor) | 0) * SIDE;
    for (let x = 0; x < side; x++) rgba[y * side + x] = pixels[row + ((x / factor) | 0)] * 0x010101 | 0xff000000;
  }
  context.putImageData(frame, 0, 0);
  return canvas.toDataURL('image/png');
}

// The CNN's and the discriminator's verdicts are the server's, made at release: while the image on
// screen is one drawn here they speak of an earlier value, so they are dimmed (tabs/generate.py's
// CSS for .verdicts-wait) until the server's image for the released value replaces it.
const output = () => document.getElementById('generate-output');
let watching = false;

function watchForTheServersImage() {
  const box = output();
  if (watching || !box) return;
  watching = true;
  new MutationObserver(() => {
    const src = box.querySelector('#generate-image img')?.getAttribute('src') ?? '';
    if (!src.startsWith('data:')) box.classList.remove('verdicts-wait');
  }).observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}

async function paint({numbers, url, digit, truncation, sliders, target}) {
  const pixels = await grey(url, numbers, digit, truncation, sliders);
  target.src = picture(pixels, numbers.display_scale);
  target.dataset.drawnHere = String(Number(target.dataset.drawnHere || 0) + 1);
  watchForTheServersImage();
  output()?.classList.add('verdicts-wait');
}

// The page's event: (numbers, model file, digit, seed, truncation, ...slider values). Resolves when
// this value (or a newer one) is on screen; one run at a time, the newest value waiting.
export function follow(numbers, file, digit, seed, truncation, ...sliders) {
  const url = file?.url;
  const target = document.querySelector('#generate-image img');
  // No WebAssembly, a model that failed here, no image to draw into yet, numbers not (yet) for this
  // seed, or a digit the server must word an error for: the server draws it.
  const digitOk = !numbers?.conditional || [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].includes(Number(digit));
  if (typeof WebAssembly !== 'object' || !url || broken.has(url) || !target || Number(seed) !== numbers?.seed || !digitOk) {
    throw new Error('the server draws');
  }
  digit = Number(digit);
  wanted = {numbers, url, digit, truncation, sliders, target};
  loop ??= (async () => {
    try {
      while (wanted) {
        const next = wanted;
        wanted = null;
        await paint(next);
      }
    } catch (error) {
      wanted = null;
      broken.add(url);
      throw error;
    } finally {
      loop = null;
    }
  })();
  return loop;
}

// A slider moved with the keyboard fires `input` but never Gradio's `release` (which listens for
// pointerup): without this, the verdicts and strips would not follow the arrow keys. A key let go
// on one of the tab's sliders is its release. So is Enter in a slider's number box: Gradio releases
// that box only when it loses focus, and a visitor who typed a value and pressed Enter is done.
const KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End']);
document.addEventListener('keyup', (event) => {
  const slider = KEYS.has(event.key) && event.target.matches?.('#generate-controls input[type=range]');
  const typed = event.key === 'Enter' && event.target.matches?.('#generate-controls input[type=number]');
  if (slider || typed) {
    event.target.dispatchEvent(new PointerEvent('pointerup', {bubbles: true})); // Svelte listens at the root
  }
});

// When the page receives the model's file: load the runtime and the model as soon as the tab is on
// screen (Gradio renders a tab when it is first opened), so the first drag does not wait for them
// and a visitor who never opens the tab downloads neither. A failure here is remembered, and drags
// go to the server from the start.
let shown = null;
export function warm(file) {
  const url = file?.url;
  if (!url || typeof WebAssembly !== 'object') return;
  clearInterval(shown);
  const load = () => session(url).catch(() => broken.add(url));
  if (document.getElementById('generate-controls')?.offsetParent) return load();
  shown = setInterval(() => {
    if (!document.getElementById('generate-controls')?.offsetParent) return;
    clearInterval(shown);
    load();
  }, 250);
}
