// The Draw tab's readings while the pen moves, made in the visitor's browser: the strokes prepared
// by draw_prepare.js (inference/strokes.py in JavaScript), both CNNs run by onnxruntime-web on the
// same .onnx files the server reads, and each reading put into words as tabs/draw/tab.py's
// `verdict_text` does. tabs/draw/canvas.js loads this module and shows what `read` returns through a
// js-only Gradio event. Once the pen stays up the server sends only what it alone makes (the 28x28
// state the other views use, and the occlusion saliency as numbers) and `views` draws the two
// pictures and the screen reader's sentence here (draw_views.js).
// Anything failing here rejects: the canvas then asks the server, as it did before this existed.
import {judge, prepareStrokes, pyRound, softmax} from './draw_prepare.js';
import {dataURL, lookedView, nothingLooked, nothingSeen, seenView} from './draw_views.js';
import {run, served, session} from './onnx_web.js';
import {saliency} from './draw_saliency.js';

const TOP = 3; // the Label shows the top three, as tabs/draw/tab.py's gr.Label(num_top_classes=3)

// locales.best_language over the browser's languages (what its Accept-Language header says).
export function language(words, preferred = navigator.languages ?? [navigator.language]) {
  const spoken = Object.keys(words);
  for (const tag of preferred) {
    const lower = String(tag).toLowerCase();
    const found = spoken.find((lang) => lower === lang.toLowerCase() || lower.split('-')[0] === lang.toLowerCase().split('-')[0]);
    if (found) return found;
  }
  return spoken[0];
}

// locales.words: a template with {name} placeholders, filled in.
export function sayer(table) {
  return (key, values = {}) => (table[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

const percent = (share) => `${pyRound(share * 100)}%`; // Python's f"{share:.0%}"

// tabs/draw.verdict_text: a reading in the visitor's words (Markdown).
export function verdictText({digit, confidence, notSure, reason, values}, say) {
  const key = reason && reason.includes('.') ? reason : `draw.reason.${reason}`;
  const shown = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'number' ? percent(v) : v]));
  if (digit === null) return `**${say(key, shown)}**`;
  if (notSure) return say('draw.verdict.not_sure', {reason: say(key, shown), digit, confidence: percent(confidence)});
  return say('draw.verdict.sure', {digit, confidence: percent(confidence)});
}

// The gr.Label value of a reading, as Gradio's Label.postprocess makes it: top classes first.
export function labelValue(probs) {
  if (!probs) return {};
  const ranked = Array.from(probs, (p, d) => ({label: String(d), confidence: p})).sort((a, b) => b.confidence - a.confidence);
  return {label: ranked[0].label, confidences: ranked.slice(0, TOP)};
}

// classifier.Reading: {digit, confidence, notSure, reason, values, probs} from the steps and the
// model's logits (null when it did not run: a blank canvas).
export function reading(steps, logits) {
  const probs = logits ? softmax(logits) : null;
  const [notSure, reason, values] = judge(steps, probs);
  const digit = probs ? probs.indexOf(Math.max(...probs)) : null;
  return {digit, confidence: probs ? probs[digit] : 0, notSure, reason, values, probs};
}

// tabs/draw.announcement: what a screen reader hears once the pen stays up (HTML-escaped, as the
// live region's value is HTML).
const plain = (markdown) => markdown.replace(/#+ /g, '').replace(/\*+|`/g, '').trim().replaceAll('\n', ': ');
const escape = (text) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

export function announcement(ours, primer, say) {
  let text = `${say('draw.ours.title')}: ${plain(ours)}`;
  if (primer) text += ` ${say('draw.primer.title')}: ${plain(primer)}`;
  return escape(text);
}

// One model's reading of prepared steps.
export async function readOne(url, steps) {
  if (steps.box === null) return reading(steps, null);
  const out = await run(url, {image: ['float32', steps.image.data, [1, 1, 28, 28]]});
  return reading(steps, out.logits.data);
}

// The reader for one page. `models`: {ours, primer} as the server names the files (absolute
// paths; primer null when the server has none), `words`: {lang: {key: template}}.
export function reader({models, words}) {
  const say = sayer(words[language(words)]);
  const shipped = served(models.ours);
  let ours = shipped;
  const primer = models.primer ? served(models.primer) : null;
  return {
    // Both sessions made and run once, so the first reading while drawing is as quick as the rest.
    async warm() {
      const blank = prepareStrokes({size: 280, strokes: [[100, 60, 140, 200]]});
      await Promise.all([ours, primer].filter(Boolean).map((url) => session(url).then(() => readOne(url, blank))));
      return this;
    },
    // The visitor's own CNN (a server path in Gradio's cache), or null for the shipped one.
    useOurs(path) {
      ours = path ? served(path) : shipped;
      session(ours).catch(() => {}); // loaded now; a failure shows when a reading asks for it
    },
    // The page's strokes -> the four values the page shows while the pen moves.
    async read(value) {
      const steps = prepareStrokes(value);
      const [mine, theirs] = await Promise.all([readOne(ours, steps), primer && readOne(primer, steps)]);
      return [labelValue(mine.probs), verdictText(mine, say),
              theirs ? labelValue(theirs.probs) : {}, theirs ? verdictText(theirs, say) : say('draw.primer.missing')];
    },
    // The strokes the server looked at and its saliency (null for blank strokes) -> the two
    // views as PNG data URLs and the announcement of both readings.
    async views(value, heat) {
      const steps = prepareStrokes(value);
      const [, verdict, , primerVerdict] = await this.read(value);
      const blank = steps.box === null || !heat;
      return {seen: dataURL(blank ? nothingSeen() : seenView(steps.image)),
              looked: dataURL(blank ? nothingLooked() : lookedView(steps, heat)),
              news: announcement(verdict, primerVerdict, say)};
    },
    // The same, with the saliency made here too (our CNN's one batched run also gives its reading):
    // the pen staying up then asks the server nothing.
    async look(value) {
      const steps = prepareStrokes(value);
      const [made, theirs] = await Promise.all([saliency(ours, steps), primer && readOne(primer, steps)]);
      const verdict = verdictText(reading(steps, made && made.logits), say);
      return {seen: dataURL(made ? seenView(steps.image) : nothingSeen()),
              looked: dataURL(made ? lookedView(steps, made.heat) : nothingLooked()),
              news: announcement(verdict, theirs ? verdictText(theirs, say) : say('draw.primer.missing'), say)};
    },
  };
}
