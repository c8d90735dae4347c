"""The Draw tab's canvas: a plain HTML <canvas> of our own (Gradio 6's gr.HTML with js_on_load)
that draws in the browser and sends the server only the strokes, a few hundred numbers as JSON
(tabs/draw/canvas.js), never pictures. inference/strokes.py redraws them for the CNN.

Why not gr.Sketchpad (measured in headless Chromium, tests/test_draw_browser.py): after each stroke
it renders and uploads three PNGs, and again on every status update of a queued event; the label
settled 0.7-1.1 s after the pen lifted, while the model needs about 5 ms. This canvas is ready to
draw at once (no tool to pick), follows the pen (a reading every THROTTLE ms while it moves) and
settles one small POST after the pen lifts.

While the pen moves the page reads the strokes itself (static/draw_reader.js: the same preparation
ported to JavaScript, both CNNs in onnxruntime-web) and shows the readings through a js-only event
(`SHOW_HERE`); once the pen stays up (SETTLE_MS after the last stroke) it makes the saliency and the
views too, and the server hears the strokes only when a view needs its 28x28 (`behind`, `seen_from`).
Where that cannot run, the server reads as before.
"""
from pathlib import Path

import gradio as gr

from inference.strokes import prepare_strokes

CANVAS = 280  # canvas units a side: what the strokes are measured in, on any screen (10x MNIST's 28)
SIDE = 340  # the canvas's box on a desktop, CSS pixels (a phone's narrower column shrinks it)
PENS = (10, 18, 28)  # the pen widths offered, in canvas units (thin, medium, bold)
PEN = PENS[1]
THROTTLE_MS = 120  # while the pen moves, at most one reading this often
# Where the page reads for itself: the server's pen-up reading waits this long for the pen to stay
# up (a visitor's pause between two strokes of one digit is shorter), so a digit costs one.
SETTLE_MS = 300

JS = (Path(__file__).with_name("canvas.js")).read_text(encoding="utf-8")

TEMPLATE = (
    '<canvas class="pad" role="img" aria-label="${label}" aria-describedby="${describedby}"'
    ' width="${size}" height="${size}"></canvas>'
)
# Theme colours only (Gradio's own variables): the paper is the page's background, the ink its text.
CSS = """
.pad { display: block; width: 100%; max-width: ${side}px; aspect-ratio: 1 / 1; margin: 0 auto;
       touch-action: none; cursor: crosshair; user-select: none; -webkit-user-select: none;
       background: var(--background-fill-primary); color: var(--body-text-color);
       border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); }
"""


def strokes_canvas(label, describedby: str, elem_id: str = "draw-canvas", reader: dict | None = None) -> gr.HTML:
    """The canvas component. Its value (a JSON string of strokes) is the input of the page's
    /classify_strokes; `label` (translated) is the canvas's accessible name, `describedby` the id
    of the text that says how to draw and where the keyboard's way in is. `reader` (see
    reader_props) lets the page read while the pen moves; None leaves every reading to the server."""
    return gr.HTML(
        "",
        label=label,
        html_template=TEMPLATE,
        css_template=CSS,
        js_on_load=JS,
        elem_id=elem_id,
        apply_default_css=False,
        size=CANVAS,
        side=SIDE,
        pen=PEN,
        throttle=THROTTLE_MS,
        settle=SETTLE_MS,
        describedby=describedby,
        reader=reader,
    )


def reader_props(static_dir: str, ours: str, primer: str | None, words: dict) -> dict:
    """What the page's reader needs: where its scripts are and the two CNNs' files, as the server
    names them (absolute paths, served by Gradio's static paths), and its words in every language."""
    return {"static_dir": static_dir, "models": {"ours": ours, "primer": primer}, "words": words}


# The js-only event that shows a reading the page made (no server call): the four outputs' values.
SHOW_HERE = "() => window.digitLabCanvas.pageReading()"


# The 'input' event's js (a page that reads): the strokes it asks the server to look at, and the CNN's state.
LOOKING = "(value, cnn) => [window.digitLabCanvas.lookingAt(), cnn]"


# The 'blur' event's js (a page that made the views itself, telling the server for a view that
# follows the `seen` state): the strokes, and the state itself.
TELLING = "(value, seen) => [window.digitLabCanvas.lookingAt(), seen]"


# Clear, with no server call of its own: the canvas's strokes and the upload beside it (the event's one
# input and output). An empty upload is left alone: setting it to null again fires its change event,
# a full blank reading on the server (/classify_upload) that Clear does not need.
CLEAR = "(upload) => { window.digitLabCanvas?.clear(); return upload == null ? {__type__: 'update'} : null; }"


# An upload's reading sets the server's 28x28 (the `seen` state): the canvas's strokes are not behind it.
UPLOADED = "(...inputs) => { window.digitLabCanvas?.told(); return inputs; }"


def with_strokes(position: int) -> str:
    """JS for another event that reads the canvas (the backprop view): its input at `position` made
    the page's strokes as they are now. A page that reads for itself never sets the canvas's value
    (that would ask the server for the full reading), so the value alone may be stale."""
    return f"(...inputs) => {{ const now = window.digitLabCanvas?.strokesNow(); if (now) inputs[{position}] = now; return inputs; }}"


def behind(position: int, need: str | None = None) -> str:
    """JS for an event whose view reads the server's 28x28 (the `seen` state): its input at
    `position` becomes the canvas's strokes when that state was made from others (a page that
    reads for itself tells the server nothing while no view needs it), else null. `need` names a
    view opening: while it is open, the pen staying up tells the server the strokes."""
    opening = f"c?.need({need!r}, true); " if need else ""
    return f"(...inputs) => {{ const c = window.digitLabCanvas; {opening}inputs[{position}] = c?.strokesBehind() ?? null; return inputs; }}"


def opening(need: str) -> str:
    """JS for the expand of a view that follows the `seen` state: while it is open, the pen staying up tells the server."""
    return f"(...inputs) => {{ window.digitLabCanvas?.need({need!r}, true); return inputs; }}"


def closing(need: str) -> str:
    """JS for its collapse: the pen staying up need not tell the server for it any more."""
    return f"(...inputs) => {{ window.digitLabCanvas?.need({need!r}, false); return inputs; }}"


def seen_from(strokes, seen):
    """The `seen` state from the strokes `behind` handed over (None when blank), or `seen` as it
    is when it handed none. No model runs: only the 28x28 is made."""
    if not strokes:
        return seen
    steps = prepare_strokes(strokes)
    return None if steps.blank else steps.image


def call(method: str) -> str:
    """Client-side JS for a button or radio event: call the canvas's `method` (no server call)."""
    return f"(...inputs) => {{ window.digitLabCanvas?.{method}(...inputs); return []; }}"
