"""The Train tab: start a short CNN or GAN run with the primer's knobs, watch it learn, stop it,
compare it with this visitor's other runs, use any of them, take its model home.

The run itself lives in runs.jobs (a background thread, the runs taking turns in a queue); this
tab validates the settings, starts it, and streams what it shows about once a second: the charts
are drawn here as SVG (tabs/train_plots.py), in the visitor's language. When the run ends, its export
is swapped into this visitor's cnn_path / gan_path state and joins their runs (tabs/train_runs.py).
Torch is imported by the run, not by this file. Every word comes from locales/ (keys `train.*`).
"""
import json

import numpy as np

import gradio as gr
import locales
from locales import text, ui
from tabs import loss_shapes, train_game, train_plots, train_runs
from tabs.loss_radio import LossRadio
from training import knobs, settings
from runs import jobs

# Which event keys each chart draws, in legend order, and their colours: training figures in blue,
# held-out ones in orange, the GAN's players in green and red, what D makes of real and generated
# digits in cyan and pink, sample quality in purple. The per-batch accuracy is dashed: it is
# measured with augmentation and dropout on, so it is not the train accuracy to compare.
CHARTS = {
    "loss": ("loss", "held_out_loss", "g_loss", "d_loss"),
    "score": ("accuracy", "train_accuracy", "held_out_accuracy", "label_fidelity", "confident_share"),
    "game": ("d_real", "d_fake"),
}
COLOURS = {"loss": "#1f77b4", "held_out_loss": "#ff7f0e", "accuracy": "#1f77b4", "train_accuracy": "#1f77b4",
           "held_out_accuracy": "#ff7f0e", "g_loss": "#2ca02c", "d_loss": "#d62728", "d_real": "#17becf",
           "d_fake": "#e377c2", "label_fidelity": "#9467bd", "confident_share": "#9467bd"}
DASHED = {"accuracy"}
USED_BY = {"cnn": "app.tab.draw", "gan": "app.tab.generate"}
CAPS = settings.load()  # read once at start-up, from the environment (see training/settings.py)


# -- the knobs (training/knobs.py holds the choices and per-arch defaults) -------------------------
arch_defaults = jobs.arch_defaults


def run_loss(request: jobs.RunRequest) -> str:
    """The run's loss function: as set, else its architecture's own."""
    return request.knobs.get("loss") or arch_defaults(request.kind, request.arch)["loss"]


def conditional(request: jobs.RunRequest) -> bool:
    """Digit Lab's GAN is told which digit to draw; the primer's (arch seed) is not."""
    return request.arch != "seed"


# -- what the tab shows: plain functions ---------------------------------------------------------
def chart_series(points: list, chart: str, lang: str) -> list[dict]:
    """The series of one chart from a run's points (step, event key, value), in legend order."""
    present = {key for _, key, _ in points}
    return [{"name": text(f"train.series.{key}", lang), "colour": COLOURS[key], "dashed": key in DASHED,
             "points": [(step, value) for step, k, value in points if k == key]}
            for key in CHARTS[chart] if key in present]


def chart(points: list, which: str, lang: str, kind: str = "cnn", request: jobs.RunRequest | None = None) -> str:
    """One of the live charts (loss, score or game) as SVG, in `lang`."""
    y_lim = (0, 1) if which == "score" or (which == "game" and request and run_loss(request) == "bce") else None
    title = f"train.plot.{which}.{kind}" if which == "score" else f"train.plot.{which}"
    if which == "loss" and kind == "cnn" and request and run_loss(request) == "mse":
        title = "train.plot.loss.mse"  # trained on MSE, held out on cross-entropy: the title says which is which
    return train_plots.line_chart(chart_series(points, which, lang), text(title, lang), text("train.plot.step", lang),
                                  text(f"train.plot.{which}.y", lang), text("train.plot.empty", lang), y_lim=y_lim,
                                  chart_id=f"train-{which}")


def gradient_chart(layers: list, gradients: list, lang: str) -> str:
    """The gradient per layer: a line for each layer with weights (input side first, coloured from
    blue to orange), its gradient norm at each step read, on a log scale, so a gradient that fades
    towards the input (the primer's CNN with Sigmoid) shows."""
    colours = train_plots.ramp(len(layers))
    series = [{"name": text("train.gradients.layer", lang, number=i + 1, layer=text(f"inside.stage.{layer['kind']}", lang),
                            shape="x".join(map(str, layer["shape"]))),
               "colour": colours[i], "points": [(step, norms[i]) for step, norms in gradients if i < len(norms)]}
              for i, layer in enumerate(layers)]
    return train_plots.line_chart(series, text("train.plot.gradients", lang), text("train.plot.step", lang),
                                  text("train.plot.gradients.y", lang), text("train.plot.empty", lang),
                                  chart_id="train-gradients", log_y=True, nested_dots=False)


