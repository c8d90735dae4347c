"""Backprop on your digit: under the Draw tab's reading, beside Inside the CNN, a closed accordion
that shows how the CNN would learn from the digit on the canvas: the primer's loss function
(cross-entropy, -log p(digit)) with its value, each layer's gradient (a bar a layer, input side
first), a chosen filter of the first layer with its gradient dL/dw beside its weights, the
gradient on the 28x28 itself, and a gradient-descent button with a learning-rate
slider that steps a copy of the model (never the served one); pressing again keeps stepping that
copy, Reset starts again from the served model.

/backprop_step is the same for API clients: strokes JSON (as /classify_strokes), digit, learning
rate, steps and which CNN; each call starts from the served model; its last output is a JSON.

Torch: the gradients come from training/backprop.py, imported when the view is first opened (or the
API first called), as a training run imports it; nothing here imports torch at start-up, and
nothing is computed while the accordion is closed. Every word comes from locales/ (`backprop.*`).
"""
import base64
import html
import logging
import math
import numbers
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

import locales
from inference import inside
from inference.sessions import shipped
from inference.strokes import prepare_strokes
from locales import ui
from tabs.draw import canvas as canvas_js
from tabs.draw.inside import model_path
from visitors import limits

MAX_STEPS = 20  # a call's steps: bounded, so one request costs at most ~0.2 s
MAX_RATE = 1.0  # learning rates in (0, 1], as the training knobs (knobs.error.lr)
PAGE_MAX_RATE = 0.1  # the page's slider
VIEW = 168  # pixels a side for the 28x28 (6x, square pixels), as the Draw tab's views
MODELS = ("lab", "seed")
DIGITS = [str(d) for d in range(10)]
NOTHING = np.zeros((VIEW, VIEW, 3), np.uint8)  # the picture before there is one: never an empty image box
READING = "read"  # the digit choice that means "the digit the CNN reads"
FILTERS = 32  # the first layer's filters in both architectures (a visitor's own model says its own count)
FILTER_VIEW = 84  # pixels a side for a 3x3 filter

log = logging.getLogger(__name__)


class Refused(locales.Explained, ValueError):
    """A /backprop_step input out of range; nothing was computed."""


