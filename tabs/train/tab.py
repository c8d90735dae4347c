"""The Train tab: start a short CNN or GAN run with the primer's knobs, watch it learn, stop it,
compare it with this visitor's other runs, use any of them, take its model home.

The run itself lives in runs.jobs (a background thread, the runs taking turns in a queue); this
tab validates the settings, starts it, and streams what it shows about once a second: the charts
are drawn here as SVG (tabs/train/plots.py), in the visitor's language. When the run ends, its export
is swapped into this visitor's cnn_path / gan_path state and joins their runs (tabs/train/my_runs.py).
Torch is imported by the run, not by this file. Every word comes from locales/ (keys `train.*`).
"""
import numpy as np

import gradio as gr
import locales
from locales import text, ui
from tabs.train import loss_shapes
from tabs.train import game as train_game
from tabs.train import knobs as train_knobs
from tabs.train import mine as train_mine
from tabs.train import plots as train_plots
from tabs.train import my_runs as train_runs
from tabs.train.status import USED_BY, caps_text, say, status_text  # noqa: F401 (tests read them here)
from tabs import link as page_link
from training import settings
from training.knob_list import OWN
from runs import jobs
from classroom import board, hook
from visitors import limits

# Which event keys each chart draws, in legend order, and their colours: training figures in blue,
# held-out ones in orange, the GAN's players in green and red, what D makes of real and generated
# digits in cyan and pink, sample quality in purple. The per-batch accuracy is dashed: it is
# measured with augmentation and dropout on, so it is not the train accuracy to compare.
CHARTS = {
    "loss": ("loss", "held_out_loss", "g_loss", "d_loss"),
    "score": ("accuracy", "train_accuracy", "held_out_accuracy", "mine_accuracy", "label_fidelity", "confident_share"),
    "game": ("d_real", "d_fake"),
}
COLOURS = {"loss": "#1f77b4", "held_out_loss": "#ff7f0e", "accuracy": "#1f77b4", "train_accuracy": "#1f77b4",
           "held_out_accuracy": "#ff7f0e", "g_loss": "#2ca02c", "d_loss": "#d62728", "d_real": "#17becf",
           "d_fake": "#e377c2", "label_fidelity": "#9467bd", "confident_share": "#9467bd",
           "mine_accuracy": "#8c564b"}  # the visitor's own held-out drawings: brown, apart from strangers' orange
DASHED = {"accuracy"}
CAPS = settings.load()  # read once at start-up, from the environment (see training/settings.py)


# -- the knobs (training/knob_list.py declares them; tabs/train/knobs.py shows them) ---------------
arch_defaults = jobs.arch_defaults
knob_view = train_knobs.knob_view


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


# -- the handlers ----------------------------------------------------------------------------
def _seat(request, lang: str) -> limits.Seat:
    """A training place counted by the caller's address (the session, which the client makes up,
    only keeps one run a page); a student of an open class shares the class's places instead, as
    many as a class may have students, so a class behind one school address trains in turn."""
    token = hook.token_of(jobs.owner(request))
    student = board.student(token) if token else None
    if student:
        return limits.take_place(request, lang, key=f"class:{student['code']}", most=board.limits()["students"],
                                 words="limits.class_places")
    return limits.take_place(request, lang)


def _seconds_left(run) -> float | None:
    """When a run's place should free, for a refused caller: only a training run can tell."""
    view = jobs.view(run)
    return view.seconds_left(CAPS) if view.state in ("training", "stopping", "exporting") else None


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
              arch="lab", activation=None, loss=None, dropout=OWN, train_digits="all", augment=None, gan_digits=0,
              d_steps=1, digits="dataset", fine_tune=False, mine=None, request: gr.Request = None):
    """Validate, start, then stream progress until the run has ended and been exported; the run
    then joins this visitor's runs. A setting left at "own" (or unset) takes the value of the kind
    and architecture asked for (runs/request.py reads each as training/knob_list.py declares it).
    `digits` and `fine_tune`: whose digits a CNN learns from and where it starts (tabs/train/mine.py)."""
    lang = locales.language(request)
    try:
        run_request = jobs.validate(kind, dataset, epochs, lr, batch_size, seed, CAPS, arch=arch, activation=activation,
                                    loss=loss, dropout=dropout, train_digits=train_digits, augment=augment,
                                    gan_digits=gan_digits, d_steps=d_steps)
        run_request, start_from = train_mine.with_mine(run_request, digits, fine_tune, mine, cnn_path)
    except jobs.InvalidSettings as error:
        raise gr.Error(text("train.error.not_started", lang, reason=say(error, lang)), print_exception=False, title=text("common.error", lang)) from None
    limits.guard(request, "train", lang)
    seat = _seat(request, lang)
    try:
        run = jobs.start(run_request, jobs.owner(request), corrections if use_corrections else (), CAPS,
                         mine=mine or (), start_from=start_from)
    except jobs.RunBusy as error:
        seat.release()
        raise gr.Error(say(error, lang), print_exception=False, title=text("common.error", lang)) from None
    seat.hold(lambda: not run.done.is_set(), lambda: _seconds_left(run))
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
    return say(jobs.stop(jobs.owner(request), jobs.STOPPED_BY_VISITOR), locales.language(request))


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


