"""The mistakes: a closed accordion on the Draw tab with two CNNs' confusion matrices side by side
(Digit Lab's as this visitor has it, the primer's, or Digit Lab's as shipped: a run's before and
after) on mnist-5k's held-out digits or on the visitor's own (inference/mistakes.py, onnxruntime
only). Rows are the true digit, columns the reading; choosing a cell shows the digits read that way,
each with the model's probabilities and where it looked (occlusion saliency, as the Draw tab's).

/mistakes(model, data) is the same for API clients: the JSON of inference.mistakes.mistakes. A model
or data set that does not exist, or an empty set: gr.Error in words, in the caller's language.
"""
import base64
import html
import logging

import gradio as gr
import numpy as np

import locales
from inference import classifier, inside, mistakes
from inference.preprocess import Steps
from locales import ui
from tabs.draw.open_radio import OpenRadio

ZOOM = 4  # each 28x28 shown at 112 px (the browser enlarges it, square pixels)
MAX_SHOWN = 24  # digits shown for one cell: each needs its own saliency run (~3 ms)
# The matrix's cells hold up to three digits: with Gradio's own padding eleven columns do not fit a
# phone's width (a 50 showed as "5"), so the cells are tighter here. The digits' pictures are drawn
# with square pixels, framed so the white paper of "where it looked" stands apart from the page.
STYLE = ("<style>#mistakes-box .body-cell .cell-wrap, #mistakes-box .header-cell .cell-wrap{padding:4px 2px;justify-content:center}"
         "#mistakes-box .body-cell, #mistakes-box .header-cell{min-width:0}"
         "#mistakes-digits figure{margin:0 12px 12px 0;display:inline-block;vertical-align:top;width:%dpx}"
         "#mistakes-digits img{image-rendering:pixelated;width:100%%;height:auto;border:1px solid var(--border-color-primary)}"
         "#mistakes-digits figcaption{font-size:var(--text-sm)}</style>") % (57 * ZOOM)

log = logging.getLogger(__name__)


def score(model, data, mine, cnn_path=None, request: gr.Request = None) -> dict:
    """/mistakes: the confusion matrix of `model` ("lab", "seed", "shipped") on `data` ("mnist-5k",
    "mine", "mine-all") as JSON: counts (rows true, columns read), accuracy, per_digit, misread."""
    lang = locales.language(request)
    try:
        return mistakes.mistakes(model, data, mine, cnn_path)
    except locales.Explained as error:  # NoMatrix, or ModelUnavailable for a model file gone
        said = error.say(lang)
    except Exception as error:  # the last guard: a sentence for the caller, the traceback for the log
        log.exception("mistakes failed")
        said = locales.text("mistakes.failed", lang, error=type(error).__name__)
    raise gr.Error(said, print_exception=False, title=locales.text("common.error", lang))


def _percent(value, decimals: int = 1) -> str:
    return "–" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.{decimals}%}"


def words(result: dict | None, lang: str | None) -> str:
    """Markdown: the model, how many it read right, and each digit's accuracy."""
    if not result:
        return ""
    say = locales.words(lang)
    per_digit = " · ".join(f"{d}: {_percent(a, 0)}" for d, a in enumerate(result["per_digit"]))
    return (say("mistakes.summary", model=say(f"mistakes.model.{result['model']}"), accuracy=_percent(result["accuracy"]),
                count=result["count"], wrong=len(result["misread"]), data=say(f"mistakes.data.{result['data']}"))
            + "\n\n" + say("mistakes.per_digit", digits=per_digit))


def table(result: dict | None, lang: str | None) -> dict:
    """gr.Dataframe's value: a row a true digit, a column a reading; the diagonal tinted green by how
    much of its row it holds, a cell off it red by how many it holds."""
    corner = locales.text("mistakes.corner", lang)
    headers = [corner] + [str(d) for d in range(10)]
    if not result:
        return {"headers": headers, "data": [[str(d)] + [""] * 10 for d in range(10)]}
    counts = np.array(result["counts"])
    rows = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    worst = max(1, int((counts - np.diag(np.diag(counts))).max()))
    styling = []
    for t in range(10):
        line = ["font-weight: bold"]
        for r in range(10):
            if t == r:
                line.append(f"background-color: rgba(40, 160, 80, {0.15 + 0.45 * counts[t, r] / rows[t, 0]:.2f})")
            elif counts[t, r]:
                line.append(f"background-color: rgba(220, 60, 40, {0.25 + 0.55 * counts[t, r] / worst:.2f}); font-weight: bold")
            else:
                line.append("")
        styling.append(line)
    data = [[str(t)] + [int(c) for c in counts[t]] for t in range(10)]
    return {"headers": headers, "data": data, "metadata": {"styling": styling, "display_value": None}}


def render(result, request: gr.Request = None):
    lang = locales.language(request)
    return words(result, lang), table(result, lang)