def _whole(value) -> int | None:
    """An int from an int, a whole float or a digit string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def check(digit, rate, steps, which) -> tuple[int | None, float, int, str]:
    """The inputs as numbers, or Refused saying which is out of range."""
    if digit is None or digit == "" or digit == READING:
        target = None
    else:
        target = _whole(digit)
        if target is None or not 0 <= target <= 9:
            raise Refused("backprop.error.digit", value=repr(digit))
    try:
        lr = float(rate)
    except (TypeError, ValueError):
        lr = math.nan
    if isinstance(rate, bool) or not (0 < lr <= MAX_RATE):
        raise Refused("backprop.error.rate", value=repr(rate), most=MAX_RATE)
    count = _whole(steps)
    if count is None or not 1 <= count <= MAX_STEPS:
        raise Refused("backprop.error.steps", value=repr(steps), most=MAX_STEPS)
    if (which or "lab") not in MODELS:
        raise Refused("backprop.error.model", value=repr(which), choices=", ".join(MODELS))
    return target, lr, count, which or "lab"


def filter_number(value) -> int:
    """The filter choice as an int >= 0, or Refused (beyond the model's own filters: NoSuchFilter)."""
    number = _whole(value)
    if number is None or number < 0:
        raise Refused("backprop.error.filter", value=repr(value), most=FILTERS - 1)
    return number


def served_path(which: str, cnn_path) -> str:
    """The .onnx file of the CNN that reads the canvas: this session's, else the shipped one."""
    return model_path(which, cnn_path) or str(shipped("cnn"))


def _number(value: float) -> str:
    return f"{value:.4g}"


def _weight(value: float) -> str:
    """A weight to six figures: one step at a small learning rate moves it in the fifth."""
    return f"{value:.6g}"


def _loss(value: float) -> str:
    """A loss is never below 0; float32 rounding can say -1e-8 when p rounds to 1."""
    return _number(max(value, 0.0) + 0.0)  # + 0.0: no "-0"


def words(found, lang: str, stepped_so_far: int = 0) -> str:
    """The loss line, the probabilities before and after, and one weight's update (Markdown)."""
    say = locales.words(lang)
    w = found.weight
    lines = [say("backprop.loss", digit=found.digit, probability=_number(found.probability_before), loss=_loss(found.loss_before))]
    if found.steps:
        first = w["before"] - found.learning_rate * w["gradient"]
        lines.append(say("backprop.after", steps=found.steps, rate=_number(found.learning_rate), digit=found.digit,
                         before=f"{found.probability_before:.2%}", after=f"{found.probability_after:.2%}",
                         loss_before=_loss(found.loss_before), loss_after=_loss(found.loss_after)))
        lines.append(say("backprop.weight", name=w["name"], index=", ".join(map(str, w["index"])), before=_weight(w["before"]),
                         gradient=_number(w["gradient"]), rate=_number(found.learning_rate), first=_weight(first),
                         steps=found.steps, after=_weight(w["after"])))
    else:
        lines.append(say("backprop.weight.gradient", name=w["name"], index=", ".join(map(str, w["index"])),
                         before=_weight(w["before"]), gradient=_number(w["gradient"])))
    lines.append(say("backprop.copy", count=stepped_so_far) if stepped_so_far else say("backprop.served"))
    return "\n\n".join(lines)


def layers_html(found, lang: str) -> str:
    """One bar a layer (input side first), its length the layer's gradient norm over the largest."""
    say = locales.words(lang)
    top = max((norm for _, norm in found.layers), default=0.0) or 1.0
    rows = []
    for number, (layer, norm) in enumerate(found.layers, 1):
        name = f"{number}. {say('inside.stage.' + layer.kind)} ({'x'.join(map(str, layer.shape))})"
        width = max(1.0, 100 * norm / top)
        rows.append(f"<tr><th scope='row'>{html.escape(name)}</th><td>{norm:.3g}</td>"
                    f"<td class='bar'><span style='width:{width:.1f}%'></span></td></tr>")
    return ("<style>#backprop-layers table{border-collapse:collapse;width:100%}#backprop-layers th,#backprop-layers td{padding:1px 6px;text-align:left;font-weight:normal}"
            "#backprop-layers td{white-space:nowrap}#backprop-layers td.bar{width:45%}#backprop-layers td.bar span{display:block;height:0.9em;background:#ffa028}</style>"
            f"<table><caption>{html.escape(say('backprop.layers.caption'))}</caption>"
            f"<tr><th scope='col'>{html.escape(say('backprop.layers.layer'))}</th><th scope='col' colspan='2'>‖dL/dw‖</th></tr>"
            + "".join(rows) + "</table>")


def _kernel_figure(values: np.ndarray, title: str, alt_key: str, lang: str, **names) -> str:
    """A k x k kernel as a small coloured picture (orange positive, blue negative, its own scale),
    its numbers in a table under it, and the numbers again in the picture's text alternative."""
    rows = [[float(v) for v in row] for row in values]
    said = "; ".join(", ".join(f"{v:.3g}" for v in row) for row in rows)
    rgb = inside.enlarge(inside.colour(np.asarray(values, np.float32)), FILTER_VIEW)
    image = base64.b64encode(inside.png(rgb)).decode("ascii")
    alt = locales.text(alt_key, lang, numbers=said, **names)
    table = "".join("<tr>" + "".join(f"<td>{v:.3g}</td>" for v in row) + "</tr>" for row in rows)
    return (f"<figure><figcaption>{html.escape(title)}</figcaption>"
            f'<img src="data:image/png;base64,{image}" width="{FILTER_VIEW}" height="{FILTER_VIEW}" alt="{html.escape(alt, quote=True)}">'
            f"<table aria-hidden='true'>{table}</table></figure>")


def filter_html(found, lang: str) -> str:
    """The chosen filter of the first layer: its weights and its gradient dL/dw side by side (of its
    first input channel: the first layer reads the one channel of the 28x28)."""
    say = locales.words(lang)
    chosen = found.filter
    names = dict(layer=chosen["layer"], index=chosen["index"])
    weights = _kernel_figure(chosen["weights"][0], say("backprop.filter.weights"), "backprop.filter.weights.alt", lang, **names)
    gradient = _kernel_figure(chosen["gradient"][0], say("backprop.filter.gradient"), "backprop.filter.gradient.alt", lang, **names)
    return ("<style>#backprop-filter .pair{display:flex;flex-wrap:wrap;gap:16px}#backprop-filter figure{margin:0}"
            "#backprop-filter img{image-rendering:pixelated;display:block}"
            "#backprop-filter td{padding:0 4px;font-size:0.85em;text-align:right;font-variant-numeric:tabular-nums}</style>"
            f"<p>{html.escape(say('backprop.filter.caption', count=chosen['count'], **names))}</p>"
            f"<div class='pair'>{weights}{gradient}</div>")


def gradient_picture(image: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The 28x28 in grey with -dL/dx over it: orange where more ink lowers the loss, blue where less does."""
    descent = -np.asarray(gradient, np.float32)
    coloured = inside.colour(descent, float(np.abs(descent).max()) or 1.0).astype(np.float32)
    grey = np.clip(np.asarray(image, np.float32), 0, 1)[..., None] * 90
    rgb = np.clip(grey + coloured, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).resize((VIEW, VIEW), Image.Resampling.NEAREST))


def compute(strokes, digit, rate, steps, which, cnn_path, start=None, lang: str = locales.DEFAULT, look_only=False,
            filter_index=0):
    """(Descent or None, a sentence when there is nothing to compute, the 28x28 the copy saw).
    `look_only`: the gradients without a step. Raises Refused."""
    target, lr, count, which = check(digit, rate, steps, which)
    chosen = filter_number(filter_index)
    prepared = prepare_strokes(strokes)
    say = locales.words(lang)
    if prepared.reason == "draw.reason.unreadable":
        return None, say("draw.reason.unreadable"), None
    if prepared.blank:
        return None, say("backprop.empty"), None
    from training import backprop  # torch: imported on first use, never at start-up

    path = served_path(which, cnn_path)
    try:
        found = backprop.descend(path, prepared.image, target, lr, 0 if look_only else count, start=start, filter_index=chosen)
    except FileNotFoundError:
        return None, say("backprop.missing", file=Path(path).name), None
    except (backprop.CopyRefused, backprop.NoSuchFilter) as error:
        return None, error.say(lang), None
    return found, "", prepared.image


def _refuse(error: Refused, lang: str):
    raise gr.Error(error.say(lang), print_exception=False, title=locales.text("common.error", lang)) from None


def backprop_step(strokes, digit, learning_rate, steps, model="lab", filter=0, cnn_path=None, request: gr.Request = None):
    """/backprop_step: (the answer in words, Markdown; the JSON: loss_before, loss_after,
    probability_before, probability_after of the digit, layers [{name, gradient_norm}, ...] input
    side first, the first layer's filter `filter` with its weights and gradient, and more). Always
    from the served model. Out-of-range inputs: gr.Error in words."""
    lang = locales.language(request)
    try:
        check(digit, learning_rate, steps, model)
        filter_number(filter)
    except Refused as error:
        _refuse(error, lang)
    limits.guard(request, "backprop", lang)  # after the checks: a refused value costs nothing to count
    try:
        found, message, _ = compute(strokes, digit, learning_rate, steps, model, cnn_path, lang=lang, filter_index=filter)
    except Refused as error:
        _refuse(error, lang)
    except Exception as error:  # the last guard: a sentence for the client, the traceback for the log
        log.exception("backprop failed")
        found, message = None, locales.text("backprop.failed", lang, error=type(error).__name__)
    if found is None:
        return message, {"message": message}
    return words(found, lang), found.summary()


def _copy_of(stepped, which, cnn_path):
    """This session's stepped copy, if it is of the model now chosen: (weights or None, steps taken)."""
    if stepped and stepped.get("model") == served_path(which, cnn_path):
        return stepped["weights"], stepped["count"]
    return None, 0


def _shown(strokes, digit, rate, steps, which, cnn_path, stepped, lang, look_only, filter_index=0):
    """The open view's outputs: (words, layer bars, gradient picture, the stepped copy's new state,
    the chosen filter's weights and gradient)."""
    weights, count = _copy_of(stepped, which, cnn_path)
    try:
        found, message, image = compute(strokes, digit, rate, steps, which, cnn_path, weights, lang, look_only, filter_index)
    except Refused as error:
        return f"**{error.say(lang)}**", "", NOTHING, gr.skip(), ""
    except Exception as error:
        log.exception("backprop failed")
        return f"**{locales.text('backprop.failed', lang, error=type(error).__name__)}**", "", NOTHING, gr.skip(), ""
    if found is None:
        return f"**{message}**", "", NOTHING, gr.skip(), ""
    state = gr.skip()
    if not look_only:
        count += found.steps
        state = {"model": served_path(which, cnn_path), "weights": found.weights, "count": count}
    return (words(found, lang, count), layers_html(found, lang), gradient_picture(image, found.input_gradient), state,
            filter_html(found, lang))


def look(strokes, digit, rate, which, cnn_path, stepped, filter_index=0, request: gr.Request = None):
    """The gradients for the canvas as it is, no step (on this session's stepped copy if any):
    (words, layer bars, gradient picture, the chosen filter)."""
    if not getattr(prepare_strokes(strokes), "lifted", True):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()  # the pen is still moving
    said, bars, picture, _, chosen = _shown(strokes, digit, rate, 1, which, cnn_path, stepped, locales.language(request),
                                            look_only=True, filter_index=filter_index)
    return said, bars, picture, chosen


def step(strokes, digit, rate, steps, which, cnn_path, stepped, filter_index=0, request: gr.Request = None):
    """The button: `steps` steps on this session's copy (from the served model after a reset):
    (words, layer bars, gradient picture, the copy's state, the chosen filter)."""
    return _shown(strokes, digit, rate, steps, which, cnn_path, stepped, locales.language(request), look_only=False,
                  filter_index=filter_index)


def build(canvas, seen, cnn_path: gr.State) -> None:
    """The accordion and its wiring, and /backprop_step. `canvas` is the Draw tab's strokes canvas,
    `seen` its 28x28: it changes once a reading is made with the pen lifted (not with every move)."""
    opened = gr.State(False)
    stepped = gr.State(None, time_to_live=900)  # this session's stepped copy: its weights, for 15 minutes
    with gr.Accordion(ui("backprop.title"), open=False, elem_id="backprop") as box:
        gr.Markdown(ui("backprop.intro"))
        with gr.Row():
            which = gr.Radio([(ui("inside.model.lab"), "lab"), (ui("inside.model.seed"), "seed")], value="lab",
                             label=ui("inside.model"), elem_id="backprop-model")
            digit = gr.Radio([(ui("backprop.digit.reading"), READING), *DIGITS], value=READING, label=ui("backprop.digit"),
                             elem_id="backprop-digit")
        with gr.Row():
            # On one digit a step moves a lot: at 0.01 Digit Lab's CNN goes from p 0.7% to 26% for a
            # wrong target, at 0.1 to 100%; the slider covers the useful part, the API up to MAX_RATE.
            rate = gr.Slider(0.0001, PAGE_MAX_RATE, value=0.001, step=0.0001, label=ui("backprop.rate"), elem_id="backprop-rate")
            steps = gr.Slider(1, MAX_STEPS, value=1, step=1, label=ui("backprop.steps"), elem_id="backprop-steps")
        with gr.Row():
            go = gr.Button(ui("backprop.step"), variant="primary", elem_id="backprop-step")
            reset = gr.Button(ui("backprop.reset"), elem_id="backprop-reset")
        said = gr.Markdown(elem_id="backprop-words")
        with gr.Row(equal_height=False):  # side by side on a desktop, one under the other on a phone
            with gr.Column(min_width=320):
                bars = gr.HTML(elem_id="backprop-layers")
            with gr.Column(min_width=VIEW + 20):
                pushed = gr.Image(NOTHING, label=ui("backprop.input_gradient"), alt_text=ui("backprop.input_gradient.alt"), height=VIEW + 40,
                                  min_width=140, buttons=[], interactive=False, format="png", elem_id="backprop-input-gradient")
        gr.Markdown(ui("backprop.input_gradient.legend"))
        chosen_filter = gr.Slider(0, FILTERS - 1, value=0, step=1, label=ui("backprop.filter"), info=ui("backprop.filter.info"),
                                  elem_id="backprop-filter-choice")
        filter_view = gr.HTML(elem_id="backprop-filter")
        # /backprop_step for API clients: a button never shown, so the page's own button can keep
        # stepping this session's copy while every API call starts from the served model.
        api_trigger = gr.Button(visible=False)
        result = gr.JSON(visible=False)

    shown = [said, bars, pushed, filter_view]
    looking = [canvas, digit, rate, which, cnn_path, stepped, chosen_filter]
    quiet = dict(show_progress="hidden", trigger_mode="always_last")
    # The canvas's strokes as the page has them (a page that reads for itself leaves its value unset).
    now, now_after_opened = canvas_js.with_strokes(0), canvas_js.with_strokes(1)

    # Named, not *inputs: Gradio hands a request only to a positional parameter annotated gr.Request.
    def if_open(is_open, strokes, digit, rate, which, cnn_path, stepped, filter_index, request: gr.Request):
        if not is_open:
            return [gr.skip()] * len(shown)
        return look(strokes, digit, rate, which, cnn_path, stepped, filter_index, request=request)

    # While open, its `seen.change` must fire: the page that reads for itself tells the server at each pen-up.
    box.expand(lambda: True, None, opened, js=canvas_js.opening("backprop"), queue=False, api_visibility="private") \
        .then(look, looking, shown, api_visibility="private", js=now, **quiet)
    box.collapse(lambda: False, None, opened, js=canvas_js.closing("backprop"), queue=False, api_visibility="private")
    gr.on([seen.change, digit.change, which.change, cnn_path.change, chosen_filter.release], if_open, [opened, *looking], shown,
          api_visibility="private", js=now_after_opened, **quiet)
    go.click(step, [canvas, digit, rate, steps, which, cnn_path, stepped, chosen_filter], [said, bars, pushed, stepped, filter_view],
             api_visibility="private", js=now, **quiet)
    reset.click(lambda: None, None, stepped, queue=False, api_visibility="private").then(look, looking, shown, api_visibility="private",
                                                                                         js=now, **quiet)
    api_trigger.click(backprop_step, [canvas, digit, rate, steps, which, chosen_filter, cnn_path], [said, result], api_name="backprop_step",
                      preprocess=False, queue=False)  # one POST, on the server's thread pool, as /classify_strokes
