"""The Draw tab: draw (or upload) a digit, the CNN reads it live, shows the 28x28 it saw, where it
looked, and says so honestly when it is not sure. "That's wrong, it's a ..." keeps the sketch as a
correction for this session only (the Train tab can fine-tune on them; nothing is written to disk).

Why the canvas is set up the way it is (where the time went, measured in headless Chromium with
tests/test_draw_browser.py, in Gradio 6.31's Sketchpad frontend):
- After each stroke the browser renders the background, the stroke layer and the composite to PNGs
  (WebGL readPixels + encode) and uploads them, and does it again on every get_data call: for the
  event's inputs, for its target, and for every loading-status update of any queued event (about
  13 renders and 39 PNG uploads per stroke with a queued live event). So:
  - the canvas is small (CANVAS px a side, 9x MNIST's 28): each render costs its pixels x 3;
  - its box on the page is small (SIDE px): without a GPU (headless, or software WebGL) every
    animation frame and read-back costs in proportion to the box; a full-width, 460 px tall box
    took up to 4 s here just to follow a stroke;
  - the live event skips the queue: one POST and no status updates, so about 5 renders a stroke.
- Gradio's Sketchpad opens asking the visitor to "select the draw tool". ARM_BRUSH (a few lines of
  page JS, no server call) presses the brush whenever that prompt shows: on load, after Clear and
  after the canvas's own bin. Opening the canvas with a background image would also arm the brush,
  but then the editor drops the first stroke's change event and (with a layer) logs errors.
- Ink is read from the stroke layer's alpha, so the light and the dark theme read the same (the
  Sketchpad's paper is white in both; the pen is black).
"""
import logging

import gradio as gr
import numpy as np
from PIL import Image

from inference.classifier import read, saliency_on_strokes
from inference.preprocess import prepare
from inference.sessions import ModelUnavailable
from tabs import inside

CANVAS = 252  # canvas pixels a side (see the module docstring)
SIDE = 340  # the canvas's box on the page, in CSS pixels: big enough for a finger, small enough to render fast
PEN = 16  # default pen diameter in canvas pixels: an MNIST-like stroke for a digit drawn large
VIEW = 168  # pixels a side for the 28x28 shown to the visitor (6x, nearest: the pixels stay square)
DIGITS = [str(d) for d in range(10)]
MAX_CORRECTIONS = 500  # per session, in memory: enough to fine-tune on, bounded against abuse

log = logging.getLogger(__name__)

# Gradio's Sketchpad opens (and comes back from Clear or its bin) asking the visitor to "select the
# draw tool". This presses the brush whenever that prompt (.empty.wrap) shows; the brush is the
# first tool button (its aria-label is translated, so it is found by place).
PRESS_BIN = """() => { document.querySelector('#draw-canvas button[aria-label="Clear canvas"]')?.click(); }"""
ARM_BRUSH = """
() => {
  const arm = () => {
    const pad = document.querySelector('#draw-canvas');
    if (pad && pad.querySelector('.empty.wrap')) pad.querySelector('.half-container button')?.click();
  };
  const watch = () => {
    const pad = document.querySelector('#draw-canvas');
    if (!pad) return setTimeout(watch, 100);
    new MutationObserver(arm).observe(pad, {childList: true, subtree: true});
    arm();
  };
  watch();
}
"""


def _seen_view(image: np.ndarray) -> np.ndarray:
    """The 28x28 as the model sees it (white ink on black), enlarged with square pixels."""
    pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(pixels).resize((VIEW, VIEW), Image.Resampling.NEAREST))


def classify(value, cnn_path: str | None = None):
    """Sketchpad value or image -> (gr.Label dict, verdict markdown, 28x28 view, saliency overlay,
    the 28x28 itself for "That's wrong"). Never raises: bad input gets a message."""
    try:
        steps = prepare(value)
        if steps.blank:
            return {}, f"**{steps.message}**", None, None, None
        reading, heat = read(steps, cnn_path)
    except ModelUnavailable as error:
        return {}, f"**The digit model is not available.** {error}", None, None, None
    except Exception as error:  # the last guard: a visitor sees a sentence, the log the traceback
        log.exception("classify failed")
        return {}, f"**Could not read that** ({type(error).__name__}). Try drawing again.", None, None, None
    if reading.not_sure:
        verdict = f"### Not sure\n{reading.reason} (Best guess: **{reading.digit}**, {reading.confidence:.0%}.)"
    else:
        verdict = f"### It's a **{reading.digit}** ({reading.confidence:.0%} sure)"
    return reading.label(), verdict, _seen_view(steps.image), saliency_on_strokes(steps, heat), steps.image


