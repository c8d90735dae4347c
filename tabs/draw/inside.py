"""Inside the CNN: under the Draw tab's reading, a closed accordion that shows, for the digit the
model just read, every stage of the network: the 28x28 input, each convolution block's feature
maps (every channel) before and after the activation and after pooling, the feature vector, the
ten logits and the softmax, one line under each in the primer's terms. Choosing a feature map
shows the filter weights that made it.

Nothing is computed while the accordion is closed. The stages come from the model's layers
companion (inference/inside.py), so the primer's CNN and a visitor's own model are shown as
they are built. Every word comes from locales/ (`inside.*`).
"""
import base64
import html

import gradio as gr
import numpy as np

import locales
from inference import inside
from inference.sessions import PRIMER_CNN, ModelUnavailable, shipped
from locales import ui
from tabs.draw import canvas as pad
from tabs import link as page_link
from visitors import checks

TILE_TARGET_SMALL, TILE_TARGET_LARGE = 48, 26  # CSS pixels a map, for up to 32 maps and for more
CELL = 16  # CSS pixels a number of a vector
STYLE = ("<style>#inside-stages figure{margin:0 12px 12px 0;display:inline-block;vertical-align:top;max-width:100%}"
         "#inside-stages img{image-rendering:pixelated;max-width:100%;height:auto;border:1px solid #555}"
         "#inside-stages figcaption{max-width:34em;font-size:0.9em}"
         "#inside-stages table{border-collapse:collapse}#inside-stages td,#inside-stages th{padding:1px 8px;text-align:right}</style>")


MODELS = ("lab", "seed")  # Digit Lab's CNN and the primer's
MAX_CHANNEL = 4095  # no layer of a CNN here has more maps; the stage's own count is checked in `choose`


def model_path(which: str, cnn_path):
    """The CNN the view shows: Digit Lab's (this session's, else the shipped one) or the primer's."""
    return str(shipped(PRIMER_CNN)) if which == "seed" else cnn_path


def _img(rgb: np.ndarray, width: int, alt: str) -> str:
    data = base64.b64encode(inside.png(rgb)).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" width="{width}" alt="{html.escape(alt, quote=True)}">'


def _figure(rgb, width, alt, caption) -> str:
    return f"<figure>{_img(rgb, width, alt)}<figcaption>{caption}</figcaption></figure>"


def _shape_words(stage: inside.Stage, say) -> str:
    if stage.is_map:
        c, h, w = stage.shape
        return say("inside.shape.maps", count=c, size=f"{h}x{w}")
    return say("inside.shape.vector", count=stage.shape[0])


def stage_line(stage: inside.Stage, layers: inside.Layers, say) -> str:
    """One line in the primer's terms: what this stage did."""
    kind = stage.kind
    if kind == "activation":
        key = f"inside.does.activation.{stage.function}" if stage.function in ("relu", "sigmoid", "tanh") else "inside.does.activation.other"
        return say(key)
    if kind == "pool":
        size = "x".join(str(k) for k in stage.kernel) or "2x2"
        return say("inside.does.pool.max" if stage.pool == "max" else "inside.does.pool.average", size=size)
    if kind == "conv":
        return say("inside.does.conv", size="x".join(str(k) for k in stage.kernel))
    if kind == "depthwise":
        return say("inside.does.depthwise", size="x".join(str(k) for k in stage.kernel))
    if kind == "pointwise":
        return say("inside.does.pointwise", count=stage.in_channels)
    if kind == "dense":
        return say("inside.does.dense", count=stage.shape[0])
    if kind == "features":
        after = say(f"inside.does.features_after.{stage.function}") if stage.function in ("relu", "sigmoid", "tanh") else ""
        return say("inside.does.features", count=stage.shape[0], after=after).strip()
    return say("inside.does.logits")


def stage_title(stage: inside.Stage, say) -> str:
    if stage.kind == "activation":
        name = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}.get(stage.function, stage.function or "")
        return say("inside.stage.activation", name=name)
    return say(f"inside.stage.{stage.kind}")


def block_title(number: int, stages: list, say) -> str:
    kinds = {s.kind for s in stages}
    if "depthwise" in kinds and "pointwise" in kinds:
        return say("inside.block.separable", number=number)
    if kinds & {"conv", "depthwise", "pointwise"}:
        return say("inside.block.conv", number=number)
    return say("inside.block.dense")


def _display_width(stage: inside.Stage, picture: np.ndarray) -> int:
    if stage.is_map:
        channels, height = stage.shape[0], stage.shape[1]
        target = TILE_TARGET_SMALL if channels <= 32 else TILE_TARGET_LARGE
        return picture.shape[1] * max(1, round(target / height))
    return picture.shape[1] * CELL


