"""The Draw tab: draw (or upload) a digit and two CNNs read it as you go, side by side: Digit Lab's
(this session's model, else the shipped exports/cnn.onnx) and the primer's (exports/seed_cnn.onnx),
each with its own verdict, so a visitor sees where each one fails. It shows the 28x28 our CNN saw,
where it looked, and says so honestly when it is not sure. "That's wrong, it's a ..." keeps the
drawing as a correction for this session only (the Train tab can fine-tune on them).

Two ways in, one reading:
- the page's canvas (tabs/draw/canvas.py) sends strokes to /classify_strokes; inference/strokes.py
  redraws them at a width in proportion to the digit, as MNIST's strokes are. While the pen moves
  the page reads them itself (static/draw_reader.js, the same recipe in JavaScript and both CNNs
  in onnxruntime-web); once the pen stays up the page makes the saliency too (static/
  draw_saliency.js) and draws the two views (static/draw_views.js), and the server hears the
  strokes only when a view needs its 28x28 (a correction, Inside the CNN, Backprop). /look_strokes
  (the 28x28 state and the saliency as numbers) is what a page asks whose saliency run fails.
  Wherever the browser cannot, the server reads at pen-up with the views, and while the pen moves;
- /classify keeps its contract for API users: the Sketchpad value (background, layers,
  composite), read by inference/preprocess.py; its Sketchpad is not shown on the page.
Uploads (/classify_upload) are the keyboard's way in.

Every word comes from locales/ (draw.*): page text through `ui`, what the server writes in the
visitor's language (`locales.language(request)`; API clients without Accept-Language get English).
"""
import html
import json
import logging
import re
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

import locales
from inference.classifier import Reading, read, saliency_on_strokes
from inference.preprocess import prepare
from inference.sessions import PRIMER_CNN, ModelUnavailable, session, shipped
from inference.strokes import prepare_strokes
from locales import ui
from tabs.draw import backprop
from tabs.draw import canvas as pad
from tabs import link as page_link
from tabs.draw import inside, mistakes, my_digits
from tabs.draw import raw_pictures  # pictures reach classify undecoded, so a huge one is refused from its header
from visitors import limits

VIEW = 168  # pixels a side for the 28x28 shown to the visitor (6x, nearest: the pixels stay square)
DIGITS = [str(d) for d in range(10)]
MAX_CORRECTIONS = 500  # per session, in memory: enough to fine-tune on, bounded against abuse
# Before a reading (and after Clear) the two views show what the model has: a black 28x28 and blank
# paper, never an empty box (Gradio marks an empty image box with an aria-label its role forbids).
NOTHING_SEEN = np.zeros((VIEW, VIEW), np.uint8)
NOTHING_LOOKED = np.full((VIEW, VIEW, 3), 255, np.uint8)
# Served by app.py (gr.set_static_paths): the page's scripts and the shipped models.
STATIC, SERVED_MODELS = (Path(__file__).resolve().parents[2] / name for name in ("static", "exports"))
# The words the page's own reader writes (static/draw_reader.js), in every language.
READER_WORDS = ("draw.reason.", "draw.verdict.", "draw.primer.missing", "draw.ours.title", "draw.primer.title")

log = logging.getLogger(__name__)


def _seen_view(image: np.ndarray) -> np.ndarray:
    """The 28x28 as the model sees it (white ink on black), enlarged with square pixels."""
    pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(pixels).resize((VIEW, VIEW), Image.Resampling.NEAREST))