def page_words(request: gr.Request):
    """At page load: what depends on this server's caps, the empty charts, and why the loss
    function matters (tabs/train/loss_shapes.py), in the visitor's language."""
    lang = locales.language(request)
    empty = [chart([], which, lang) for which in ("loss", "score")]
    return (caps_text(CAPS, lang), text("train.status.idle", lang), *empty, train_runs.table([], lang),
            train_runs.compare_chart([], "cnn", lang), train_runs.note([], None, None, lang), gradient_chart([], [], lang),
            *loss_shapes.charts(lang))


def build(cnn_path: gr.State, gan_path: gr.State, corrections: gr.State, runs: gr.State | None = None,
          mine: gr.State | None = None):
    """-> the views of this visitor's runs (note, comparison, table, choice), for a restore to refresh."""
    runs = runs if runs is not None else gr.State([])  # this visitor's finished runs (tabs/train/my_runs.py)
    mine = mine if mine is not None else gr.State([])  # the visitor's own digits (tabs/draw/my_digits.py)
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            c = train_knobs.build(CAPS)  # the knobs' controls, by the settings' names
            own = train_mine.build()  # whose digits, and whether to fine-tune the served model
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

    knob_outputs = [c[name] for name in train_knobs.VIEW] + [game_panel]
    # Only on a change of model or architecture: a page-load call would come back after a visitor
    # on a slow connection had typed their epochs, and set them back to the default.
    page_link.register("train", **c, start_button=start)  # a link sets them (tabs/link.py); Start: tabs/board.py
    gr.on([c["kind"].change, c["arch"].change], knob_view, [c["kind"], c["arch"]], knob_outputs, api_name="train_defaults",
          api_visibility="private", queue=False).then(**page_link.after_knobs_event())  # a lesson's values stay
    train_knobs.show_first_view(c)
    c["kind"].change(train_mine.shown, c["kind"], [own["digits"], own["fine_tune"]], api_visibility="private", queue=False)
    gr.on(None, page_words, None, [caps, status, loss_plot, score_plot, runs_table, compare_plot, note, gradient_plot,
                                   cnn_shapes, gan_shapes],
          api_name="train_words", api_visibility="private", queue=False)
    start.click(
        train_run,
        [*(c[name] for name in ("kind", "dataset", "epochs", "lr", "batch_size", "seed", "use_corrections")), cnn_path, gan_path,
         corrections, runs, *(c[name] for name in ("arch", "activation", "loss", "dropout", "train_digits", "augment", "gan_digits",
                                                    "d_steps")), own["digits"], own["fine_tune"], mine],
        [status, loss_plot, score_plot, game_plot, game_note, samples, counts, note, cnn_path, gan_path, runs,
         compare_plot, runs_table, run_choice, run_files, gradient_plot, pushes],
        api_name="train", show_progress="hidden",
        concurrency_limit=None,  # every Start reaches train_run at once: the runs' own queue (runs/jobs.py) orders them
    )
    stop.click(stop_run, None, status, api_name="stop_training", show_progress="hidden")
    restore.click(restore_shipped, runs, [cnn_path, gan_path, note], api_name="restore_shipped_models")
    run_choice.input(choose_run, [run_choice, runs], [compare_plot, run_files], api_visibility="private")
    use.click(use_run, [run_choice, runs, cnn_path, gan_path], [cnn_path, gan_path, note, status], api_name="use_run")
    return note, compare_plot, runs_table, run_choice
