// The Draw tab's canvas (tabs/draw/canvas.py runs this as gr.HTML's js_on_load, with `element`,
// `props` and `trigger`). It draws locally and sends only the strokes, as JSON in props.value:
// {"size": S, "pen": P, "up": true|false, "strokes": [[x0, y0, x1, y1, ...], ...]} in canvas units
// (0..S, the same on any box size). Setting props.value fires the component's change event, which
// the server answers with the reading: when the pen lifts, and every THROTTLE ms while it moves
// unless the page reads those itself (below). Undo, Clear and the pen size are Gradio buttons that
// call window.digitLabCanvas.
const canvas = element.querySelector('canvas');
const size = Number(props.size);
const THROTTLE = Number(props.throttle);
const SETTLE = Number(props.settle);
const MIN_STEP = 2; // canvas units: closer points add nothing the server can see
const SCALE = 2; // backing pixels per canvas unit, so strokes stay sharp on a phone's screen
canvas.width = canvas.height = size * SCALE;
const ctx = canvas.getContext('2d');
ctx.scale(SCALE, SCALE);
let pen = Number(props.pen);
let strokes = []; // {pen, points: [x, y, ...]}
let current = null;
let timer = null;
let lastSent = 0;
let settling = null; // the server's pen-up reading, waiting SETTLE ms for the pen to stay up
let looking = null; // the strokes the server was last asked to look at (a reading page's 'input')
// Once the pen stays up a page that reads makes the two views itself too, saliency included
// (reader.look), and shows them through a second js-only event ('edit', handled by tabs/draw/tab.py's
// SHOW_MADE): the server hears nothing. Its 28x28 state is made from the strokes only when a view
// needs it: while a view that follows it is open (`needs`: Inside the CNN, Backprop) the pen
// staying up tells the server the strokes (its own queued event, 'blur': a state set by an
// unqueued one does not fire its change event), and a correction or a view opening hands them over
// when the server's are behind (`known`, strokesBehind()). Where the saliency cannot be made here
// the server is asked for it as before ('input', /look_strokes).
const needs = new Set();
let made = null; // the views made here for the ask `madeAt`
let madeAt = -1;

// While the pen moves the page reads the strokes itself (static/draw_reader.js, given by
// props.reader) and shows the readings through a js-only event ('submit' on this component, whose
// handler calls pageReading()): no server call until the pen lifts. Until the reader has loaded, or
// when it cannot (no WebAssembly, a file not served, a model that fails), the server reads while
// the pen moves, as it always did; nothing is said about it. When the page reads, the pen lifting
// shows its reading at once, and once the pen has stayed up SETTLE ms (or at once after Undo and
// Clear) the page makes the two views too (below).
let reader = null;
let own = {own: false}; // this visitor's CNN (tabs/draw/tab.py's browser_model), once the server says
let asked = 0; // readings asked for: one made here is shown only if nothing newer was asked since
let reading = false; // one reading here at a time; `again`: the strokes changed meanwhile
let again = false;
let shown = null; // the newest reading made here: what pageReading() hands the js-only event
let shownAt = 0; // the `asked` it answered
canvas.dataset.reader = 'server';
if (props.reader) {
  const root = window.gradio_config?.root ?? '';
  import(`${root}/gradio_api/file=${props.reader.static_dir}/draw_reader.js`)
    .then((module) => module.reader(props.reader).warm())
    .then((made) => {
      reader = made;
      useModel(own);
    })
    .catch(() => {});
}

function useModel(model) {
  own = model ?? {own: false};
  if (!reader) return;
  if (own.own && !own.path) { // the server could not serve this visitor's CNN: it reads them all
    canvas.dataset.reader = 'server';
    return;
  }
  reader.useOurs(own.own ? own.path : null);
  canvas.dataset.reader = 'browser';
}

const strokesJSON = (up) => JSON.stringify({size, pen, up, strokes: strokes.map((s) => s.points)});
const strokesKey = () => JSON.stringify(strokes.map((s) => s.points));
let known = strokesKey(); // the strokes the server's 28x28 state was last made from

function readInPage(up = false) {
  if (reading) {
    again = true;
    return;
  }
  reading = true;
  again = false;
  const mine = asked;
  const value = strokesJSON(up);
  reader.read(value).then(
    (outputs) => {
      if (mine !== asked) return;
      shown = outputs;
      shownAt = mine;
      trigger('submit');
    },
    () => { // this one, and the rest until another model is chosen, from the server instead
      canvas.dataset.reader = 'server';
      if (mine === asked) props.value = value;
    },
  ).finally(() => {
    reading = false;
    if (again && inPage()) readInPage();
  });
}

// Ask the server to look at the strokes (and set its 28x28 state), with its saliency when `heat`;
// `ask` ties its answer to them.
function tell(heat) {
  looking = JSON.stringify({size, pen, up: true, ask: asked, ...(heat ? {} : {heat: false}), strokes: strokes.map((s) => s.points)});
  known = strokesKey();
  trigger(heat ? 'input' : 'blur');
}

// The pen stays up (or Undo, Clear): the views made here; the server told only when a view needs it
// now, or asked for the saliency when it cannot be made here.
function look() {
  if (settling) clearTimeout(settling);
  settling = null;
  const mine = asked;
  madeAt = mine;
  reader.look(strokesJSON(true)).then(
    (views) => {
      if (mine !== asked) return;
      made = views;
      trigger('edit');
    },
    () => {
      if (mine !== asked) return;
      madeAt = -1;
      tell(true);
    },
  );
  if (needs.size) tell(false);
}

const ink = () => getComputedStyle(canvas).color;

