"""The bare framework, for comparison: Digit Lab's components on the same endpoint names, with the
same settings, wired to functions that do nothing but return constants of the same kinds and sizes.
What Digit Lab costs beyond this app is ours; the rest is Gradio's.

- /classify: the Draw tab's Sketchpad (same canvas, brush, format, live-event settings) -> the same
  outputs (a Label, a Markdown, two 168 px images, a 28x28 for the session state);
- /show: the Generate tab's digit, seed, truncation and six direction sliders -> the same outputs
  (a 280 px image, a Label, a Markdown), raw values as ours takes them (preprocess=False).

Keep the settings in step with tabs/draw/tab.py and tabs/generate.py when they change.

    GRADIO_SERVER_PORT=7861 python benchmarks/bare_app.py
"""
import itertools

import gradio as gr
import numpy as np

CANVAS, SIDE, PEN, VIEW, SLIDERS = 252, 340, 16, 168, 6  # tabs/draw/tab.py CANVAS, SIDE, PEN, VIEW; inference/generator.py MAX_SLIDERS
LIVE = dict(trigger_mode="always_last", show_progress="hidden", concurrency_limit=None)  # tabs/generate.py LIVE
DRAW_LIVE = dict(show_progress="hidden", trigger_mode="always_last", queue=False)  # tabs/draw/tab.py `live`

PROBABILITIES = {str(d): 0.1 for d in range(10)}
VIEW_IMAGE = np.zeros((VIEW, VIEW), dtype=np.uint8)
SEEN = np.zeros((28, 28), dtype=np.float32)
GENERATED = np.zeros((280, 280), dtype=np.uint8)


CALLS = itertools.count()


def stamped(image: np.ndarray) -> np.ndarray:
    """The constant image with the call's number in its first pixels. Gradio writes each output
    image to a cache file named by its hash, non-atomically; identical images from concurrent calls
    race on one file and a download can find it empty. Real answers differ, so these do too."""
    image = image.copy()
    image.flat[:8] = np.frombuffer(next(CALLS).to_bytes(8, "little"), dtype=np.uint8)
    return image


def classify(sketch, cnn_path=None):
    return PROBABILITIES, "### It's a **1** (10% sure)", stamped(VIEW_IMAGE), stamped(VIEW_IMAGE), SEEN


def show(*values):
    return stamped(GENERATED), PROBABILITIES, "It reads as a 7."


with gr.Blocks(title="Bare Gradio") as demo:
    gr.Markdown("# Bare Gradio\nDigit Lab's components, wired to do-nothing functions.")
    cnn_path, gan_path = gr.State(None), gr.State(None)
    with gr.Tab("Draw"):
        seen = gr.State(None)
        canvas = gr.Sketchpad(
            label="Draw a digit", canvas_size=(CANVAS, CANVAS), height=SIDE, width=SIDE,
            brush=gr.Brush(default_size=PEN, colors=["#000000"], color_mode="fixed"),
            eraser=gr.Eraser(default_size=2 * PEN), layers=False, transforms=(), format="png",
        )
        label = gr.Label(label="What the CNN reads")
        verdict = gr.Markdown()
        model_view = gr.Image(label="The 28x28 it saw", interactive=False, format="png")
        looked = gr.Image(label="Where it looked", interactive=False, format="png")
        canvas.change(classify, [canvas, cnn_path], [label, verdict, model_view, looked, seen], api_name="classify", **DRAW_LIVE)
    with gr.Tab("Generate"):
        digit = gr.Radio(list(range(10)), value=7, label="Digit")
        seed = gr.Number(value=42, precision=0, minimum=0, label="Seed")
        truncation = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation")
        sliders = [gr.Slider(-3, 3, value=0, step=0.1, label=f"direction {k + 1}") for k in range(SLIDERS)]
        image = gr.Image(label="Generated", interactive=False, format="png", height=300)
        reads = gr.Label(num_top_classes=3, label="What the CNN reads")
        reads_text = gr.Markdown()
        gr.on([s.input for s in sliders] + [truncation.input, digit.change, seed.change], show,
              [digit, seed, truncation, *sliders, gan_path, cnn_path], [image, reads, reads_text],
              api_name="show", preprocess=False, **LIVE)

if __name__ == "__main__":
    demo.launch()