def _looked(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The digit's ink on white, orange where it made the model say its reading, blue where against."""
    grey, hot, cold = np.float32([110, 110, 120]), np.float32([240, 90, 20]), np.float32([40, 110, 230])
    positive, negative = np.clip(heat, 0, 1)[..., None], np.clip(-heat, 0, 1)[..., None]
    colour = grey + positive * (hot - grey) + negative * (cold - grey)
    ink = np.clip(image, 0, 1)[..., None]
    return (255 * (1 - ink) + colour * ink).clip(0, 255).astype(np.uint8)


def picture(image: np.ndarray, model_path: str | None) -> np.ndarray:
    """RGB uint8 [28,57]: the 28x28 as the model saw it (white on black) beside where it looked."""
    _, heat = classifier.read(Steps(ink=image, box=(0, 0, 28, 28), image=image), model_path, saliency=True)
    seen = np.repeat((np.clip(image, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
    return np.concatenate([seen, np.full((28, 1, 3), 255, np.uint8), _looked(image, heat)], axis=1)


def figure(rgb: np.ndarray, words: str) -> str:
    data = base64.b64encode(inside.png(rgb)).decode("ascii")
    text = html.escape(words, quote=True)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def caption(item: dict, lang: str | None) -> str:
    p = item["probabilities"]
    return locales.text("mistakes.caption", lang, index=item["index"], digit=item["digit"], reading=item["reading"],
                        read_p=f"{p[item['reading']]:.0%}", true_p=f"{p[item['digit']]:.0%}")


def open_cell(result, mine, cnn_path, evt: gr.SelectData, request: gr.Request = None):
    """A cell chosen: (words, HTML figures of its digits with their captions)."""
    lang = locales.language(request)
    say = locales.words(lang)
    index = evt.index if isinstance(evt.index, (list, tuple)) else None
    if not result or not index or len(index) != 2 or not 1 <= index[1] <= 10:
        return say("mistakes.cell.pick"), ""
    digit, reading = int(index[0]), int(index[1]) - 1
    count = int(result["counts"][digit][reading])
    if digit == reading:
        return say("mistakes.cell.right", count=count, digit=digit), ""
    found = mistakes.cell(result, digit, reading)
    if not found:
        return say("mistakes.cell.none", digit=digit, reading=reading), ""
    try:
        images, _ = mistakes.data(result["data"], mine)
        if len(images) != result["count"]:
            return say("mistakes.cell.stale"), ""
        path = mistakes.model_path(result["model"], cnn_path)
        shown = "".join(figure(picture(images[m["index"]], path), caption(m, lang)) for m in found[:MAX_SHOWN])
    except locales.Explained as error:
        return error.say(lang), ""
    more = say("mistakes.cell.more", shown=MAX_SHOWN) if len(found) > MAX_SHOWN else ""
    return " ".join(filter(None, [say("mistakes.cell.wrong", count=count, digit=digit, reading=reading), more])), shown


def build(cnn_path: gr.State, mine: gr.State) -> None:
    """The accordion and its wiring; `mine` is the visitor's set (tabs/draw/my_digits.py)."""
    models = [(ui(f"mistakes.model.{name}"), name) for name in mistakes.MODELS]
    with gr.Accordion(ui("mistakes.open"), open=False, elem_id="mistakes-box") as box:
        gr.HTML(STYLE, padding=False, elem_id="mistakes-style")
        gr.Markdown(ui("mistakes.intro"))
        data = OpenRadio([(ui(f"mistakes.data.{name}"), name) for name in mistakes.DATA], value="mnist-5k",
                         label=ui("mistakes.data"), elem_id="mistakes-data")
        sides = []
        with gr.Row(equal_height=False):
            for side, first in (("a", "lab"), ("b", "seed")):
                with gr.Column(min_width=300):
                    model = OpenRadio(models, value=first, label=ui("mistakes.model"), elem_id=f"mistakes-model-{side}")
                    summary = gr.Markdown("", elem_id=f"mistakes-words-{side}")
                    matrix = gr.Dataframe(table(None, None), interactive=False, show_label=False, elem_id=f"mistakes-matrix-{side}",
                                          max_height=520, column_widths=["13%"] + ["8.7%"] * 10)
                    result = gr.JSON(None, visible=False, elem_id=f"mistakes-result-{side}")
                sides.append((side, model, summary, matrix, result))
        gr.Markdown(ui("mistakes.how"), elem_id="mistakes-how")
        cell_words = gr.Markdown("", elem_id="mistakes-cell")
        gallery = gr.HTML("", elem_id="mistakes-digits")
    for side, model, summary, matrix, result in sides:
        # Side a answers /mistakes for API clients; side b is the page's second model.
        api = dict(api_name="mistakes") if side == "a" else dict(api_visibility="private")
        # Remade when the visitor swaps in a run's CNN too ("lab" is then theirs): the matrix never shows a model gone.
        gr.on([box.expand, data.change, model.change, cnn_path.change], score, [model, data, mine, cnn_path], result, **api).success(
            render, result, [summary, matrix], api_visibility="private", show_progress="hidden", queue=False)
        matrix.select(open_cell, [result, mine, cnn_path], [cell_words, gallery], api_visibility="private")