def class_counts(samples: np.ndarray, model_path: str | None = None) -> np.ndarray:
    """How many of the samples the CNN reads as each digit: ten bars of ten each when every digit
    comes out as asked; a collapsed GAN piles them onto a few digits."""
    from inference.classifier import probabilities

    read = probabilities(np.asarray(samples, dtype=np.float32), model_path).argmax(1)
    return np.bincount(read, minlength=10)


def histogram(counts: np.ndarray, lang: str, is_conditional: bool = True) -> str:
    title = text("train.histogram.title" if is_conditional else "train.histogram.title_unconditional", lang)
    return train_plots.bar_chart([str(d) for d in range(10)], [int(c) for c in counts], title,
                                 text("train.histogram.x", lang), text("train.histogram.y", lang),
                                 y_max=max(10, int(max(counts))), colour="#9467bd", chart_id="train-histogram")


def samples_image(view: jobs.RunView) -> np.ndarray:
    """The fixed-latent grid, each sample with D's score under it where the run gives them."""
    bce = view.request is not None and run_loss(view.request) == "bce"
    return train_plots.sample_grid(view.samples, view.sample_scores, score_format="{:.2f}" if bce else "{:+.1f}")


def _duration(seconds: float, lang: str) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 60:
        return text("train.duration.minutes", lang, minutes=seconds // 60, seconds=f"{seconds % 60:02d}")
    return text("train.duration.seconds", lang, seconds=seconds)


def _figures(metrics: dict, lang: str) -> str:
    parts = [text(f"train.figure.{key}", lang, value=f"{metrics[key]:{style}}")
             for key, style in (("held_out_accuracy", ".1%"), ("label_fidelity", ".0%"), ("confident_share", ".0%"),
                                ("frechet_ratio", ".1f"))
             if metrics.get(key) is not None]
    return text("train.list_separator", lang).join(parts)


def say(message, lang: str) -> str:
    """A locales.Explained (or an error with .key/.values) in `lang`; plain strings as they are. A key
    missing from locales/ (e.g. a knob error before its words were written) falls back to English."""
    key, values = getattr(message, "key", None), dict(getattr(message, "values", {}) or {})
    if key is None or key not in locales.STRINGS[locales.DEFAULT]:
        return str(message)
    if "setting" in values:
        values["setting"] = text(f"train.setting.{str(values['setting']).replace(' ', '_')}", lang)
    return text(key, lang, **values)


def status_text(view: jobs.RunView, caps: settings.TrainSettings, lang: str = "en", number: int | None = None) -> str:
    """The run's state in a sentence or two, with where it trains (and why not on the GPU, when
    ZeroGPU refused it one)."""
    said = _state_text(view, caps, lang, number)
    if view.done and view.device and view.step:
        said += " " + text("train.status.trained_on", lang, device=text(f"train.device.{view.device}", lang))
    return said + (f"\n\n{say(view.device_note, lang)}" if view.device_note else "")


def _state_text(view: jobs.RunView, caps: settings.TrainSettings, lang: str, number: int | None) -> str:
    model = view.kind.upper()
    if view.state == "queued":
        key = "train.status.queued" if view.starts_in_measured else "train.status.queued_bound"
        return text(key, lang, model=model, place=view.place, waiting=view.queue_length,
                    time=_duration(view.starts_in or 0, lang))
    if view.state == "left":
        return text("train.status.left_queue", lang, model=model, reason=say(view.stop_reason, lang))
    if view.state == "starting":
        return text("train.status.starting", lang, model=model)
    if view.state in ("training", "stopping"):
        left = view.seconds_left(caps)
        return text("train.status.separator", lang).join(filter(None, [
            text("train.status.step", lang, model=model, step=view.step, total=view.total_steps),
            text(f"train.device.{view.device}", lang) if view.device else "",
            text("train.status.epoch", lang, epoch=view.epoch, epochs=view.epochs),
            text("train.status.rate", lang, rate=f"{view.steps_per_second:.1f}") if view.steps_per_second else "",
            text("train.status.left", lang, time=_duration(left, lang)) if left is not None else "",
            _figures(view.metrics, lang),
            text("train.status.stopping", lang) if view.state == "stopping" else "",
            text("train.status.paused", lang) if view.paused else "",
        ]))
    if view.state == "exporting":
        if view.stop_reason:
            return text("train.status.exporting_stopped", lang, model=model, reason=say(view.stop_reason, lang),
                        step=view.step, total=view.total_steps)
        return text("train.status.exporting", lang, model=model, step=view.step, total=view.total_steps)
    if view.state == "failed":
        return text("train.status.failed", lang, model=model, error=view.error)
    figures = _figures(view.exported_metrics, lang)  # measured by the export on the model as swapped in
    values = dict(model=model, step=view.step, total=view.total_steps, time=_duration(view.elapsed, lang),
                  figures=text("train.status.figures", lang, figures=figures) if figures else "",
                  tab=text(USED_BY[view.kind], lang), number=number or "?")
    if view.stop_reason:
        return text("train.status.done_stopped", lang, reason=say(view.stop_reason, lang), **values)
    return text("train.status.done", lang, **values)


def caps_text(lang: str) -> str:
    steps = text("train.caps.steps", lang, steps=CAPS.max_steps) if CAPS.max_steps else ""
    return text("train.caps", lang, places=jobs.places(CAPS), queue=CAPS.queue, time=_duration(CAPS.max_seconds, lang),
                steps=steps, epochs=CAPS.max_epochs,
                batch_min=CAPS.batch_min, batch_max=CAPS.batch_max, lr_min=f"{CAPS.lr_min:g}", lr_max=f"{CAPS.lr_max:g}")


# -- the handlers ----------------------------------------------------------------------------
def _owner(request) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


def _show(view: jobs.RunView, first: bool, shown_samples: int, lang: str):
    """One streamed update: (status, loss, score, game, game note, samples, histogram). The samples
    and their histogram are sent only when an epoch has brought new ones (`shown_samples` is the
    version on screen)."""
    is_gan = view.kind == "gan"
    request = view.request
    points = view.points
    loss, score = chart(points, "loss", lang, view.kind, request), chart(points, "score", lang, view.kind)
    game = chart(points, "game", lang, view.kind, request) if is_gan else gr.skip()
    samples = counts = gr.skip()
    if view.samples is not None and view.samples_version != shown_samples:
        samples = samples_image(view)
        try:
            counts = histogram(class_counts(view.samples), lang, conditional(request))
        except Exception as error:  # the shipped CNN missing: the samples still show
            gr.Warning(text("train.warn.samples", lang, error=error), title=text("common.warning", lang))
    game_note = gr.skip()
    if first:
        grid_label = text("train.grid.label" if not is_gan or conditional(request) else "train.grid.label_unconditional", lang)
        samples = gr.Image(value=None, visible=is_gan, label=grid_label)
        counts = gr.HTML(value="", visible=is_gan)
        game = gr.HTML(value=game if is_gan else "", visible=is_gan)
        game_note = gr.Markdown(value=game_words(request, lang) if is_gan else "", visible=is_gan)
    return status_text(view, CAPS, lang), loss, score, game, game_note, samples, counts


def _show_gradients(view: jobs.RunView, first: bool, lang: str):
    """The gradient per layer, a CNN run's only: shown with its first update, hidden for a GAN."""
    is_cnn = view.kind == "cnn"
    drawn = gradient_chart(view.gradient_layers, view.gradients, lang) if is_cnn else ""
    if first:
        return gr.HTML(value=drawn, visible=is_cnn)
    return drawn if is_cnn else gr.skip()


def game_words(request: jobs.RunRequest, lang: str) -> str:
    """What D's scores mean for this run's loss, and for the primer's GAN what its grid shows."""
    lines = [text(f"train.game.{run_loss(request)}", lang)]
    lines.append(text("train.grid.conditional" if conditional(request) else "train.grid.unconditional", lang))
    return "\n\n".join(lines)


def train_run(kind, dataset, epochs, lr, batch_size, seed, use_corrections, cnn_path, gan_path, corrections, runs,
              arch="lab", activation=None, loss=None, dropout=-1, train_digits=0, augment=None, gan_digits=0,
              d_steps=1, request: gr.Request = None):
    """Validate, start, then stream progress until the run has ended and been exported; the run
    then joins this visitor's runs. New settings (the primer's knobs) all default to the
    architecture's own values."""
    lang = locales.language(request)
    augment = {"on": True, "off": False}.get(augment, augment)
    try:
        run_request = jobs.validate(kind, dataset, epochs, lr, batch_size, seed, CAPS, arch=arch, activation=activation,
                                    loss=loss, dropout=dropout, train_digits=train_digits, augment=augment,
                                    gan_digits=gan_digits, d_steps=d_steps)
    except jobs.InvalidSettings as error:
        raise gr.Error(text("train.error.not_started", lang, reason=say(error, lang)), print_exception=False, title=text("common.error", lang)) from None
    try:
        run = jobs.start(run_request, _owner(request), corrections if use_corrections else (), CAPS)
    except jobs.RunBusy as error:
        raise gr.Error(say(error, lang), print_exception=False, title=text("common.error", lang)) from None
    keep = [gr.skip()] * 8  # note, cnn_path, gan_path, runs, compare chart, runs table, run choice, files
    shown_samples = 0
    try:
        first = True
        while True:
            ended = run.done.is_set()  # set once the run has ended and been exported (or left the queue)
            view = jobs.view(run)
            if ended:
                break
            # The note, the model paths and the runs are left alone until the end (gr.skip), so a
            # restore or a choice made meanwhile is not undone by a stale value. While the run
            # waits in the queue only its status is sent, so waiting pages cost the training little.
            if view.state == "queued" and not first:
                yield status_text(view, CAPS, lang), *[gr.skip()] * 6, *keep, gr.skip(), gr.skip()
            else:
                yield (*_show(view, first, shown_samples, lang), *keep, _show_gradients(view, first, lang),
                       train_game.streamed(view, first, shown_samples, lang))
                first, shown_samples = False, view.samples_version
            run.done.wait(CAPS.update_seconds)
        if not view.model_path:  # failed: the visitor's models stay as they are
            yield (*_show(view, first, shown_samples, lang), *keep, _show_gradients(view, first, lang),
                   train_game.streamed(view, first, shown_samples, lang))
            return
        runs = train_runs.remember(runs, view)
        latest = runs[-1]
        # Only the trained kind's path is written: the other may have been restored meanwhile.
        swapped = (view.model_path, gr.skip()) if view.kind == "cnn" else (gr.skip(), view.model_path)
        paths = (view.model_path, gan_path) if view.kind == "cnn" else (cnn_path, view.model_path)
        status, *shown = _show(view, first, shown_samples, lang)
        yield (status_text(view, CAPS, lang, latest["number"]), *shown, train_runs.note(runs, *paths, lang), *swapped,
               runs, train_runs.compare_chart(runs, view.kind, lang), train_runs.table(runs, lang),
               gr.Dropdown(choices=train_runs.choices(runs, lang), value=latest["id"]),
               gr.File(value=train_runs.downloads(latest), visible=True), _show_gradients(view, first, lang),
               train_game.streamed(view, first, shown_samples, lang))
    finally:
        # Gradio closes this generator when the visitor's page goes away (or /cancel is called):
        # the run stops between two batches, and is still exported and carded.
        if not run.done.is_set():
            jobs.request_stop(run, jobs.PAGE_CLOSED, wait=0)


def stop_run(request: gr.Request):
    return say(jobs.stop(_owner(request), jobs.STOPPED_BY_VISITOR), locales.language(request))


def restore_shipped(runs, request: gr.Request):
    return None, None, train_runs.note(runs, None, None, locales.language(request))


def choose_run(run_id, runs, request: gr.Request):
    """A run picked in the list: its curve among its kind's, and its files to download."""
    run = train_runs.find(runs, run_id)
    if run is None:
        return gr.skip(), []
    return train_runs.compare_chart(runs, run["kind"], locales.language(request)), train_runs.downloads(run)


def use_run(run_id, runs, cnn_path, gan_path, request: gr.Request):
    """Swap a picked run's model into this session's Draw or Generate tab."""
    lang = locales.language(request)
    run = train_runs.find(runs, run_id)
    if run is None or not run["model_path"]:
        raise gr.Error(text("train.runs.pick_first", lang), print_exception=False, title=text("common.error", lang))
    if run["kind"] == "cnn":
        cnn_path = run["model_path"]
    else:
        gan_path = run["model_path"]
    said = text("train.runs.used", lang, number=run["number"], tab=text(USED_BY[run["kind"]], lang))
    return cnn_path, gan_path, train_runs.note(runs, cnn_path, gan_path, lang), said


def loss_choices(kind: str, lang: str | None = None) -> list[tuple]:
    """The kind's loss functions as the radio offers them: page text (translated in the browser)
    when built, the visitor's language when a change of model sends them."""
    say = ui if lang is None else (lambda key: text(key, lang))
    return [(say(f"train.loss.{name}"), name) for name in knobs.LOSSES[kind]]


def knob_view(kind, arch, request: gr.Request = None):
    """Show the knobs that apply to the model and architecture, set to the architecture's own
    values (its batch size too, and the kind's default epochs); the loss offers the model's own loss functions."""
    kind = kind if kind in settings.KINDS else "cnn"
    arch = arch if arch in knobs.ARCHS else "lab"
    own = arch_defaults(kind, arch)
    is_cnn = kind == "cnn"
    lang = locales.language(request)
    return (
        gr.update(value=settings.DEFAULT_EPOCHS[kind]),
        gr.update(value=own["batch_size"]),
        gr.update(visible=is_cnn),  # corrections: the CNN's
        gr.update(value=own.get("activation", "relu")),
        gr.update(choices=loss_choices(kind, lang), value=own["loss"], info=text(f"train.loss.info.{kind}", lang)),
        gr.update(visible=is_cnn, value=own.get("dropout", -1) if is_cnn else -1),
        gr.update(visible=is_cnn),  # training digits
        gr.update(value="on" if own.get("augment", True) else "off"),
        gr.update(visible=is_cnn),  # GAN-made digits
        gr.update(visible=not is_cnn, value=own.get("d_steps", 1)),  # the D:G ratio
        gr.update(visible=not is_cnn),  # the game turn by turn
    )


def page_words(request: gr.Request):
    """At page load: what depends on this server's caps, the empty charts, and why the loss
    function matters (tabs/loss_shapes.py), in the visitor's language."""
    lang = locales.language(request)
    empty = [chart([], which, lang) for which in ("loss", "score")]
    return (caps_text(lang), text("train.status.idle", lang), *empty, train_runs.table([], lang),
            train_runs.compare_chart([], "cnn", lang), train_runs.note([], None, None, lang), gradient_chart([], [], lang),
            *loss_shapes.charts(lang))


def build(cnn_path: gr.State, gan_path: gr.State, corrections: gr.State):
    runs = gr.State([])  # this visitor's finished runs (tabs/train_runs.py), in memory only
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            kind = gr.Radio([(ui("train.kind.cnn"), "cnn"), (ui("train.kind.gan"), "gan")], value="cnn",
                            label=ui("train.kind"))
            arch = gr.Radio([(ui("train.arch.lab"), "lab"), (ui("train.arch.seed"), "seed")], value="lab",
                            label=ui("train.arch"), info=ui("train.arch.info"))
            activation = gr.Radio([(ui(f"train.activation.{a}"), a) for a in knobs.ACTIVATIONS], value=None,
                                  label=ui("train.activation"), info=ui("train.activation.info"))
            # Left unset (None), as activation and augmentation: an API call that leaves it out gets the
            # architecture's own; the page shows the first view's own (set at load, below).
            loss = LossRadio(loss_choices("cnn"), value=None, label=ui("train.loss"), info=ui("train.loss.info.cnn"))
            dropout = gr.Number(-1, label=ui("train.dropout"), info=ui("train.dropout.info"), minimum=-1, maximum=0.95,
                                step=0.05)
            train_digits = gr.Radio([(ui("train.digits.all"), 0), ("500", 500), ("100", 100)], value=0,
                                    label=ui("train.digits"), info=ui("train.digits.info"))
            # A radio, not a checkbox: a checkbox cannot be left unset, and an API call that leaves
            # augmentation out should get the architecture's own (on for ours, off for the primer's).
            augment = gr.Radio([(ui("train.augment.on"), "on"), (ui("train.augment.off"), "off")], value=None,
                               label=ui("train.augment"), info=ui("train.augment.info"), elem_id="train-augment")
            gan_digits = gr.Slider(0, 5000, value=0, step=500, label=ui("train.gan_digits"), info=ui("train.gan_digits.info"))
            d_steps = train_game.ratio_knob()
            epochs = gr.Number(settings.DEFAULT_EPOCHS["cnn"], label=ui("train.epochs"), step=1, elem_id="train-epochs")
            use_corrections = gr.Checkbox(True, label=ui("train.corrections"))
            with gr.Accordion(ui("train.more"), open=False):
                dataset = gr.Dropdown([(ui(f"train.dataset.{d}"), d) for d in settings.DATASETS], value="mnist-5k",
                                      label=ui("train.dataset"), info=ui("train.dataset.info"))
                # 0 rather than blank for "the model's own default": an API parameter whose default is
                # None counts as required in gradio_client.
                lr = gr.Number(0, label=ui("train.lr"), info=ui("train.lr.info"))
                batch_size = gr.Number(arch_defaults("cnn", "lab")["batch_size"], label=ui("train.batch_size"), step=1)  # knob_view follows the arch
                seed = gr.Number(0, label=ui("train.seed"), step=1)
            with gr.Row():
                start = gr.Button(ui("train.start"), variant="primary")
                stop = gr.Button(ui("train.stop"), variant="stop")
            restore = gr.Button(ui("train.restore"), size="sm")
            caps = gr.Markdown("")
        with gr.Column(scale=2):
            status = gr.Markdown(ui("train.status.idle"), elem_id="train-status")
            loss_plot = gr.HTML("", elem_id="train-loss-plot")
            score_plot = gr.HTML("", elem_id="train-score-plot")
            gradient_plot = gr.HTML("", elem_id="train-gradient-plot")
            game_plot = gr.HTML("", visible=False, elem_id="train-game-plot")
            game_note = gr.Markdown("", visible=False)
            game_panel, pushes = train_game.build()
            with gr.Accordion(ui("train.shapes.heading"), open=False):
                cnn_shapes = gr.HTML("", elem_id="train-shapes-cnn-plot")
                gan_shapes = gr.HTML("", elem_id="train-shapes-gan-plot")
            with gr.Row():
                samples = gr.Image(label=ui("train.grid.label"), type="numpy", image_mode="L", format="png",
                                   visible=False, interactive=False, buttons=["download", "fullscreen"])
                counts = gr.HTML("", visible=False, elem_id="train-histogram-plot")
            note = gr.Markdown(ui("train.note.initial"))
            gr.Markdown(ui("train.runs.heading"))
            compare_plot = gr.HTML("", elem_id="train-compare-plot")
            runs_table = gr.Markdown(ui("train.runs.none"), elem_id="train-runs-table")
            with gr.Row():
                run_choice = gr.Dropdown([], value=None, label=ui("train.runs.pick"), scale=3)
                use = gr.Button(ui("train.runs.use"), scale=1)
            run_files = gr.File(label=ui("train.runs.files"), file_count="multiple", interactive=False, visible=False)

    knob_outputs = [epochs, batch_size, use_corrections, activation, loss, dropout, train_digits, augment, gan_digits, d_steps, game_panel]
    # Only on a change of model or architecture: a page-load call would come back after a visitor
    # on a slow connection had typed their epochs, and set them back to the default.
    gr.on([kind.change, arch.change], knob_view, [kind, arch], knob_outputs, api_name="train_defaults",
          api_visibility="private", queue=False)
    # The first view's unset knobs show the default architecture's own values, set in the page as
    # it opens (no round trip); left unset in the components, so an API call that leaves them out
    # gets the architecture it asks for its own.
    _, _, _, first_activation, first_loss, _, _, first_augment, *_ = knob_view("cnn", "lab")
    shown = [update["value"] for update in (first_activation, first_loss, first_augment)]
    gr.on(None, None, None, [activation, loss, augment], js=f"() => {json.dumps(shown)}", api_visibility="private", queue=False)
    gr.on(None, page_words, None, [caps, status, loss_plot, score_plot, runs_table, compare_plot, note, gradient_plot,
                                   cnn_shapes, gan_shapes],
          api_name="train_words", api_visibility="private", queue=False)
    start.click(
        train_run,
        [kind, dataset, epochs, lr, batch_size, seed, use_corrections, cnn_path, gan_path, corrections, runs,
         arch, activation, loss, dropout, train_digits, augment, gan_digits, d_steps],
        [status, loss_plot, score_plot, game_plot, game_note, samples, counts, note, cnn_path, gan_path, runs,
         compare_plot, runs_table, run_choice, run_files, gradient_plot, pushes],
        api_name="train", show_progress="hidden",
        concurrency_limit=None,  # every Start reaches train_run at once: the runs' own queue (runs/jobs.py) orders them
    )
    stop.click(stop_run, None, status, api_name="stop_training", show_progress="hidden")
    restore.click(restore_shipped, runs, [cnn_path, gan_path, note], api_name="restore_shipped_models")
    run_choice.input(choose_run, [run_choice, runs], [compare_plot, run_files], api_visibility="private")
    use.click(use_run, [run_choice, runs, cnn_path, gan_path], [cnn_path, gan_path, note, status], api_name="use_run")