def stages_html(image: np.ndarray, layers: inside.Layers, values: dict, lang: str) -> str:
    """The whole way through the network as HTML: a section a block, a figure a stage."""
    say = locales.words(lang)
    parts = [STYLE, f"<h4>{html.escape(say('inside.input.title'))}</h4>",
             _figure(inside.colour(np.asarray(image, np.float32), 1.0), 28 * 5, say("inside.input.alt"), html.escape(say("inside.input.does")))]
    number = 0
    for block, stages in layers.blocks():
        shown = [s for s in stages if s.kind not in ("features", "logits")]
        if shown:
            number += 1 if {s.kind for s in shown} & {"conv", "depthwise", "pointwise"} else 0
            parts.append(f"<h4>{html.escape(block_title(number, shown, say))}</h4>")
        for stage in stages:
            if stage.kind == "logits":
                continue
            picture = inside.stage_picture(values[stage.name])
            title = stage_title(stage, say)
            alt = say("inside.alt", stage=title, shape=_shape_words(stage, say))
            if stage.kind == "features":
                parts.append(f"<h4>{html.escape(say('inside.stage.features'))}</h4>")
            caption = f"<b>{html.escape(title)}</b> ({html.escape(_shape_words(stage, say))}): {html.escape(stage_line(stage, layers, say))}"
            parts.append(_figure(picture, _display_width(stage, picture), alt, caption))
    logits = values[layers.stages[-1].name]
    probabilities = inside.softmax(logits)
    rows = "".join(f"<tr><th scope='row'>{d}</th><td>{v:+.2f}</td><td>{p:.1%}</td></tr>" for d, (v, p) in enumerate(zip(logits, probabilities)))
    parts.append(f"<h4>{html.escape(say('inside.stage.logits'))}</h4><p>{html.escape(say('inside.does.logits'))}</p>"
                 f"<table><caption>{html.escape(say('inside.table.caption'))}</caption><tr><th scope='col'>{html.escape(say('inside.table.digit'))}</th>"
                 f"<th scope='col'>{html.escape(say('inside.table.logit'))}</th><th scope='col'>{html.escape(say('inside.table.softmax'))}</th></tr>{rows}</table>")
    parts.append(f"<p>{html.escape(say('inside.colours'))}</p>")
    return "<div>" + "".join(parts) + "</div>"


def stage_choices(layers: inside.Layers, say) -> list[tuple[str, str]]:
    return [(f"{stage_title(s, say)} {k}: {_shape_words(s, say)}", s.name)
            for k, s in enumerate([s for s in layers.stages if s.kind in inside.CONVOLUTIONS], 1)]


def filter_view(stage: inside.Stage, values: np.ndarray, channel: int, lang: str):
    """(the chosen map, its filter as a picture, a line that says what the filter does)."""
    say = locales.words(lang)
    found = inside.filter_of(stage, channel)
    chosen = inside.enlarge(inside.colour(values[found.channel]), 168)
    picture = inside.filter_picture(found)
    if found.kind == "pointwise":
        top = ", ".join(f"{found.mix[i]:+.2f} x {i}" for i in found.strongest)
        line = say("inside.filter.pointwise", channel=found.channel, count=found.mix.size, top=top)
    elif found.kind == "depthwise":
        numbers = "; ".join(" ".join(f"{v:+.2f}" for v in row) for row in found.kernels[0])
        line = say("inside.filter.depthwise", channel=found.channel, numbers=numbers)
    elif found.kernels.shape[0] == 1:
        numbers = "; ".join(" ".join(f"{v:+.2f}" for v in row) for row in found.kernels[0])
        line = say("inside.filter.conv_one", channel=found.channel, numbers=numbers)
    else:
        line = say("inside.filter.conv_many", channel=found.channel, count=found.kernels.shape[0])
    return chosen, picture, line


def _unavailable(error: ModelUnavailable, lang: str) -> str:
    return f"<p><b>{html.escape(error.say(lang))}</b></p>"


def view(image, which, cnn_path, request: gr.Request = None):
    """Everything the open accordion shows for the 28x28 `image` (None: nothing drawn yet):
    (the stages' HTML, the stage choice, the map choice, the chosen map, its filter, its line)."""
    lang = locales.language(request)
    say = locales.words(lang)
    empty = (gr.Dropdown(choices=[], value=None), gr.Slider(maximum=1, value=0), None, None, "")
    if image is None:
        return (f"<p>{html.escape(say('inside.empty'))}</p>", *empty)
    try:
        layers, values = inside.run(image, model_path(which, cnn_path))
    except ModelUnavailable as error:
        return (_unavailable(error, lang), *empty)
    choices = stage_choices(layers, say)
    first = layers.stage(choices[0][1])
    channel = inside.most_active(values[first.name], 1)[0]
    chosen, picture, line = filter_view(first, values[first.name], channel, lang)
    return (stages_html(image, layers, values, lang), gr.Dropdown(choices=choices, value=first.name),
            gr.Slider(maximum=first.shape[0] - 1, value=channel), chosen, picture, line)


