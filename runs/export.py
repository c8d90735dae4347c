"""A finished (or stopped) run's export: its snapshot saved, then through the same export as the
shipped models (ONNX checker and parity with PyTorch, in a process of its own: runs/exporter.py)
into `<runs>/<run id>/`, beside a run card (`run.json`), and the files a visitor may take home."""
import json
import re
import time
from pathlib import Path

from runs import exporter
from visitors import folders

RUN_FOLDER = re.compile(r"\d{8}-\d{6}-[a-z]+-[0-9a-f]{6}")  # runs/record.py's ids: nothing else in the folder is a run
MODEL_FILES = (".onnx", ".layers.onnx", ".discriminator.onnx", ".json")  # the model and what the export writes beside it


def export(run, last) -> None:
    """Export the last event's snapshot to `<run folder>/<kind>.onnx` and write the run card."""
    from training import runtime

    kind = run.request.kind
    checkpoint = last.snapshot()
    step = checkpoint.get("step", last.step)  # a ZeroGPU worker may take one more step than was shown
    run.folder.mkdir(parents=True, exist_ok=True)
    _prune(run.folder.parent, keep=run.folder)
    runtime.save_checkpoint(checkpoint, run.folder / f"{kind}.pt")  # so the CLI can resume or re-export it
    model_card = exporter.export(run.folder / f"{kind}.pt", run.folder / f"{kind}.onnx")  # raises ExportError: nothing swapped
    model_card["metrics"] = {**model_card["metrics"], **mine_figures(run, run.folder / f"{kind}.onnx")}
    stopped_early = step < last.total_steps
    reason = str(run.stop_reason) if stopped_early and run.stop_reason else None
    view = run.view()
    card = {
        "run": run.id, "kind": kind, "config": checkpoint["config"],
        "command": model_card["training_command"],
        "export_command": f"python -m training.export --checkpoint {run.folder / (kind + '.pt')} --out {kind}.onnx",
        "steps": step, "total_steps": last.total_steps, "epochs_started": last.epoch,
        "training_seconds": round(last.elapsed, 1), "wall_seconds": round(time.monotonic() - run.started, 1),
        "stopped_early": stopped_early, "stop_reason": reason,
        "device": view.device, "device_note": str(view.device_note) if view.device_note else None,
        "corrections": len(run.corrections),
        "mine": {"digits": len(run.mine), "held_out": model_card["metrics"].get("mine_held_out_digits", 0),
                 "trained_on": checkpoint["config"].get("digits", "dataset"),
                 "fine_tuned_from": (run.start_from or "shipped") if checkpoint["config"].get("fine_tune") else None},
        "metrics": model_card["metrics"], "last_epoch_metrics": checkpoint.get("metrics", {}),
        "torch_threads": run.caps.torch_threads(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "notes": _card_notes(run, step, last.total_steps, reason),
        "summary": _card_summary(run, step, last, model_card["metrics"]),
        "settings": _card_settings(kind, checkpoint["config"]),
    }
    card_path = run.folder / "run.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    run.card, run.card_path, run.model_path = card, str(card_path), str(run.folder / f"{kind}.onnx")


def _card_summary(run, step: int, last, figures: dict) -> dict[str, str]:
    """The card's one human-readable line, in every language the app speaks (its keys stay English)."""
    import locales

    summary = {}
    for lang in locales.LANGUAGES:
        said = [locales.text(f"train.figure.{key}", lang, value=f"{figures[key]:{style}}")
                for key, style in (("held_out_accuracy", ".1%"), ("mine_accuracy", ".1%"), ("label_fidelity", ".1%"),
                                   ("confident_share", ".1%"), ("frechet_ratio", ".2f")) if figures.get(key) is not None]
        summary[lang] = locales.text("train.card.summary", lang, model=run.request.kind.upper(),
                                     arch=locales.text(f"train.arch.{run.request.arch}", lang), step=step,
                                     total=last.total_steps, seconds=f"{last.elapsed:.0f}",
                                     figures=locales.text("train.list_separator", lang).join(said) or "-")
    return summary


def _card_settings(kind: str, config: dict) -> list[dict]:
    """The settings the Train tab offers, as training/knob_list.py declares them: each one's value
    in this run, whether it is the architecture's own, and its name in every language the app speaks."""
    import locales
    from training import knob_list

    arch = config.get("arch", "lab")
    return [{"name": knob.name, "value": config.get(knob.name), "own": config.get(knob.name) == knob.own(kind, arch),
             "words": {lang: locales.text(knob.words, lang) for lang in locales.LANGUAGES}}
            for knob in knob_list.on_tab(kind)]


def _card_notes(run, step: int, total: int, reason: str | None) -> list[str]:
    notes = []
    if step < total:
        notes.append(f"Stopped at step {step} of {total} ({reason}); the command runs "
                     "all the steps, so to reproduce this model interrupt it (Ctrl-C) at that step.")
    if run.corrections:
        notes.append(f"Trained with {len(run.corrections)} corrections from the Draw tab, which the command "
                     "line cannot replay.")
    if run.mine:
        notes.append(f"Given the visitor's own set of {len(run.mine)} digits; the command line takes it as "
                     "--mine FILE (the Draw tab's download). Its held-out part was scored, never trained on.")
    return notes


def mine_figures(run, model: Path) -> dict:
    """The exported model on the visitor's held-out drawings (chosen by inference/my_digits.split,
    never trained on), beside mnist-5k's figure: the two questions a run on one's own digits asks."""
    if not run.mine:
        return {}
    from inference import mistakes, my_digits

    train, held_out = my_digits.split(run.mine)
    figures = {"mine_train_digits": len(train), "mine_held_out_digits": len(held_out)}
    if held_out:
        figures["mine_accuracy"] = mistakes.mistakes("lab", "mine", run.mine, cnn_path=str(model))["accuracy"]
    return figures


def run_files(model_path: str | None) -> list[str]:
    """What a visitor may take home from a finished run: its ONNX model, the companions the views
    read (`<stem>.layers.onnx`, `<stem>.discriminator.onnx`) where the export
    wrote them, the export's model card and the run card, in that order."""
    if not model_path:
        return []
    model = Path(model_path)
    wanted = [model.with_suffix(suffix) for suffix in MODEL_FILES] + [model.parent / "run.json"]
    return [str(p) for p in wanted if p.is_file()]


def _prune(runs_dir: Path, keep: Path) -> None:
    """Delete the run folders unused for longer than the age allows, then the least recently used
    while they hold more than the bytes allow (visitors/folders.py). Not by their number: another
    visitor's runs, however many, never delete a visitor's model in use (its folder is touched
    whenever the visitor's page comes back with it)."""
    max_bytes, max_age = folders.runs_bounds()
    folders.prune_folders(runs_dir, max_bytes, max_age, keep=(keep,), only=RUN_FOLDER)
