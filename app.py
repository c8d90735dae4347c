"""Digit Lab: draw a digit for a CNN to read, steer a conditional GAN, and train both live.

The Blocks and their wiring only: what each tab shows comes from plain functions in inference/
(serving, numpy and onnxruntime) and training/ (torch, imported when a run starts). Every word on
the page comes from locales/ (English and Chinese), translated in the browser by gr.I18n."""
import os
from pathlib import Path

import gradio as gr

from locales import browser_i18n, ui
from tabs import draw, generate, gradio_fixes, train  # noqa: F401 (gradio_fixes patches on import)
from tabs.theme import digit_lab_theme

# The page's own scripts, the vendored onnxruntime-web (static/onnxruntime-web/README.md) and the
# shipped models, served by the app itself at /gradio_api/file=static/... and file=exports/...: the
# page runs the same .onnx files in the visitor's browser, and a Space needs no CDN for any of it.
STATIC, EXPORTS = Path(__file__).with_name("static"), Path(__file__).with_name("exports")
gr.set_static_paths([STATIC, EXPORTS])

with gr.Blocks(title="Digit Lab") as demo:
    gr.Markdown(ui("app.title"))
    # This visitor's own models, once a Train run has swapped one in: paths to .onnx files, or None
    # for the shipped ones. The corrections are (28x28 image, digit) pairs from "That's wrong".
    cnn_path = gr.State(None)
    gan_path = gr.State(None)
    corrections = gr.State([])
    with gr.Tab(ui("app.tab.draw"), id="draw"):
        draw.build(cnn_path, corrections)
    with gr.Tab(ui("app.tab.generate"), id="generate"):
        generate.build(gan_path, cnn_path)
    with gr.Tab(ui("app.tab.train"), id="train"):
        train.build(cnn_path, gan_path, corrections)

# Gradio keeps every visitor's session (a copy of each component's config, ~190 KiB here) until
# 10,000 have come; the 200 most recently active are plenty for a Space and keep memory flat
# (benchmarks/soak.py). Uploads past 20 MB are refused by Gradio before we see them. Gradio's run
# history is off unless GRADIO_RUN_HISTORY=True: it would keep every reading of the canvas (several
# a second while the pen moves) in the visitor's localStorage, re-serialising up to 100 of them each
# time, half the page's work while drawing (benchmarks/pen_input.py), and keep their drawings there.
LAUNCH_SETTINGS = dict(i18n=browser_i18n(), theme=digit_lab_theme(), state_session_capacity=200, max_file_size="20mb",
                       run_history=os.environ.get("GRADIO_RUN_HISTORY", "False").lower() == "true")


def _launch(*args, **kwargs):
    """demo.launch() with Digit Lab's settings, whoever calls it: `python app.py` below, or a host
    (as Spaces may) that imports this file and launches `demo` itself. Gradio's own launch is looked
    up at call time, so a wrapper spaces puts on it (its ZeroGPU start-up report) still runs."""
    return gr.Blocks.launch(demo, *args, **{**LAUNCH_SETTINGS, **kwargs})


demo.launch = _launch

if __name__ == "__main__":
    demo.launch()