def _looked_view(overlay: np.ndarray) -> np.ndarray:
    """The saliency overlay with a strip of paper on top, where the image's name is written over it."""
    return np.pad(overlay, ((max(8, overlay.shape[0] // 7), 0), (0, 0), (0, 0)), constant_values=255)


def verdict_text(reading: Reading, say) -> str:
    """A reading in the visitor's words (Markdown)."""
    key = reading.reason if reading.reason and "." in reading.reason else f"draw.reason.{reading.reason}"
    values = {k: f"{v:.0%}" if isinstance(v, float) else v for k, v in reading.values.items()}  # shares as percentages
    if reading.digit is None:
        return "**" + say(key, **values) + "**"
    confidence = f"{reading.confidence:.0%}"
    if reading.not_sure:
        reason = say(key, **values)
        return say("draw.verdict.not_sure", reason=reason, digit=reading.digit, confidence=confidence)
    return say("draw.verdict.sure", digit=reading.digit, confidence=confidence)


def _plain(markdown: str) -> str:
    return re.sub(r"\*+|`", "", re.sub(r"#+ ", "", markdown)).strip().replace("\n", ": ")


def announcement(ours: str, primer: str, say) -> str:
    """What a screen reader hears after a reading (the aria-live region's text, HTML-escaped)."""
    text = f"{say('draw.ours.title')}: {_plain(ours)}"
    if primer:
        text += f" {say('draw.primer.title')}: {_plain(primer)}"
    return html.escape(text, quote=False)


def _read(steps, model_path, say, saliency: bool):
    """(label dict, verdict markdown, heat or None, reading or None) for one model; never raises."""
    try:
        reading, heat = read(steps, model_path, saliency=saliency)
    except ModelUnavailable as error:
        log.warning("model unavailable: %s", error)
        return {}, say("draw.model_missing", detail=say(error.key, **error.values)), None, None
    return reading.label(), verdict_text(reading, say), heat, reading


def reply(steps, cnn_path: str | None, lang: str | None, primer: bool = True):
    """Prepared Steps -> the page's outputs: (our label, our verdict, the primer's label, its
    verdict, the 28x28 view, the saliency overlay, the announcement, the 28x28 itself). While the
    pen is still moving (strokes with "up": false) only the labels and verdicts: the rest waits
    for the pen to lift, so a reading in passing costs a third and never delays the final one."""
    say = locales.words(lang)
    moving = not getattr(steps, "lifted", True)
    try:
        label, verdict, heat, reading = _read(steps, cnn_path, say, saliency=not moving)
        if primer:
            primer_path = shipped(PRIMER_CNN)
            if primer_path.exists():
                primer_label, primer_verdict, _, _ = _read(steps, str(primer_path), say, saliency=False)
            else:
                primer_label, primer_verdict = {}, say("draw.primer.missing")
        else:
            primer_label, primer_verdict = {}, ""
    except Exception as error:  # the last guard: a visitor sees a sentence, the log the traceback
        log.exception("classify failed")
        verdict = say("draw.failed", error=type(error).__name__)
        return {}, verdict, {}, "", NOTHING_SEEN, NOTHING_LOOKED, announcement(verdict, "", say), None
    if moving:
        return label, verdict, primer_label, primer_verdict, gr.skip(), gr.skip(), gr.skip(), gr.skip()
    news = announcement(verdict, primer_verdict, say)
    if reading is None or steps.blank:
        return label, verdict, primer_label, primer_verdict, NOTHING_SEEN, NOTHING_LOOKED, news, None
    return label, verdict, primer_label, primer_verdict, _seen_view(steps.image), _looked_view(saliency_on_strokes(steps, heat)), news, steps.image


def look_strokes(strokes, cnn_path: str | None = None):
    """/look_strokes, what a page that reads for itself asks once the pen stays up (and at Undo and
    Clear): only what the server alone makes, no pictures, no words. -> (the 28x28 our CNN read, or
    None when blank: the `seen` state; {"ask": the page's tag for these strokes, "heat": the
    occlusion saliency, 28x28 rounded to 3 decimals, or None}). The page draws both views from the
    heat and its own bit-exact preparation (static/draw_views.js). With "heat": false in the
    strokes (a page that made the saliency itself, telling the server for a view that reads the
    28x28) no model runs. Never raises."""
    try:
        value = json.loads(strokes) if isinstance(strokes, str) and strokes.strip() else strokes
    except ValueError:
        value = strokes  # prepare_strokes says it is unreadable
    ask = value.get("ask") if isinstance(value, dict) else None
    steps = prepare_strokes(value)
    if steps.blank:
        return None, {"ask": ask, "heat": None}
    if isinstance(value, dict) and value.get("heat") is False:  # the page made the saliency itself
        return steps.image, {"ask": ask, "heat": None}
    try:
        _, heat = read(steps, cnn_path, saliency=True)
    except Exception:  # a model gone or failing: no views, no 28x28 (as reply)
        log.exception("look failed")
        return None, {"ask": ask, "heat": None}
    return steps.image, {"ask": ask, "heat": np.round(heat, 3).tolist()}


def classify(value, cnn_path: str | None = None, request: gr.Request = None):
    """/classify, the API's contract: the Sketchpad value (or any image) -> (gr.Label dict, verdict
    markdown, 28x28 view, saliency overlay, the 28x28 itself). Raises gr.Error (in words) only for
    an address over its rate of uploads (visitors/limits.py)."""
    lang = locales.language(request)
    _uploaded(value, request, lang)
    steps = prepare(value)
    label, verdict, _, _, view, looked, _, seen = reply(steps, cnn_path, lang, primer=False)
    return label, verdict, view, looked, seen


def classify_strokes(strokes, cnn_path: str | None = None, request: gr.Request = None):
    """/classify_strokes, the page's canvas: its JSON strokes -> both readings (see `reply`)."""
    return reply(prepare_strokes(strokes), cnn_path, locales.language(request))


def classify_upload(image, cnn_path: str | None = None, request: gr.Request = None):
    """/classify_upload: a picture of a digit -> both readings (see `reply`)."""
    lang = locales.language(request)
    _uploaded(image, request, lang)
    return reply(prepare(image), cnn_path, lang)


def _uploaded(value, request, lang: str) -> None:
    """Before a picture is read: the address's rate of uploads (nothing uploaded, as when Clear
    empties the box, costs nothing and is not counted). What is no picture at all is refused in
    words by Gradio's reading of the value (visitors/checks.py) or, for a Python caller, by the
    reading's own verdict."""
    if value is not None:
        limits.guard(request, "upload", lang)


def reader_props() -> dict | None:
    """What the page needs to read while the pen moves (tabs/canvas.reader_props): the shipped
    models (the primer's None when there is none: the page says so) and its words. None (the
    server reads everything) when our CNN is missing or a model lies outside what app.py serves
    (DIGIT_LAB_EXPORTS elsewhere): the server's readings then say what is wrong."""
    ours, primer = shipped("cnn"), shipped(PRIMER_CNN)
    if not ours.is_file() or any(p.is_file() and p.resolve().parent != SERVED_MODELS for p in (ours, primer)):
        return None
    words = {lang: {k: v for k, v in strings.items() if k.startswith(READER_WORDS)} for lang, strings in locales.STRINGS.items()}
    return pad.reader_props(str(STATIC), str(ours), str(primer) if primer.is_file() else None, words)


def browser_model(cnn_path: str | None, block: gr.components.Component) -> dict:
    """Where the page's own reader finds this visitor's CNN: {"own": False} for the shipped one,
    else {"own": True, "path": a copy in Gradio's cache, which serves it by a URL named after the
    file's hash, handed to this page only}; "path" None when it cannot be copied (the page then
    leaves its readings to the server)."""
    if not cnn_path:
        return {"own": False}
    if not Path(cnn_path).is_file():  # gone: the server's reading says so
        return {"own": True, "path": None}
    try:
        return {"own": True, "path": block.move_resource_to_block_cache(cnn_path)}
    except Exception as error:  # a file gone or unreadable: the server's reading says why
        log.warning("own CNN not served to the page: %s", error)
        return {"own": True, "path": None}


def add_correction(digit, seen, corrections, request: gr.Request = None):
    """Append (the 28x28 the model saw, the right digit) to this session's corrections."""
    say = locales.words(locales.language(request))
    corrections = list(corrections or [])
    if seen is None:
        return corrections, say("draw.correct.first")
    if str(digit) not in DIGITS:
        return corrections, say("draw.correct.pick")
    if len(corrections) >= MAX_CORRECTIONS:
        return corrections, say("draw.correct.full", most=MAX_CORRECTIONS)
    corrections.append((np.asarray(seen, np.float32).copy(), int(digit)))
    count = len(corrections)
    return corrections, say("draw.correct.kept_one" if count == 1 else "draw.correct.kept", count=count)


def build(cnn_path: gr.State, corrections: gr.State, mine: gr.State | None = None) -> gr.State:
    """The tab's components and wiring. Returns `seen`, the state of the 28x28 [0,1] image the CNN
    last read (or None), for the views built from it (tabs/draw/inside.py)."""
    for path in (None, shipped(PRIMER_CNN)):  # open the sessions now, not on a visitor's first stroke
        try:
            session("cnn", path)
        except ModelUnavailable:
            pass  # said to the visitor in place of the reading
    seen = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=0, min_width=pad.SIDE):
            canvas = pad.strokes_canvas(ui("draw.canvas.name"), describedby="draw-how", reader=reader_props())
            with gr.Row():
                undo = gr.Button(ui("draw.undo"), size="sm", min_width=80, elem_id="draw-undo")
                clear = gr.Button(ui("draw.clear"), size="sm", min_width=80, elem_id="draw-clear")
            pen = gr.Radio([(ui(f"draw.pen.{name}"), width) for name, width in zip(("thin", "medium", "bold"), pad.PENS)],
                           value=pad.PEN, label=ui("draw.pen"), elem_id="draw-pen")
            gr.Markdown(ui("draw.how"), elem_id="draw-how")
        # On a phone (one column) the readings follow the canvas at once; the upload comes last.
        with gr.Column(scale=1, min_width=300):
            with gr.Row(equal_height=False):
                with gr.Column(min_width=140):
                    label = gr.Label(label=ui("draw.ours.label"), num_top_classes=3, min_width=140, elem_id="draw-label")
                    verdict = gr.Markdown(ui("draw.start"), elem_id="draw-verdict")
                with gr.Column(min_width=140):
                    primer_label = gr.Label(label=ui("draw.primer.label"), num_top_classes=3, min_width=140, elem_id="draw-primer-label")
                    primer_verdict = gr.Markdown("", elem_id="draw-primer-verdict")
            gr.Markdown(ui("draw.why_differ"), elem_id="draw-why")
            with gr.Row():
                model_view = gr.Image(NOTHING_SEEN, label=ui("draw.seen"), alt_text=ui("draw.seen"), height=VIEW + 40, min_width=140, buttons=[],
                                      interactive=False, format="png", elem_id="draw-seen")
                looked = gr.Image(NOTHING_LOOKED, label=ui("draw.looked"), alt_text=ui("draw.looked"), height=VIEW + 40, min_width=140, buttons=[],
                                  interactive=False, format="png", elem_id="draw-looked")
            gr.Markdown(ui("draw.looked.legend"))
            right_digit = gr.Radio(DIGITS, label=ui("draw.correct.which"), elem_id="draw-right-digit")
            correct = gr.Button(ui("draw.correct.keep"), elem_id="draw-correct")
            correction_status = gr.Markdown("", elem_id="draw-corrections")
            with gr.Accordion(ui("draw.upload.open"), open=False, elem_id="draw-upload-box"):
                upload = raw_pictures.Picture(
                    label=ui("draw.upload.label"),
                    show_label=False,
                    sources=["upload", "clipboard"],
                    type="filepath",  # the file as uploaded; its header is read before decoding
                    image_mode=None,  # keep the alpha of a transparent PNG: it says where the ink is
                    height=150,
                    elem_id="draw-upload",
                )
            news = gr.HTML("", html_template=NEWS, css_template=HIDDEN_CSS, js_on_load=None, elem_id="draw-news")
    inside.build(seen, cnn_path, canvas)  # "Inside the CNN": every stage of the model for the digit it just read
    backprop.build(canvas, seen, cnn_path)  # "Backprop on your digit", and /backprop_step
    mine = mine if mine is not None else gr.State([])
    my_digits.build(canvas, corrections, mine)  # "My digits": a set of the visitor's own, /my_digits_*
    mistakes.build(cnn_path, mine)  # "The mistakes": confusion matrices, /mistakes
    # /classify for API users: the Sketchpad value, as before. Not on the page (the canvas above
    # is faster); the full ten-digit Label is its first output.
    sketchpad = raw_pictures.Sketchpad(visible=False, layers=False, transforms=(), format="png", elem_id="draw-sketchpad")
    full_label = gr.Label(visible=False)

    page = [label, verdict, primer_label, primer_verdict, model_view, looked, news, seen]
    # No queue: a reading is one POST, with no join / stream / status round trips, and it runs at
    # once on the server's thread pool, never behind another visitor. The ONNX sessions are shared
    # and thread-safe. "always_last": while one reading is on its way, only the newest strokes wait.
    live = dict(show_progress="hidden", trigger_mode="always_last", queue=False)
    canvas.change(classify_strokes, [canvas, cnn_path], page, api_name="classify_strokes", **live)
    # While the pen moves the page reads for itself and shows it with no server call (js-only).
    canvas.submit(None, None, page[:4], js=pad.SHOW_HERE, show_progress="hidden", queue=False)
    # Once the pen stays up, a page that reads but cannot make the saliency asks only for the 28x28
    # state and the saliency as numbers, then draws the views and the announcement itself
    # (SHOW_VIEWS): no pictures encoded.
    heat = gr.JSON(None, visible=False, elem_id="draw-heat")
    canvas.input(look_strokes, [canvas, cnn_path], [seen, heat], js=pad.LOOKING, api_name="look_strokes",
                 api_visibility="undocumented", **live).then(None, heat, news, js=SHOW_VIEWS, show_progress="hidden", queue=False)
    # ...and where the page made the saliency too, it shows the views with no server call at all;
    # the server hears the strokes only while a view that follows `seen` is open (queued, so that
    # the state's change event fires).
    canvas.edit(None, None, news, js=SHOW_MADE, show_progress="hidden", queue=False)
    canvas.blur(pad.seen_from, [canvas, seen], seen, js=pad.TELLING, api_visibility="private", show_progress="hidden",
                trigger_mode="always_last")
    # This visitor's own CNN (Train -> use it), served to their page so it reads with it too.
    own = gr.JSON(None, visible=False, elem_id="draw-own-model")
    cnn_path.change(lambda path: browser_model(path, own), cnn_path, own, api_visibility="private", show_progress="hidden",
                    queue=False).then(None, own, None, js="(model) => { window.digitLabCanvas?.useModel(model); return []; }")
    upload.change(classify_upload, [upload, cnn_path], page, api_name="classify_upload", js=pad.UPLOADED, **live)
    sketchpad.change(classify, [sketchpad, cnn_path], [full_label, verdict, model_view, looked, seen], api_name="classify", **live)
    undo.click(None, None, None, js=pad.call("undo"))
    # Clear wipes the strokes (the canvas then asks for the blank reading) and the upload, in the page.
    clear.click(None, upload, upload, js=pad.CLEAR)
    pen.change(None, pen, None, js=pad.call("setPen"))
    # The server's 28x28 is made from the strokes only now, where the page read them itself.
    correct.click(pad.seen_from, [canvas, seen], seen, js=pad.behind(0), api_visibility="private", show_progress="hidden", queue=False) \
        .then(add_correction, [right_digit, seen, corrections], [corrections, correction_status], api_name="correct")
    page_link.register("draw", pen=pen)  # a link sets it (tabs/link.py)
    return seen


# The server's saliency -> the two views drawn in the page, into the gr.Image's <img> (as the Generate
# tab's picture), and the announcement as the live region's value; nothing when the strokes changed since.
PAINT = """if (!made) return {__type__: 'update'};
  for (const [id, src] of [['draw-seen', made.seen], ['draw-looked', made.looked]]) {
    const img = document.querySelector(`#${id} img`);
    if (img) img.src = src;
  }
  return made.news;"""
SHOW_VIEWS = f"""async (answer) => {{
  const made = await window.digitLabCanvas?.views(answer).catch(() => null);
  {PAINT}
}}"""
# The views the page made itself, saliency included (tabs/draw/canvas.js look), the same way.
SHOW_MADE = f"""() => {{
  const made = window.digitLabCanvas?.madeViews();
  {PAINT}
}}"""
# The reading, announced: the live region is on the page from the start (a region that appears with
# its text is often not read out); only its text changes.
NEWS = '<p role="status" aria-live="polite" class="reading-news">${value}</p>'
# The announcement is for screen readers only: out of sight, not out of the accessibility tree.
HIDDEN_CSS = """
.reading-news { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
                overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
"""