def add_correction(digit, seen, corrections):
    """Append (the 28x28 the model saw, the right digit) to this session's corrections."""
    corrections = list(corrections or [])
    if seen is None:
        return corrections, "Draw or upload a digit first."
    if str(digit) not in DIGITS:
        return corrections, "Pick the right digit first."
    if len(corrections) >= MAX_CORRECTIONS:
        return corrections, f"This session already holds {MAX_CORRECTIONS} corrections, the most it keeps."
    corrections.append((np.asarray(seen, np.float32).copy(), int(digit)))
    count = len(corrections)
    return corrections, f"Thanks: {count} correction{'s' if count != 1 else ''} this session (kept in memory only). The Train tab can fine-tune on them."


def build(cnn_path: gr.State, corrections: gr.State) -> None:
    seen = gr.State(None)  # the last 28x28 the model read, for "That's wrong"
    with gr.Row(equal_height=False):
        with gr.Column(scale=0, min_width=SIDE):
            canvas = gr.Sketchpad(
                label="Draw a digit",
                canvas_size=(CANVAS, CANVAS),
                height=SIDE,
                width=SIDE,
                brush=gr.Brush(default_size=PEN, colors=["#000000"], color_mode="fixed"),
                eraser=gr.Eraser(default_size=2 * PEN),
                layers=False,
                transforms=(),
                format="png",
                elem_id="draw-canvas",
            )
            clear = gr.Button("Clear", elem_id="draw-clear")
            # Folded, so that on a phone (one column) the reading follows the canvas and Clear at once.
            with gr.Accordion("...or upload a picture of a digit", open=False, elem_id="draw-upload-box"):
                upload = gr.Image(
                    show_label=False,
                    sources=["upload", "clipboard"],
                    type="numpy",
                    image_mode=None,  # keep the alpha of a transparent PNG: it says where the ink is
                    height=150,
                    width=SIDE,
                    elem_id="draw-upload",
                )
        with gr.Column(scale=1, min_width=300):
            label = gr.Label(label="What the CNN reads", elem_id="draw-label")
            verdict = gr.Markdown("Draw a digit: the CNN reads it as you go.", elem_id="draw-verdict")
            with gr.Row():
                model_view = gr.Image(label="The 28x28 it saw", height=VIEW + 40, interactive=False, format="png")
                looked = gr.Image(label="Where it looked", height=VIEW + 40, interactive=False, format="png")
            gr.Markdown("Orange strokes made it say its digit, blue ones argued against, grey ones did not matter.")
            with gr.Row():
                right_digit = gr.Radio(DIGITS, label="That's wrong, it's a ...", elem_id="draw-right-digit")
            correct = gr.Button("Keep it as a correction", elem_id="draw-correct")
            correction_status = gr.Markdown("", elem_id="draw-corrections")
    inside.build(seen, cnn_path)  # "Inside the CNN" (H5): every stage of the model for the digit it just read

    outputs = [label, verdict, model_view, looked, seen]
    # No queue: a live update is one POST, with no join / stream / status round trips (each status
    # update also makes the browser re-render and re-upload the canvas), and it runs at once on the
    # server's thread pool, never behind another visitor. The ONNX session is shared and thread-safe.
    live = dict(show_progress="hidden", trigger_mode="always_last", queue=False)
    canvas.change(classify, [canvas, cnn_path], outputs, api_name="classify", **live)
    upload.change(classify, [upload, cnn_path], outputs, api_name="classify_upload", **live)
    gr.on(None, None, None, None, js=ARM_BRUSH)  # on page load, client-side only
    # Clear presses the Sketchpad's own bin: setting its value to None from the server works only
    # once (the second None is no change to the page), the bin every time, and its change event
    # then clears the reading.
    clear.click(lambda: None, None, upload, api_name="clear_canvas", show_progress="hidden", queue=False, js=PRESS_BIN)
    correct.click(add_correction, [right_digit, seen, corrections], [corrections, correction_status], api_name="correct")
