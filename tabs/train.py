"""The Train tab: start a short CNN or GAN run, watch it learn, stop it, use what it learned.

The run itself lives in training.jobs (a background thread, one run on the server at a time); this
tab validates the settings, starts it, and streams what it shows about once a second. Gradio sends
a streamed output as a diff against the previous one, so the plots' histories are kept append-only
(and thinned by jobs.MAX_POINTS) and only the new points travel. When the run ends, its export is
swapped into this visitor's cnn_path / gan_path state. Torch is imported by the run, not by this file.
"""
import numpy as np
import pandas as pd

import gradio as gr
from training import jobs, settings

SCORE_SERIES = ("train accuracy", "held-out accuracy", "label fidelity")
# Training figures in blue, held-out ones in orange, the GAN's two players in green and red.
COLORS = {"train loss": "#1f77b4", "held-out loss": "#ff7f0e", "train accuracy": "#1f77b4",
          "held-out accuracy": "#ff7f0e", "generator loss": "#2ca02c", "discriminator loss": "#d62728",
          "label fidelity": "#9467bd"}
MODEL_NAMES = {"cnn": "CNN", "gan": "GAN"}
USED_BY = {"cnn": "Draw", "gan": "Generate"}
CAPS = settings.load()  # read once at start-up, from the environment (see training/settings.py)


# -- what the tab shows: plain functions ---------------------------------------------------------
def _in_plot(series: str, plot: str) -> bool:
    """'loss' draws the loss series, 'score' the accuracy and label-fidelity ones."""
    return (series in SCORE_SERIES) == (plot == "score")


def plot_frame(points: list, plot: str) -> pd.DataFrame:
    """The rows of one plot, in the order they were recorded."""
    rows = [p for p in points if _in_plot(p[1], plot)]
    return pd.DataFrame({
        "step": pd.Series([p[0] for p in rows], dtype="int64"),
        "value": pd.Series([p[2] for p in rows], dtype="float64"),
        "series": pd.Series([p[1] for p in rows], dtype="object").astype(str),
    })


def plot_series(points: list, plot: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p[1] for p in points if _in_plot(p[1], plot)))


def plot_update(points: list, plot: str, legend: tuple[str, ...] | None = None) -> gr.LinePlot:
    """A plot's value (None until it has points), sent as the whole frame each time (Gradio streams
    it as a diff: the new rows), and the series its legend lists (by default, those it holds)."""
    frame = plot_frame(points, plot)
    return gr.LinePlot(value=frame if len(frame) else None,
                       colors_in_legend=list(plot_series(points, plot) if legend is None else legend))


def sample_grid(samples: np.ndarray, scale: int = 3, gap: int = 2) -> np.ndarray:
    """The fixed-latent grid [100,28,28] in [0,1] (10 per digit, digit-major) as one uint8 image,
    a row per digit asked for, enlarged so the browser does not blur it."""
    samples = np.clip(np.asarray(samples, dtype=np.float32), 0, 1)
    rows, columns = 10, len(samples) // 10
    cell = 28 + gap
    grid = np.full((rows * cell - gap, columns * cell - gap), 40, dtype=np.uint8)  # dark grey gaps
    for index, image in enumerate(samples[: rows * columns]):
        r, c = divmod(index, columns)
        grid[r * cell : r * cell + 28, c * cell : c * cell + 28] = np.round(image * 255).astype(np.uint8)
    return np.kron(grid, np.ones((scale, scale), dtype=np.uint8))


def class_counts(samples: np.ndarray, model_path: str | None = None) -> pd.DataFrame:
    """How many of the samples the CNN reads as each digit: ten bars of ten each when every digit
    comes out as asked; a collapsed GAN piles them onto a few digits."""
    from inference.classifier import probabilities

    read = probabilities(np.asarray(samples, dtype=np.float32), model_path).argmax(1)
    counts = np.bincount(read, minlength=10)
    return pd.DataFrame({"digit": [str(d) for d in range(10)], "count": counts.astype("int64")})


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _figures(metrics: dict) -> str:
    parts = []
    if metrics.get("held_out_accuracy") is not None:
        parts.append(f"held-out accuracy {metrics['held_out_accuracy']:.1%}")
    if metrics.get("label_fidelity") is not None:
        parts.append(f"label fidelity {metrics['label_fidelity']:.0%}")
    if metrics.get("frechet_ratio") is not None:
        parts.append(f"Frechet ratio {metrics['frechet_ratio']:.1f}")
    return ", ".join(parts)


