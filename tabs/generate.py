"""The Generate tab: steer the conditional GAN with sliders that mean something.

Pick a digit, a seed and a truncation; the sliders move the latent along the principal directions
the export found (named from what they measurably do), each with a strip beside it showing -3..+3
sd before you drag. The CNN from the Draw tab says what it reads in the result. `/sample` (digit,
seed) is the plain API: same inputs, same image.
"""
import gradio as gr
import numpy as np

from inference import generator as gen
from inference.sessions import ModelUnavailable

DEFAULT_DIGIT, DEFAULT_SEED = 7, 42
ABOUT_SLIDERS = (
    "At export, thousands of latents (all ten digits) went through the generator's first layer; PCA of "
    "those activations (centred per digit, so the components describe style, not class) gave the "
    "directions it varies most, carried back to the latent by least squares, GANSpace-style. Each "
    "is named after the shape measure (ink, slant, width, height, position) it clearly moves most, "
    "or called \"style\" when none dominates, and offered only if the project's CNN still reads the "
    "asked-for digit in at least 90% of 2 sd moves."
)
# Pixel art: the browser must not smooth the upscaled digits when it fits them to a column.
# The generated digit stays in view while the visitor scrolls through the sliders that steer it. On a
# phone the two columns stack: the digit then goes first, small, with its one-line verdict.
CSS = (
    ".crisp img { image-rendering: pixelated; }"
    " .gradio-container { overflow: clip visible !important; }"  # hidden would stop the sticky column
    " #generate-output { position: sticky; top: 0; align-self: flex-start; z-index: 100; background: var(--background-fill-primary); }"
    " @media (max-width: 640px) {"
    " #generate-output { order: -1; }"
    " #generate-output .block.crisp { height: 150px !important; }"
    " #generate-reads { display: none; } }"
)
INJECT_CSS = (
    "if (!document.getElementById('digit-lab-generate')) { const s = document.createElement('style');"
    f" s.id = 'digit-lab-generate'; s.textContent = '{CSS}'; document.head.appendChild(s); }}"
)
LIVE = dict(trigger_mode="always_last", show_progress="hidden", concurrency_limit=None)  # no waiting behind other visitors
# Gradio's own preprocessing turns a NaN or text seed into an error without a message; skipping it
# hands the raw values to inference.generator's clean_* functions, which clamp or say what is wrong.
RAW = dict(preprocess=False)


def _slider_values(values) -> list[float]:
    return [gen.clean_slider(v) for v in values]


def slider_specs(gan_path) -> tuple[str, list[tuple[str, str]], str]:
    """(what is missing, or ""; a (name, info) per offered direction; a table of their measured
    figures) for this visitor's generator."""
    try:
        model = gen.load(gan_path)
    except ModelUnavailable as error:
        return f"**No generator to show.** {error}", [], ""
    specs = [(d.name, f"+ means {d.description}") for d in model.directions]
    table = "\n".join(
        ["| slider | + means | mean pixel change at ±2 sd | CNN still reads the digit at ±2 sd |", "|---|---|---|---|"]
        + [f"| {d.name} | {d.description} | {_figure(d.mean_pixel_change, '.3f')} | {_figure(d.class_kept, '.0%')} |" for d in model.directions]
    ) if model.directions else ""
    return (f"**No sliders.** {model.directions_problem}" if model.directions_problem else ""), specs, table