def choose(image, which, cnn_path, stage_name, channel, request: gr.Request = None):
    """A chosen stage and map number -> (the map, its filter, its line)."""
    lang = locales.language(request)
    checks.text(stage_name, "stage_name", lang)
    if image is None or not stage_name:
        return None, None, ""
    try:
        layers, values = inside.run(image, model_path(which, cnn_path))
        stage = layers.stage(stage_name)
    except (ModelUnavailable, StopIteration):
        return None, None, ""
    channel = checks.number(channel, "channel", lang, low=0, high=stage.shape[0] - 1, whole=True, default=0)
    return filter_view(stage, values[stage.name], channel, lang)


def pick_stage(image, which, cnn_path, stage_name, request: gr.Request = None):
    """A new stage: its most active map, with the map slider's range set to its channels."""
    if image is None or not stage_name:
        return gr.Slider(), None, None, ""
    try:
        layers, values = inside.run(image, model_path(which, cnn_path))
        stage = layers.stage(stage_name)
    except (ModelUnavailable, StopIteration):
        return gr.Slider(), None, None, ""
    channel = inside.most_active(values[stage.name], 1)[0]
    return (gr.Slider(maximum=stage.shape[0] - 1, value=channel), *filter_view(stage, values[stage.name], channel, locales.language(request)))


def build(seen: gr.State, cnn_path: gr.State, canvas: gr.HTML | None = None) -> None:
    """The accordion and its wiring. `canvas`: the Draw tab's strokes canvas, whose page may have read
    them itself: opening hands the server its strokes, and while open the pen staying up does."""
    opened = gr.State(False)
    with gr.Accordion(ui("inside.title"), open=False, elem_id="inside") as box:
        gr.Markdown(ui("inside.intro"))
        which = gr.Radio([(ui("inside.model.lab"), "lab"), (ui("inside.model.seed"), "seed")], value="lab",
                         label=ui("inside.model"), elem_id="inside-model")
        stages = gr.HTML(elem_id="inside-stages")
        gr.Markdown(ui("inside.choose_intro"))
        with gr.Row():
            stage = gr.Dropdown(choices=[], label=ui("inside.pick_stage"), elem_id="inside-stage")
            channel = gr.Slider(0, 1, value=0, step=1, label=ui("inside.pick_map"), elem_id="inside-channel")
        with gr.Row():
            chosen = gr.Image(label=ui("inside.chosen_map"), alt_text=ui("inside.chosen_map"), interactive=False, format="png", height=200, buttons=[],
                              elem_classes="crisp", elem_id="inside-map")
            weights = gr.Image(label=ui("inside.chosen_filter"), alt_text=ui("inside.chosen_filter"), interactive=False, format="png", height=200, buttons=[],
                               elem_classes="crisp", elem_id="inside-filter")
        line = gr.Markdown(elem_id="inside-filter-line")

    page_link.register("draw", which=which)  # a link sets it (tabs/link.py)
    outputs = [stages, stage, channel, chosen, weights, line]
    inputs = [seen, which, cnn_path]

    def if_open(is_open, image, which_cnn, path, request: gr.Request):
        return view(image, which_cnn, path, request) if is_open else [gr.skip()] * len(outputs)

    quiet = dict(show_progress="hidden", trigger_mode="always_last")
    if canvas is None:
        opening = box.expand(lambda: True, None, opened, queue=False, api_visibility="private")
    else:
        opening = box.expand(lambda strokes, image: (True, pad.seen_from(strokes, image)), [canvas, seen], [opened, seen],
                             js=pad.behind(0, "inside"), queue=False, api_visibility="private")
    opening.then(view, inputs, outputs, api_name="inside", **quiet)
    box.collapse(lambda: False, None, opened, js=pad.closing("inside"), queue=False, api_visibility="private")
    gr.on([seen.change, which.change, cnn_path.change], if_open, [opened, *inputs], outputs, api_visibility="private", **quiet)
    stage.input(pick_stage, [*inputs, stage], [channel, chosen, weights, line], api_visibility="private", **quiet)
    # Checked before it joins the queue (this event's concurrency is one at a time, for everyone).
    valid = checks.validator(image=None, which=lambda v, lang: checks.choice(v, "which", lang, MODELS, default="lab"),
                             cnn_path=None, stage_name=lambda v, lang: checks.text(v, "stage_name", lang),
                             channel=lambda v, lang: checks.number(v, "channel", lang, low=0, high=MAX_CHANNEL, whole=True, default=0))
    channel.release(choose, [*inputs, stage, channel], [chosen, weights, line], api_name="inside_filter", validator=valid, **quiet)
