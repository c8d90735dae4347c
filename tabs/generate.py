"""The Generate tab: steer the GAN with sliders that mean something.

Pick a digit, a seed and a truncation; the sliders move the latent along the principal directions
the export found (named from what they measurably do), each with a strip beside it showing -3..+3
sd before you drag. The CNN from the Draw tab says what it reads in the result, and the GAN's own
discriminator what it thinks of it (real or generated). An unconditional generator (the primer's)
is not told the digit: the digit choice is switched off and the CNN reads what it drew. `/sample`
(digit, seed) is the plain API: same inputs, same image. Every word comes from locales/.

While a slider is dragged the visitor's browser makes the image (static/generate_web.js, from the
numbers and the model file this tab hands the page); the server answers on release (/show, then
/previews), and while dragging only where the browser cannot.
"""
from pathlib import Path

import gradio as gr
import numpy as np

import locales
from inference import discriminator as critic
from inference import generator as gen
from inference.sessions import ModelUnavailable, shipped
from locales import ui
from tabs import link as page_link

DEFAULT_DIGIT, DEFAULT_SEED = 7, 42
# Pixel art: the browser must not smooth the upscaled digits when it fits them to a column.
# The generated digit stays in view while the visitor scrolls through the sliders that steer it. On a
# phone the two columns stack: the digit then goes first, small, with its one-line verdict.
CSS = (
    ".crisp img { image-rendering: pixelated; }"
    " .gradio-container { overflow: clip visible !important; }"  # hidden would stop the sticky column
    " #generate-output { position: sticky; top: 0; align-self: flex-start; z-index: 100; background: var(--background-fill-primary); }"
    # While the image on screen was drawn in the browser the verdicts are an earlier value's (static/generate_web.js).
    " #generate-output.verdicts-wait :is(#generate-verdict, #generate-reads, #generate-critic) { opacity: 0.5; transition: opacity 0.2s; }"
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
# While a slider is dragged the page makes the image itself (static/generate_web.js, onnxruntime-web on
# the same .onnx): no request per move, so a drag follows the hand whatever the server's load. When
# it cannot (no WebAssembly, a failed load), the script throws and the event's .failure asks /show.
WEB_JS = Path(__file__).resolve().parent.parent / "static" / "generate_web.js"


def _web(call: str) -> str:
    """Client-side JS for an event: import static/generate_web.js (served by the app itself) and `call` it."""
    return ("async (...inputs) => { const root = window.gradio_config?.root ?? '';"
            f" const web = await import(`${{root}}/gradio_api/file={WEB_JS.as_posix()}`); {call}; return []; }}")


FOLLOW, WARM = _web("await web.follow(...inputs)"), _web("web.warm(...inputs)")
# Gradio's own preprocessing turns a NaN or text seed into an error without a message; skipping it
# hands the raw values to inference.generator's clean_* functions, which clamp or say what is wrong.
RAW = dict(preprocess=False)


def _slider_values(values) -> list[float]:
    return [gen.clean_slider(v) for v in values]


def slider_name(direction: gen.Direction, lang: str) -> str:
    """A slider's name in `lang`, from what it measurably does (not from the English words)."""
    say = locales.words(lang)
    if direction.measure:
        name = say(f"generate.measure.{direction.measure}.name")
    else:
        return say("generate.slider.style", number=direction.number or 1)
    return say("generate.slider.numbered", name=name, number=direction.number) if direction.number else name


def slider_info(direction: gen.Direction, lang: str) -> str:
    say = locales.words(lang)
    if direction.measure:
        return say(f"generate.measure.{direction.measure}.does")
    words = [say(f"generate.measure.{m}.{'up' if grows else 'down'}") for m, grows in direction.mix]
    if len(words) < 2:
        return say("generate.slider.mix_unknown")
    return say("generate.slider.mix", first=words[0], second=words[1])


def _figure(value, spec: str, lang: str) -> str:
    return locales.text("generate.figures.none", lang) if value is None else format(value, spec)


def slider_specs(gan_path, lang: str = locales.DEFAULT) -> tuple[str, list[tuple[str, str]], str]:
    """(what is missing, or ""; a (name, info) per offered direction; a table of their measured
    figures) for this visitor's generator, in `lang`."""
    say = locales.words(lang)
    try:
        model = gen.load(gan_path)
    except ModelUnavailable as error:
        return say("generate.no_generator", detail=error.say(lang)), [], ""
    specs = [(slider_name(d, lang), slider_info(d, lang)) for d in model.directions]
    table = "\n".join(
        [say("generate.figures.header"), "|---|---|---|---|"]
        + [f"| {name} | {info} | {_figure(d.mean_pixel_change, '.3f', lang)} | {_figure(d.class_kept, '.0%', lang)} |"
           for (name, info), d in zip(specs, model.directions)]
    ) if model.directions else ""
    problem = say(f"generate.no_sliders.{model.directions_problem}", **dict(model.problem_values)) if model.directions_problem else ""
    if not model.conditional:
        problem = (say("generate.unconditional") + ("\n\n" + problem if problem else ""))
    return problem, specs, table


def controls(gan_path, request: gr.Request = None, event: gr.EventData = None):
    """Updates for the status line, the digit choice (off for an unconditional generator), each
    slider slot's row (shown or hidden), each slider (its name and what it does), each strip's name
    (its alt text) and the table of the sliders' figures, in the visitor's language. The sliders go
    back to 0 when this visitor's generator is swapped (`event` from gan_path's change: the
    directions are another model's); on the page's load they keep where the visitor has already
    moved them."""
    swapped = event is not None and event.target is not None
    lang = locales.language(request)
    problem, specs, table = slider_specs(gan_path, lang)
    try:
        conditional = gen.load(gan_path).conditional
    except ModelUnavailable:
        conditional = True
    rows = [gr.Row(visible=k < len(specs)) for k in range(gen.MAX_SLIDERS)]
    sliders = [
        gr.Slider(**({"value": 0} if swapped else {}), label=specs[k][0], info=specs[k][1]) if k < len(specs) else gr.Slider(value=0)
        for k in range(gen.MAX_SLIDERS)
    ]
    strips = [
        gr.Image(label=(alt := locales.text("generate.strip_alt", lang, name=specs[k][0])), alt_text=alt) if k < len(specs) else gr.Image()
        for k in range(gen.MAX_SLIDERS)
    ]
    grid_label = locales.text("generate.grid" if conditional else "generate.grid_unconditional", lang)
    return [gr.Markdown(value=problem, visible=bool(problem)), gr.Radio(interactive=conditional), *rows, *sliders, *strips,
            gr.Image(label=grid_label, alt_text=grid_label), table]


def verdict_words(found: gen.Verdict, lang: str) -> str:
    say = locales.words(lang)
    if found.asked is None:
        agreement = say("generate.verdict.unconditional")
    elif found.agrees:
        agreement = say("generate.verdict.agrees")
    else:
        agreement = say("generate.verdict.disagrees", asked=found.asked)
    return say("generate.verdict", read=found.read, confidence=f"{found.confidence:.0%}", agreement=agreement)


def critic_words(image, digit, gan_path, lang: str) -> str:
    """What the discriminator thinks of `image`, in words and as a number."""
    say = locales.words(lang)
    try:
        found = critic.opinion(image, digit, gan_path)
    except ModelUnavailable as missing:
        return missing.say(lang)
    verdict = say("generate.critic.real" if found.looks_real else "generate.critic.generated")
    scale = say(f"generate.critic.scale.{found.loss}")
    if found.boundary != found.threshold:  # the midpoint of the two measured means
        typical = say("generate.critic.typical", real=f"{found.real_mean:+.2f}", generated=f"{found.generated_mean:+.2f}",
                      boundary=f"{found.boundary:+.2f}")
    else:
        typical = say("generate.critic.threshold", threshold=f"{found.threshold:g}")
    if found.close:
        typical += " " + say("generate.critic.close")
    fitted = say("generate.critic.fitted") if found.fitted else ""
    return say("generate.critic", verdict=verdict, score=f"{found.score:+.2f}", scale=scale, typical=typical, fitted=fitted).strip()


def show(digit, seed, truncation, *rest, request: gr.Request = None):
    """The live update: (large crisp image, the CNN's probabilities, its verdict in words, what the
    discriminator thinks). rest = slider values..., gan_path, cnn_path."""
    *values, gan_path, cnn_path = rest
    lang = locales.language(request)
    try:
        model = gen.load(gan_path)
        image = gen.sample(digit if model.conditional else 0, seed, truncation, _slider_values(values), gan_path)
    except ModelUnavailable:
        return None, None, "", ""  # the status line already says what is missing
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False)  # a refusal, not a fault: no traceback in the log
    asked = gen.clean_digit(digit) if model.conditional else None
    try:
        found = gen.verdict(image, asked, cnn_path)
        probabilities, sentence = found.probabilities, verdict_words(found, lang)
    except ModelUnavailable as error:
        probabilities, sentence = None, locales.text("generate.verdict.no_cnn", lang, detail=error.say(lang))
    return gen.upscale(image), probabilities, sentence, critic_words(image, asked, gan_path, lang)