def _figure(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def controls(gan_path):
    """Updates for the status line, each slider slot's row (shown or hidden), each slider (its
    name and what it does, back at 0) and the table of the sliders' figures."""
    problem, specs, table = slider_specs(gan_path)
    rows = [gr.Row(visible=k < len(specs)) for k in range(gen.MAX_SLIDERS)]
    sliders = [
        gr.Slider(value=0, label=specs[k][0], info=specs[k][1]) if k < len(specs) else gr.Slider(value=0)
        for k in range(gen.MAX_SLIDERS)
    ]
    return [gr.Markdown(value=problem, visible=bool(problem)), *rows, *sliders, table]


def show(digit, seed, truncation, *rest):
    """The live update: (large crisp image, the CNN's probabilities, its verdict in words).
    rest = slider values..., gan_path, cnn_path."""
    *values, gan_path, cnn_path = rest
    try:
        image = gen.sample(digit, seed, truncation, _slider_values(values), gan_path)
    except ModelUnavailable:
        return None, None, ""  # the status line already says what is missing
    except ValueError as error:
        raise gr.Error(str(error))
    try:
        probabilities, sentence = gen.verdict(image, gen.clean_digit(digit), cnn_path)
    except ModelUnavailable as error:
        probabilities, sentence = None, f"No verdict: {error}"
    return gen.upscale(image), probabilities, sentence


def previews(digit, seed, truncation, *rest):
    """The slower update, after a slider is released or the digit/seed/truncation change: each
    direction's -3..+3 strip from the current latent, and this style as all ten digits."""
    *values, gan_path = rest
    empty = [None] * (gen.MAX_SLIDERS + 1)
    try:
        strips = gen.preview_strips(digit, seed, truncation, _slider_values(values), gan_path)
        grid = gen.digit_grid(seed, truncation, _slider_values(values), gan_path)
    except ModelUnavailable:
        return empty
    except ValueError as error:
        raise gr.Error(str(error))
    images = [gen.strip(s) for s in strips] + [None] * (gen.MAX_SLIDERS - len(strips))
    return [*images, gen.strip(grid, factor=4)]


def sample(digit, seed, gan_path=None):
    """/sample: digit (0-9) and seed (>= 0) -> the generated 28x28 image (truncation 1, no
    sliders); same inputs, same image."""
    try:
        return gen.upscale(gen.sample(digit, seed, gan_path=gan_path), factor=1)
    except (ModelUnavailable, ValueError) as error:
        raise gr.Error(str(error))


def interpolation(digit_a, seed_a, digit_b, seed_b, frames, truncation, gan_path=None):
    """(a strip of the frames, an animated GIF of them) from (digit_a, seed_a) to (digit_b, seed_b)."""
    try:
        images = gen.interpolate((digit_a, seed_a), (digit_b, seed_b), frames, truncation, gan_path)
    except (ModelUnavailable, ValueError) as error:
        raise gr.Error(str(error))
    return gen.strip(images), gen.gif(images)


def _new_seed() -> int:
    return int(np.random.default_rng().integers(0, 1_000_000))


def build(gan_path: gr.State, cnn_path: gr.State) -> None:
    problem, specs, table = slider_specs(None)  # the shipped model's; refreshed on load and on a model swap
    gr.Markdown(
        "Pick a digit and a seed; the sliders steer the generator's latent along the directions it "
        "varies most (found by PCA of its first layer, GANSpace-style), named after what they "
        "measurably change. The strip beside each slider previews it from -3 to +3 standard deviations."
    )
    gr.HTML(visible="hidden", js_on_load=INJECT_CSS)
    status = gr.Markdown(value=problem, visible=bool(problem))
    with gr.Row():
        with gr.Column(scale=3):
            digit = gr.Radio(list(range(10)), value=DEFAULT_DIGIT, label="Digit")
            with gr.Row():
                seed = gr.Number(value=DEFAULT_SEED, precision=0, minimum=0, label="Seed", scale=2)
                reroll = gr.Button("New seed", scale=1)
            truncation = gr.Slider(*gen.TRUNCATION_RANGE, value=gen.DEFAULT_TRUNCATION, step=0.05, label="Truncation",
                                   info="Scales the latent: lower gives more typical digits, higher more unusual ones.")
            rows, sliders, strips = [], [], []
            for k in range(gen.MAX_SLIDERS):
                name, info = specs[k] if k < len(specs) else (f"direction {k + 1}", None)
                with gr.Row(visible=k < len(specs), equal_height=True) as row:
                    sliders.append(gr.Slider(-gen.SLIDER_LIMIT, gen.SLIDER_LIMIT, value=0, step=0.1, scale=2, label=name, info=info))
                    strips.append(gr.Image(label="-3 to +3 sd", show_label=False, interactive=False, buttons=[],
                                           container=False, scale=3, min_width=300, format="png", elem_classes="crisp"))
                rows.append(row)
            reset = gr.Button("Reset sliders", size="sm")
            with gr.Accordion("How the sliders were found and measured", open=False):
                gr.Markdown(ABOUT_SLIDERS)
                figures = gr.Markdown(table)
        with gr.Column(scale=2, elem_id="generate-output"):
            image = gr.Image(label="Generated", interactive=False, format="png", height=300, buttons=["download"], elem_classes="crisp")
            verdict_text = gr.Markdown()
            verdict = gr.Label(num_top_classes=3, label="What the CNN reads", show_label=True, elem_id="generate-reads")
    with gr.Accordion("The same style as all ten digits", open=True):
        grid = gr.Image(show_label=False, interactive=False, format="png", buttons=[], container=False, elem_classes="crisp")
    with gr.Accordion("Interpolation", open=False):
        gr.Markdown("From one (digit, seed) to another along the arc between the two latents. The digit is a "
                    "discrete input of the generator, so between two digits the style flows and the class switches halfway.")
        with gr.Row():
            digit_a = gr.Radio(list(range(10)), value=DEFAULT_DIGIT, label="From digit")
            seed_a = gr.Number(value=DEFAULT_SEED, precision=0, minimum=0, label="From seed")
            digit_b = gr.Radio(list(range(10)), value=DEFAULT_DIGIT, label="To digit")
            seed_b = gr.Number(value=DEFAULT_SEED + 1, precision=0, minimum=0, label="To seed")
            frames = gr.Slider(3, 16, value=9, step=1, label="Frames")
        go = gr.Button("Interpolate")
        with gr.Row():
            interpolation_strip = gr.Image(label="Frames", show_label=False, interactive=False, format="png", buttons=[],
                                           scale=3, elem_classes="crisp")
            interpolation_gif = gr.Image(label="Animation", type="filepath", interactive=False, format="gif", buttons=["download"],
                                         scale=1, height=200, elem_classes="crisp")
    # /sample: the plain API endpoint of DESIGN.md, on hidden components so the UI stays uncluttered.
    with gr.Row(visible=False):
        sample_digit = gr.Number(precision=0, minimum=0, maximum=9, label="digit")
        sample_seed = gr.Number(precision=0, minimum=0, label="seed")
        sample_image = gr.Image(label="image", format="png", image_mode="L")
        sample_button = gr.Button("sample")
    sample_button.click(sample, [sample_digit, sample_seed, gan_path], sample_image, api_name="sample", concurrency_limit=None, **RAW)

    live_inputs = [digit, seed, truncation, *sliders]
    show_event = dict(fn=show, inputs=[*live_inputs, gan_path, cnn_path], outputs=[image, verdict, verdict_text], **RAW)
    preview_event = dict(fn=previews, inputs=[*live_inputs, gan_path], outputs=[*strips, grid], **RAW)

    # While a slider moves only the image and verdict follow (a few ms); strips and grid follow on release.
    gr.on([s.input for s in sliders] + [truncation.input, digit.change, seed.change, cnn_path.change],
          api_name="show", **show_event, **LIVE)
    gr.on([s.release for s in sliders] + [truncation.release, digit.change, seed.change],
          api_name="previews", **preview_event, **LIVE)
    reroll.click(_new_seed, None, seed, api_name="new_seed", show_progress="hidden")
    reset.click(lambda: [0.0] * gen.MAX_SLIDERS, None, sliders, api_name="reset_sliders", show_progress="hidden") \
        .then(api_name="show_after_reset", api_visibility="private", **show_event, **LIVE) \
        .then(api_name="previews_after_reset", api_visibility="private", **preview_event, **LIVE)
    # On page load and whenever this visitor's generator is swapped (Train tab): its sliders, then a fresh render.
    gr.on(None, controls, [gan_path], [status, *rows, *sliders, figures], api_name="sliders", api_visibility="private", show_progress="hidden") \
        .then(api_name="show_after_swap", api_visibility="private", **show_event, **LIVE) \
        .then(api_name="previews_after_swap", api_visibility="private", **preview_event, **LIVE)
    go.click(interpolation, [digit_a, seed_a, digit_b, seed_b, frames, truncation, gan_path],
             [interpolation_strip, interpolation_gif], api_name="interpolate", concurrency_limit=None, **RAW)