def status_text(view: jobs.RunView, caps: settings.TrainSettings) -> str:
    name = MODEL_NAMES[view.kind]
    if view.state == "starting":
        return f"**{name} run {view.id}**: starting (loading torch and the data)..."
    if view.state in ("training", "stopping"):
        figures = _figures(view.metrics)
        left = view.seconds_left(caps)
        return " · ".join(filter(None, [
            f"**{name} run**: step {view.step} of {view.total_steps}", f"epoch {view.epoch} of {view.epochs}",
            f"{view.steps_per_second:.1f} steps/s" if view.steps_per_second else "",
            f"about {_duration(left)} left" if left is not None else "", figures,
            "stopping..." if view.state == "stopping" else "",
        ]))
    if view.state == "exporting":
        how = f"Stopped ({view.stop_reason})" if view.stop_reason else "Finished"
        return f"**{name} run**: {how} at step {view.step} of {view.total_steps}. Exporting to ONNX and checking it against PyTorch..."
    if view.state == "failed":
        return f"**{name} run failed**: {view.error}. Your current {name} stays in use."
    how = f"stopped ({view.stop_reason})" if view.stop_reason else "finished"
    exported = _figures(view.exported_metrics)  # measured by the export on the model as swapped in
    return (f"**{name} run {how}** after {view.step} of {view.total_steps} steps in {_duration(view.elapsed)}"
            f"{'; ' + exported if exported else ''}. The {USED_BY[view.kind]} tab now uses this model "
            f"(`{view.model_path}`); its run card, with the command that reproduces it, is `{view.card_path}`.")


def model_note(cnn_path: str | None, gan_path: str | None) -> str:
    def which(path):
        return f"yours (`{path}`)" if path else "the shipped one"

    return f"This session's CNN: {which(cnn_path)}. GAN: {which(gan_path)}."


# -- the handlers ----------------------------------------------------------------------------
def _show(view: jobs.RunView, first: bool, shown_samples: int):
    """One streamed update: (status, loss plot, score plot, samples, histogram). The samples and
    their histogram are sent only when an epoch has brought new ones (`shown_samples` is the
    version on screen)."""
    is_gan = view.kind == "gan"
    loss, score = plot_update(view.points, "loss"), plot_update(view.points, "score")
    samples = histogram = gr.skip()
    if view.samples is not None and view.samples_version != shown_samples:
        samples = sample_grid(view.samples)
        try:
            histogram = class_counts(view.samples)
        except Exception as error:  # the shipped CNN missing: the samples still show
            gr.Warning(f"Could not read the samples: {error}")
    if first:
        samples = gr.Image(value=None, visible=is_gan)
        histogram = gr.BarPlot(value=None, visible=is_gan)
    return status_text(view, CAPS), loss, score, samples, histogram


def train_run(kind, dataset, epochs, lr, batch_size, seed, use_corrections, cnn_path, gan_path, corrections,
              request: gr.Request):
    """Validate, start, then stream progress until the run has ended and been exported."""
    try:
        run_request = jobs.validate(kind, dataset, epochs, lr, batch_size, seed, CAPS)
    except jobs.InvalidSettings as error:
        raise gr.Error(f"Not started: {error}.", print_exception=False) from None
    owner = getattr(request, "session_hash", None) or "anonymous"
    try:
        run = jobs.start(run_request, owner, corrections if use_corrections else (), CAPS)
    except jobs.RunBusy as error:
        raise gr.Error(str(error), print_exception=False) from None
    shown_samples, shown_series = 0, {}
    try:
        first = True
        while True:
            ended = run.done.is_set()  # set once the server is free again, after the export
            view = run.view()
            # The browser fixes a plot's series, and so their colours, when it draws the plot; new
            # rows alone do not redraw it, a changed legend does. So when a series appears (held-out
            # figures at the first epoch's end), its rows go first, under the old legend, and the
            # new legend follows: the redraw then sees every series. (Sent together, the redraw may
            # run before the rows land, and the new line stays without a colour; hence the pause.)
            series = {plot: plot_series(view.points, plot) for plot in ("loss", "score")}
            if not first and series != shown_series:
                rows = [plot_update(view.points, p, legend=shown_series[p]) for p in series]
                yield status_text(view, CAPS), *rows, *[gr.skip()] * 5
                run.done.wait(0.5)
            shown_series = series
            if ended:
                break
            # The note and the model paths are left alone until the end (gr.skip), so a restore
            # pressed meanwhile is not undone by a stale value.
            yield *_show(view, first, shown_samples), gr.skip(), gr.skip(), gr.skip()
            first, shown_samples = False, view.samples_version
            run.done.wait(CAPS.update_seconds)
        if not view.model_path:  # failed: the visitor's models stay as they are
            yield *_show(view, first, shown_samples), gr.skip(), gr.skip(), gr.skip()
            return
        # Only the trained kind's path is written: the other may have been restored meanwhile.
        swapped = (view.model_path, gr.skip()) if view.kind == "cnn" else (gr.skip(), view.model_path)
        paths = (view.model_path, gan_path) if view.kind == "cnn" else (cnn_path, view.model_path)
        yield *_show(view, first, shown_samples), model_note(*paths), *swapped
    finally:
        # Gradio closes this generator when the visitor's page goes away (or /cancel is called):
        # the run stops between two batches, and is still exported and carded.
        if not run.done.is_set():
            jobs.request_stop(run, "the page was closed", wait=0)