def browser_numbers(seed, gan_path):
    """What the page needs to draw this generator's images while a slider moves
    (generator.page_numbers), or None when only the server can (no generator, a bad seed)."""
    try:
        return gen.page_numbers(seed, gan_path)
    except (ModelUnavailable, ValueError):
        return None


def browser_model(gan_path):
    """This visitor's generator as a file the page can fetch (Gradio serves a gr.File's value to
    the page that received it, so a visitor's own model reaches only their page), or None."""
    path = Path(gan_path) if gan_path else shipped("gan")
    try:
        gen.load(gan_path)
    except ModelUnavailable:
        return None
    return str(path)


def browser_inputs(seed, gan_path):
    """Both, on page load and when this visitor's generator is swapped."""
    return browser_numbers(seed, gan_path), browser_model(gan_path)


def show_in_language(request: gr.Request, *inputs):
    """`show` for the page: Gradio hands a gr.Request only to a named parameter, which a handler of
    a variable number of sliders (*rest) cannot have after them, so the request comes first."""
    return show(*inputs, request=request)


def previews(digit, seed, truncation, *rest):
    """The slower update, after a slider is released or the digit/seed/truncation change: each
    direction's -3..+3 strip from the current latent, and this style as all ten digits."""
    *values, gan_path = rest
    empty = [None] * (gen.MAX_SLIDERS + 1)
    try:
        digit = digit if gen.load(gan_path).conditional else 0
        strips = gen.preview_strips(digit, seed, truncation, _slider_values(values), gan_path)
        grid = gen.digit_grid(seed, truncation, _slider_values(values), gan_path)
    except ModelUnavailable:
        return empty
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False)  # a refusal, not a fault: no traceback in the log
    images = [gen.strip(s) for s in strips] + [None] * (gen.MAX_SLIDERS - len(strips))
    return [*images, gen.strip(grid, factor=4)]