function dot(x, y, width) {
  ctx.beginPath();
  ctx.arc(x, y, width / 2, 0, 2 * Math.PI);
  ctx.fill();
}

function segment(x0, y0, x1, y1, width) {
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

function redraw() {
  ctx.clearRect(0, 0, size, size);
  ctx.strokeStyle = ctx.fillStyle = ink();
  ctx.lineCap = ctx.lineJoin = 'round';
  for (const stroke of strokes) {
    const p = stroke.points;
    dot(p[0], p[1], stroke.pen);
    for (let i = 2; i < p.length; i += 2) segment(p[i - 2], p[i - 1], p[i], p[i + 1], stroke.pen);
  }
}

const inPage = () => reader && canvas.dataset.reader === 'browser';

function send(up) {
  if (timer) clearTimeout(timer);
  if (settling) clearTimeout(settling);
  timer = settling = null;
  lastSent = performance.now();
  asked += 1;
  if (inPage()) { // the page reads; Undo and Clear (up) have the server look at once
    readInPage(up);
    if (up) look();
    return;
  }
  again = false; // the server's reading is the newest now
  const value = strokesJSON(up);
  known = strokesKey();
  // The same strokes as the server's last reading (Clear twice, an Undo back to them) change
  // nothing and ask nothing: its views stand.
  if (value !== props.value) props.value = value;
}

function schedule() {
  if (timer) return;
  timer = setTimeout(() => send(false), Math.max(0, THROTTLE - (performance.now() - lastSent)));
}

function at(event) {
  const box = canvas.getBoundingClientRect();
  const x = ((event.clientX - box.left) * size) / box.width;
  const y = ((event.clientY - box.top) * size) / box.height;
  const clamp = (v) => Math.round(Math.min(size, Math.max(0, v)) * 10) / 10;
  return [clamp(x), clamp(y)];
}

canvas.addEventListener('pointerdown', (event) => {
  if (event.button !== 0 && event.pointerType === 'mouse') return;
  event.preventDefault();
  if (settling) clearTimeout(settling); // another stroke: the server reads when this one ends
  settling = null;
  canvas.setPointerCapture?.(event.pointerId);
  const [x, y] = at(event);
  current = {pen, points: [x, y], id: event.pointerId};
  strokes.push(current);
  ctx.strokeStyle = ctx.fillStyle = ink();
  ctx.lineCap = ctx.lineJoin = 'round';
  dot(x, y, pen);
  schedule();
});

canvas.addEventListener('pointermove', (event) => {
  if (!current || event.pointerId !== current.id) return;
  event.preventDefault();
  const p = current.points;
  const [x, y] = at(event);
  const [lx, ly] = [p[p.length - 2], p[p.length - 1]];
  if (Math.hypot(x - lx, y - ly) < MIN_STEP) return;
  p.push(x, y);
  segment(lx, ly, x, y, current.pen);
  schedule();
});

function lift(event) {
  if (!current || event.pointerId !== current.id) return;
  const p = current.points;
  const [x, y] = at(event);
  if (event.type === 'pointerup' && (x !== p[p.length - 2] || y !== p[p.length - 1])) {
    p.push(x, y);
    segment(p[p.length - 4], p[p.length - 3], x, y, current.pen);
  }
  current = null;
  if (!inPage()) {
    send(true);
    return;
  }
  send(false); // the page's reading, now
  settling = setTimeout(look, SETTLE);
}
canvas.addEventListener('pointerup', lift);
canvas.addEventListener('pointercancel', lift);

// Follow the light/dark switch: the ink is the page's text colour.
new MutationObserver(redraw).observe(document.body, {attributes: true, attributeFilter: ['class']});

window.digitLabCanvas = {
  undo() {
    if (!strokes.length) return;
    strokes.pop();
    current = null;
    redraw();
    send(true);
  },
  clear() {
    strokes = [];
    current = null;
    redraw();
    send(true);
  },
  // The js-only event's outputs: the newest reading made here, unless the server has been asked
  // since (Clear, Undo, the pen staying up; Gradio may run the event after that answer): then
  // nothing changes (Gradio's "update" with no values, what gr.skip() sends).
  pageReading: () => (shown && shownAt !== asked ? shown.map(() => ({__type__: 'update'})) : shown),
  useModel, // the server's word on this visitor's CNN (tabs/draw/tab.py)
  lookingAt: () => looking, // the strokes for the server to look at (the 'input' event's js)
  strokesNow: () => strokesJSON(true), // for other views of the strokes (tabs/draw/canvas.py with_strokes)
  // The server's answer {ask, heat} -> {seen, looked: data URLs, news}, or null when the strokes
  // have changed since it was asked (its successor is on its way) or the page no longer reads.
  async views(answer) {
    if (!answer || answer.ask !== asked || answer.ask === madeAt || !inPage() || !looking) return null;
    const made = await reader.views(looking, answer.heat);
    return answer.ask === asked ? made : null;
  },
  madeViews: () => (madeAt === asked ? made : null), // the views made here (the 'edit' event's js)
  // A view that reads the server's 28x28 opens (true) or closes; while one is open, the pen staying up tells the server.
  need(name, open) {
    if (open) needs.add(name);
    else needs.delete(name);
  },
  // The strokes, when the server's 28x28 was made from others (they are handed over now), else null.
  strokesBehind() {
    if (strokesKey() === known) return null;
    known = strokesKey();
    return strokesJSON(true);
  },
  told() { known = strokesKey(); }, // the server's 28x28 came another way (an upload): the strokes are not behind
  setPen(width) {
    const value = Number(width);
    if (value > 0) pen = canvas.dataset.pen = value;
  },
};
canvas.dataset.pen = pen;
canvas.dataset.ready = 'true';
