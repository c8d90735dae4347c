"""This visitor's recent runs, side by side: a record of each finished run (kept in the session's
gr.State, in memory only), their held-out curves overlaid on one chart, a small table, and the files
a visitor may take home. Plain functions of the records and a language; no server paths are shown
(a run is named by its number in the session and its files by their names)."""
import os
import shutil
import tempfile
from pathlib import Path

from locales import text
from tabs.train import plots as train_plots
from runs import jobs
from visitors import folders

KEEP = 10  # runs remembered per session (the issue asks for at least the last 5)
# The figure each kind's curve follows, first one present wins (the primer's unconditional GAN has
# no digits asked for, so no label fidelity: the share of its samples the CNN reads confidently).
CURVE_METRICS = {"cnn": ("held_out_accuracy",), "gan": ("label_fidelity", "confident_share")}


def record(view: jobs.RunView, number: int) -> dict:
    """What the session remembers of a finished run (plain data, so gr.State can keep it)."""
    request = view.request
    keys = CURVE_METRICS[view.kind]
    metric = next((k for k in keys if any(k in m for *_, m in view.epoch_log) or k in view.exported_metrics), keys[0])
    curve = [(epoch, float(m[metric])) for epoch, _, _, m in view.epoch_log if m.get(metric) is not None]
    final = {k: float(v) for k, v in view.exported_metrics.items()
             if k in ("held_out_accuracy", "label_fidelity", "confident_share", "frechet_ratio") and v is not None}
    return {
        "number": number, "id": view.id, "kind": view.kind, "arch": request.arch if request else "lab",
        "knobs": dict(request.knobs) if request else {}, "dataset": request.dataset if request else "",
        "epochs": view.epochs, "metric": metric, "curve": curve, "final": final,
        "seconds": round(view.elapsed, 1), "stopped": bool(view.stop_reason), "model_path": view.model_path,
        "files": jobs.run_files(view.model_path),
    }


def remember(runs: list | None, view: jobs.RunView) -> list:
    runs = list(runs or [])
    number = (runs[-1]["number"] + 1) if runs else 1
    return (runs + [record(view, number)])[-KEEP:]


def settings_text(run: dict, lang: str) -> str:
    """The run's settings in a few words: kind, architecture, and the knobs set to other than the
    architecture's own values."""
    say = lambda key, **values: text(key, lang, **values)  # noqa: E731
    own = jobs.arch_defaults(run["kind"], run["arch"])
    knobs = {k: v for k, v in run["knobs"].items() if k == "arch" or v != own.get(k)}
    parts = [run["kind"].upper(), say(f"train.arch.{run['arch']}")]
    if knobs.get("activation"):
        parts.append(say(f"train.runs.activation.{knobs['activation']}"))
    if knobs.get("loss"):
        parts.append(say(f"train.runs.loss.{knobs['loss']}"))
    if knobs.get("dropout") is not None:
        parts.append(say("train.runs.dropout", rate=f"{knobs['dropout']:g}") if knobs["dropout"] else say("train.runs.dropout_off"))
    if knobs.get("train_digits"):
        parts.append(say("train.runs.digits", count=knobs["train_digits"]))
    if knobs.get("augment") is not None:
        parts.append(say("train.runs.augment_on" if knobs["augment"] else "train.runs.augment_off"))
    if knobs.get("gan_digits"):
        parts.append(say("train.runs.gan_digits", count=knobs["gan_digits"]))
    if knobs.get("d_steps"):
        parts.append(say("train.runs.d_steps", steps=knobs["d_steps"]))
    if knobs.get("digits"):  # the visitor's own digits: which way, set apart from the data set's
        parts.append(say(f"train.mine.digits.{knobs['digits']}"))
    if knobs.get("fine_tune"):
        parts.append(say("train.runs.fine_tuned"))
    parts.append(say("train.runs.epochs", epochs=run["epochs"]))
    return " · ".join(parts)