def sample(digit, seed, gan_path=None):
    """/sample: digit (0-9) and seed (>= 0) -> the generated 28x28 image (truncation 1, no
    sliders); same inputs, same image."""
    try:
        return gen.upscale(gen.sample(digit, seed, gan_path=gan_path), factor=1)
    except (ModelUnavailable, ValueError) as error:
        raise gr.Error(str(error), print_exception=False)  # a refusal, not a fault: no traceback in the log


def interpolation(digit_a, seed_a, digit_b, seed_b, frames, truncation, gan_path=None):
    """(a strip of the frames, an animated GIF of them) from (digit_a, seed_a) to (digit_b, seed_b)."""
    try:
        images = gen.interpolate((digit_a, seed_a), (digit_b, seed_b), frames, truncation, gan_path)
    except (ModelUnavailable, ValueError) as error:
        raise gr.Error(str(error), print_exception=False)  # a refusal, not a fault: no traceback in the log
    return gen.strip(images), gen.gif(images)


def _new_seed() -> int:
    return int(np.random.default_rng().integers(0, 1_000_000))


def _generator_loads() -> bool:
    try:
        gen.load(None)
        return True
    except ModelUnavailable:
        return False


def build(gan_path: gr.State, cnn_path: gr.State) -> None:
    # Names, infos and the status are the page-load event's (`controls`, in the visitor's language);
    # until it runs the sliders wear a neutral name.
    gr.Markdown(ui("generate.intro"))
    gr.HTML(visible="hidden", js_on_load=INJECT_CSS)
    # A missing or broken generator is said at once, in English, until the load event words it in the
    # visitor's language (a server without its model should say so in the page it serves).
    missing = slider_specs(None)[0] if not _generator_loads() else ""
    status = gr.Markdown(value=missing, visible=bool(missing))
    with gr.Row():
        with gr.Column(scale=3, elem_id="generate-controls"):
            digit = gr.Radio(list(range(10)), value=DEFAULT_DIGIT, label=ui("generate.digit"))
            with gr.Row():
                seed = gr.Number(value=DEFAULT_SEED, precision=0, minimum=0, label=ui("generate.seed"), scale=2)
                reroll = gr.Button(ui("generate.new_seed"), scale=1)
            truncation = gr.Slider(*gen.TRUNCATION_RANGE, value=gen.DEFAULT_TRUNCATION, step=0.05, label=ui("generate.truncation"),
                                   info=ui("generate.truncation_info"))
            rows, sliders, strips = [], [], []
            for k in range(gen.MAX_SLIDERS):
                with gr.Row(visible=False, equal_height=True) as row:
                    sliders.append(gr.Slider(-gen.SLIDER_LIMIT, gen.SLIDER_LIMIT, value=0, step=0.1, scale=2, label=ui("generate.slider.unnamed")))
                    strips.append(gr.Image(label=ui("generate.strip_unnamed"), alt_text=ui("generate.strip_unnamed"), show_label=False, interactive=False, buttons=[],
                                           container=False, scale=3, min_width=300, format="png", elem_classes="crisp"))
                rows.append(row)
            reset = gr.Button(ui("generate.reset"), size="sm")
            with gr.Accordion(ui("generate.about_title"), open=False):
                gr.Markdown(ui("generate.about"))
                figures = gr.Markdown()
        with gr.Column(scale=2, elem_id="generate-output"):
            image = gr.Image(label=ui("generate.image"), alt_text=ui("generate.image"), interactive=False, format="png", height=300, buttons=["download"],
                             elem_classes="crisp", elem_id="generate-image")
            verdict_text = gr.Markdown(elem_id="generate-verdict")
            verdict = gr.Label(num_top_classes=3, label=ui("generate.reads"), show_label=True, elem_id="generate-reads")
            gr.Markdown(ui("generate.critic_title"))
            critic_text = gr.Markdown(elem_id="generate-critic")
    with gr.Accordion(ui("generate.grid_title"), open=True):
        grid = gr.Image(label=ui("generate.grid"), alt_text=ui("generate.grid"), show_label=False, interactive=False, format="png", buttons=[], container=False, elem_classes="crisp")
    with gr.Accordion(ui("generate.interpolation"), open=False):
        gr.Markdown(ui("generate.interpolation_about"))
        with gr.Row():
            digit_a = gr.Radio(list(range(10)), value=DEFAULT_DIGIT, label=ui("generate.from_digit"))
            seed_a = gr.Number(value=DEFAULT_SEED, precision=0, minimum=0, label=ui("generate.from_seed"))
            digit_b = gr.Radio(list(range(10)), value=DEFAULT_DIGIT, label=ui("generate.to_digit"))
            seed_b = gr.Number(value=DEFAULT_SEED + 1, precision=0, minimum=0, label=ui("generate.to_seed"))
            frames = gr.Slider(3, 16, value=9, step=1, label=ui("generate.frames"))
        go = gr.Button(ui("generate.interpolate"))
        with gr.Row():
            interpolation_strip = gr.Image(label=ui("generate.frames_strip"), alt_text=ui("generate.frames_strip"), show_label=False, interactive=False, format="png", buttons=[],
                                           scale=3, elem_classes="crisp")
            interpolation_gif = gr.Image(label=ui("generate.animation"), alt_text=ui("generate.animation"), type="filepath", interactive=False, format="gif", buttons=["download"],
                                         scale=1, height=200, elem_classes="crisp")
    # /sample: the plain API endpoint (docs/api.md), on hidden components so the UI stays uncluttered.
    with gr.Row(visible=False):
        sample_digit = gr.Number(precision=0, minimum=0, maximum=9, label="digit")
        sample_seed = gr.Number(precision=0, minimum=0, label="seed")
        sample_image = gr.Image(label="image", format="png", image_mode="L")
        sample_button = gr.Button("sample")
    sample_button.click(sample, [sample_digit, sample_seed, gan_path], sample_image, api_name="sample", concurrency_limit=None, **RAW)

    # What the page's own drawing needs (static/generate_web.js): the latent's numbers and the model's file.
    numbers, model_file = gr.JSON(visible=False), gr.File(visible=False)

    live_inputs = [digit, seed, truncation, *sliders]
    show_event = dict(fn=show_in_language, inputs=[*live_inputs, gan_path, cnn_path], outputs=[image, verdict, verdict_text, critic_text], **RAW)
    preview_event = dict(fn=previews, inputs=[*live_inputs, gan_path], outputs=[*strips, grid], **RAW)
    page_link.register("generate", digit=digit, seed=seed, truncation=truncation, sliders=sliders, gan_path=gan_path,
                       show=show_event, previews=preview_event)  # a link sets them, then shows (tabs/link.py)

    # While a slider moves the page draws the image itself (the server only if it cannot); on release
    # the server sends the image with the verdicts, then the strips and grid.
    gr.on([s.input for s in sliders] + [truncation.input], None, [numbers, model_file, *live_inputs], None, js=FOLLOW,
          show_progress="hidden") \
        .failure(api_name="show_while_dragging", api_visibility="private", **show_event, **LIVE)
    gr.on([s.release for s in sliders] + [truncation.release, digit.change, seed.change, cnn_path.change],
          api_name="show", **show_event, **LIVE)
    gr.on([s.release for s in sliders] + [truncation.release, digit.change, seed.change],
          api_name="previews", **preview_event, **LIVE)
    seed.change(browser_numbers, [seed, gan_path], numbers, api_visibility="private", show_progress="hidden", **RAW)
    model_file.change(None, model_file, None, js=WARM)
    reroll.click(_new_seed, None, seed, api_name="new_seed", show_progress="hidden")
    reset.click(lambda: [0.0] * gen.MAX_SLIDERS, None, sliders, api_name="reset_sliders", show_progress="hidden") \
        .then(api_name="show_after_reset", api_visibility="private", **show_event, **LIVE) \
        .then(api_name="previews_after_reset", api_visibility="private", **preview_event, **LIVE)
    # On page load and whenever this visitor's generator is swapped (Train tab): its sliders, then a fresh render.
    gr.on(None, controls, [gan_path], [status, digit, *rows, *sliders, *strips, grid, figures], api_name="sliders",
          api_visibility="private", show_progress="hidden") \
        .then(browser_inputs, [seed, gan_path], [numbers, model_file], api_visibility="private", show_progress="hidden", **RAW) \
        .then(api_name="show_after_swap", api_visibility="private", **show_event, **LIVE) \
        .then(api_name="previews_after_swap", api_visibility="private", **preview_event, **LIVE)
    go.click(interpolation, [digit_a, seed_a, digit_b, seed_b, frames, truncation, gan_path],
             [interpolation_strip, interpolation_gif], api_name="interpolate", concurrency_limit=None, **RAW)
