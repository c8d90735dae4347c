"""Digit Lab: draw a digit for a CNN to read, steer a conditional GAN, and train both live.

The Blocks and their wiring only: what each tab shows comes from plain functions in inference/
(serving, numpy and onnxruntime) and training/ (torch, imported when a run starts). Every word on
the page comes from locales/ (English and Chinese), translated in the browser by gr.I18n."""
import os
from pathlib import Path

import gradio as gr

from locales import browser_i18n, ui
from tabs import generate, gradio_fixes  # noqa: F401 (gradio_fixes patches on import)
from tabs.draw import tab as draw
from tabs.train import tab as train
from tabs import board as class_board
from tabs import keep
from tabs import link as page_link
from tabs.theme import digit_lab_theme
from visitors import checks

checks.word_gradio_refusals()  # an input Gradio cannot read is refused in words, not a bare error

# The page's own scripts, the vendored onnxruntime-web (static/onnxruntime-web/README.md) and the
# shipped models, served by the app itself at /gradio_api/file=static/... and file=exports/...: the
# page runs the same .onnx files in the visitor's browser, and a Space needs no CDN for any of it.
STATIC, EXPORTS = Path(__file__).with_name("static"), Path(__file__).with_name("exports")
gr.set_static_paths([STATIC, EXPORTS])

# Uploads and served copies of visitors' models are deleted from Gradio's cache two hours after they
# were written (checked every 30 minutes), so the disk cannot fill with them.
with gr.Blocks(title="Digit Lab", delete_cache=(1800, 7200)) as demo:
    gr.Markdown(ui("app.title"))
    visitor, kept_notice = keep.build()  # the browser's key to what it made, and what came back or is gone
    # This visitor's own models, once a Train run has swapped one in: paths to .onnx files, or None
    # for the shipped ones. The corrections are (28x28 image, digit) pairs from "That's wrong".
    # These five are kept under the browser's key (tabs/keep.py), so neither other visitors pushing
    # this session out of Gradio's table nor a reload of the page loses them.
    cnn_path = gr.State(None)
    gan_path = gr.State(None)
    corrections = gr.State([])
    mine = gr.State([])  # this visitor's own digit set, the same (image, digit) pairs (tabs/draw/my_digits.py)
    runs = gr.State([])  # this visitor's finished runs (tabs/train/my_runs.py)
    page_link.top()  # a lesson's task, and what a link could not set
    with gr.Tabs() as tabs:
        with gr.Tab(ui("app.tab.draw"), id="draw"):
            draw.build(cnn_path, corrections, mine)
            page_link.copy_button("draw")
        with gr.Tab(ui("app.tab.generate"), id="generate"):
            generate.build(gan_path, cnn_path)
            page_link.copy_button("generate")
        with gr.Tab(ui("app.tab.train"), id="train") as train_tab:
            runs_views = train.build(cnn_path, gan_path, corrections, runs, mine)
            page_link.lesson_panel()
            page_link.copy_button("train")
        with gr.Tab(ui("board.title"), id="class"):
            class_board.build()
    page_link.wire(tabs, gan_path)  # the page's state from its link, and each tab's Copy link
    keep.wire(demo, visitor, kept_notice, dict(cnn_path=cnn_path, gan_path=gan_path, corrections=corrections, mine=mine, runs=runs),
              train_tab, runs_views)

# Gradio keeps every visitor's session (a copy of each component's config, ~190 KiB here) until
# 10,000 have come; the 200 most recently active (DIGIT_LAB_SESSIONS) are plenty for a Space and keep
# memory flat (benchmarks/soak.py), and what a visitor made is not in that table alone
# (tabs/keep.py). Uploads past 20 MB are refused by Gradio before we see them. Gradio's run
# history is off unless GRADIO_RUN_HISTORY=True: it would keep every reading of the canvas (several
# a second while the pen moves) in the visitor's localStorage, re-serialising up to 100 of them each
# time, half the page's work while drawing (benchmarks/pen_input.py), and keep their drawings there.
LAUNCH_SETTINGS = dict(i18n=browser_i18n(), theme=digit_lab_theme(), state_session_capacity=int(os.environ.get("DIGIT_LAB_SESSIONS") or 200),
                       max_file_size="20mb",
                       run_history=os.environ.get("GRADIO_RUN_HISTORY", "False").lower() == "true")


def _launch(*args, **kwargs):
    """demo.launch() with Digit Lab's settings, whoever calls it: `python app.py` below, or a host
    (as Spaces may) that imports this file and launches `demo` itself. Gradio's own launch is looked
    up at call time, so a wrapper spaces puts on it (its ZeroGPU start-up report) still runs. The
    rate limits' gate (visitors/gate.py) goes first among the app's middleware, a fresh dict each
    launch (Gradio writes its lifespan into the one it is given)."""
    from starlette.middleware import Middleware

    from visitors.gate import Gate

    settings = {**LAUNCH_SETTINGS, **kwargs}
    app_kwargs = dict(settings.get("app_kwargs") or {})
    app_kwargs["middleware"] = [Middleware(Gate), *app_kwargs.get("middleware", [])]
    return gr.Blocks.launch(demo, *args, **{**settings, "app_kwargs": app_kwargs})


demo.launch = _launch

if __name__ == "__main__":
    demo.launch()