def figures_text(final: dict, lang: str) -> str:
    """The run's figures as the table shows them: held-out accuracy, or for a GAN its sample
    quality and Frechet ratio."""
    parts = [text(f"train.figure.{key}", lang, value=f"{final[key]:.1%}")
             for key in ("held_out_accuracy", "mine_accuracy", "label_fidelity", "confident_share") if key in final]
    if "frechet_ratio" in final:
        parts.append(text("train.figure.frechet_ratio", lang, value=f"{final['frechet_ratio']:.2f}"))
    return text("train.list_separator", lang).join(parts) or "–"


def table(runs: list | None, lang: str) -> str:
    """A Markdown table of the runs, newest first."""
    if not runs:
        return text("train.runs.none", lang)
    say = lambda key: text(key, lang)  # noqa: E731
    head = [say("train.runs.col.number"), say("train.runs.col.settings"), say("train.runs.col.figure"),
            say("train.runs.col.seconds")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in reversed(runs):
        stopped = " " + say("train.runs.stopped_mark") if run["stopped"] else ""
        lines.append(f"| {run['number']} | {settings_text(run, lang)}{stopped} | {figures_text(run['final'], lang)} "
                     f"| {run['seconds']:.0f} |")
    return "\n".join(lines)


def choices(runs: list | None, lang: str) -> list[tuple[str, str]]:
    return [(text("train.runs.choice", lang, number=r["number"], settings=settings_text(r, lang)), r["id"])
            for r in reversed(runs or [])]


def find(runs: list | None, run_id: str | None) -> dict | None:
    return next((r for r in runs or [] if r["id"] == run_id), None)


def compare_chart(runs: list | None, kind: str, lang: str) -> str:
    """The curves of this session's runs of `kind`, one colour a run, each point marked."""
    mine = [r for r in runs or [] if r["kind"] == kind]
    series = [{"name": f"{r['number']}: {settings_text(r, lang)}", "colour": train_plots.PALETTE[r["number"] % 10],
               "points": r["curve"]} for r in mine]
    y_title = text("train.series.held_out_accuracy" if kind == "cnn" else "train.plot.compare.gan_y", lang)
    return train_plots.line_chart(series, text(f"train.plot.compare.{kind}", lang), text("train.plot.epoch", lang),
                                  y_title, text("train.runs.none", lang), y_lim=(0, 1), chart_id="train-compare")


def downloads(run: dict | None) -> list[str]:
    """The run's files, where Gradio may serve them from: its own folder when that lies under the
    working directory or the temp directory (Gradio's rule), else a copy in the temp directory."""
    if not run:
        return []
    files = [f for f in run["files"] if Path(f).is_file()]
    roots = [Path(os.getcwd()).resolve(), Path(tempfile.gettempdir()).resolve()]
    if all(any(Path(f).resolve().is_relative_to(root) for root in roots) for f in files):
        return files
    folder = Path(tempfile.gettempdir()) / "digit-lab-downloads" / run["id"]
    folders.prune_folders(folder.parent, 2**30, folders.DAY, keep=(folder,))  # Gradio keeps its own copy once served
    folder.mkdir(parents=True, exist_ok=True)
    return [str(shutil.copy2(f, folder / Path(f).name)) for f in files]  # a path as text, as gr.File takes it


def model_name(runs: list | None, path: str | None, lang: str) -> str:
    """How the note names a model: the shipped one, or yours with its run's number."""
    if not path:
        return text("train.note.shipped", lang)
    run = next((r for r in runs or [] if r["model_path"] == path), None)
    return text("train.note.run", lang, number=run["number"], name=Path(path).name) if run else text("train.note.yours", lang)


def note(runs: list | None, cnn_path: str | None, gan_path: str | None, lang: str) -> str:
    return text("train.note", lang, cnn=model_name(runs, cnn_path, lang), gan=model_name(runs, gan_path, lang))