def stop_run(request: gr.Request):
    return jobs.stop(getattr(request, "session_hash", None) or "anonymous", "stopped by the visitor")


def restore_shipped():
    return None, None, model_note(None, None)


def kind_defaults(kind):
    known = kind in settings.KINDS
    return (gr.update(value=settings.DEFAULT_EPOCHS[kind]) if known else gr.skip(),
            gr.update(visible=kind == "cnn"))


def build(cnn_path: gr.State, gan_path: gr.State, corrections: gr.State):
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            kind = gr.Radio([("CNN: reads digits", "cnn"), ("GAN: draws digits", "gan")], value="cnn", label="Model")
            dataset = gr.Dropdown(list(settings.DATASETS), value="mnist-5k", label="Data set",
                                  info="mnist and fashion-mnist need a network to download them")
            epochs = gr.Number(settings.DEFAULT_EPOCHS["cnn"], label=f"Epochs (1 to {CAPS.max_epochs})", step=1)
            # 0 rather than blank for "the model's own default": an API parameter whose default is
            # None counts as required in gradio_client.
            lr = gr.Number(0, label="Learning rate",
                           info=f"0: the training script's default; else {CAPS.lr_min:g} to {CAPS.lr_max:g} "
                                "(for the GAN, the generator's)")
            batch_size = gr.Number(settings.DEFAULT_BATCH_SIZE, label=f"Batch size ({CAPS.batch_min} to {CAPS.batch_max})", step=1)
            seed = gr.Number(0, label="Seed", step=1)
            use_corrections = gr.Checkbox(True, label="Also train on my corrections from the Draw tab")
            with gr.Row():
                start = gr.Button("Start", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            restore = gr.Button("Use the shipped models again", size="sm")
            gr.Markdown(f"One run at a time on this server, stopped after {_duration(CAPS.max_seconds)}"
                        + (f" or {CAPS.max_steps} steps" if CAPS.max_steps else "") + ". Stop keeps what was learned so far.")
        with gr.Column(scale=2):
            status = gr.Markdown("Choose a model and press Start.")
            # Every series' colour is set here, once: a plot redrawn at any moment finds them all.
            loss_plot = gr.LinePlot(x="step", y="value", color="series", color_map=COLORS, label="Loss")
            score_plot = gr.LinePlot(x="step", y="value", color="series", color_map=COLORS, y_lim=[0, 1],
                                     label="Accuracy (CNN) or label fidelity, read by the shipped CNN (GAN)")
            with gr.Row():
                samples = gr.Image(label="Fixed-latent samples: a row per digit asked for", type="numpy",
                                   image_mode="L", format="png", visible=False, interactive=False)
                histogram = gr.BarPlot(x="digit", y="count", label="What the shipped CNN reads in them (ten each is ideal)",
                                       y_lim=[0, 100], sort="x", visible=False)
            note = gr.Markdown(model_note(None, None))

    kind.change(kind_defaults, kind, [epochs, use_corrections], api_name="train_defaults", api_visibility="private")
    start.click(
        train_run, [kind, dataset, epochs, lr, batch_size, seed, use_corrections, cnn_path, gan_path, corrections],
        [status, loss_plot, score_plot, samples, histogram, note, cnn_path, gan_path],
        api_name="train", show_progress="hidden",
        concurrency_limit=None,  # a second Start must reach train_run to be refused, not wait in the queue
    )
    stop.click(stop_run, None, status, api_name="stop_training", show_progress="hidden")
    restore.click(restore_shipped, None, [cnn_path, gan_path, note], api_name="restore_shipped_models")

