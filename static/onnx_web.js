// The page's one onnxruntime-web (vendored beside this file, static/onnxruntime-web/): loaded on
// first use, one InferenceSession per model URL, shared by every tab. The runtime runs on the main
// thread with one WebAssembly thread: a Space's page is not cross-origin isolated, so the threaded
// build could not share memory anyway, and the models are small (a reading is ~8 MFLOP).
// Anything that fails here (no WebAssembly, a file not served) rejects the promise: the callers
// then fall back to the server's readings.
// A page script loads it by the absolute path the server gives it (Gradio serves static paths as
// /gradio_api/file=<absolute path>), e.g. in a gr.HTML's js_on_load:
//   const web = await import(`${window.gradio_config.root}/gradio_api/file=${props.static_dir}/onnx_web.js`);
// Checked in headless Chromium: exports/cnn.onnx gives onnxruntime's logits to 1e-6, 6 ms a reading
// after a first load of ~0.5 s.
const HERE = new URL('.', import.meta.url);
let runtime = null;
const sessions = new Map();

export function ort() {
  runtime ??= import(new URL('onnxruntime-web/ort.wasm.min.mjs', HERE).href).then((ort) => {
    ort.env.wasm.wasmPaths = new URL('onnxruntime-web/', HERE).href;
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    return ort;
  });
  runtime.catch(() => { runtime = null; }); // a later call may try again (a network blip)
  return runtime;
}

// The session for the model at `url` (made once; a failed load is forgotten, so it can be retried).
export function session(url) {
  if (!sessions.has(url)) {
    const made = ort().then((o) => o.InferenceSession.create(url, {executionProviders: ['wasm']}));
    made.catch(() => sessions.delete(url));
    sessions.set(url, made);
  }
  return sessions.get(url);
}

// Run the model at `url` on named inputs: {name: [type, data, dims]} -> {name: ort.Tensor}.
export async function run(url, inputs) {
  const [o, s] = await Promise.all([ort(), session(url)]);
  const feeds = {};
  for (const [name, [type, data, dims]] of Object.entries(inputs)) feeds[name] = new o.Tensor(type, data, dims);
  return s.run(feeds);
}

// The URL of a file the app serves from a static path (app.py's STATIC and EXPORTS), given its
// path as the server names it: served('/app/exports/cnn.onnx').
export function served(path) {
  return HERE.href.replace(/file=.*$/, `file=${path}`);
}
