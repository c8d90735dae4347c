"""What the Train tab says about a run, in the visitor's language: its state (queued, training,
exporting, finished, failed) with its steps, time and figures, the server's caps, and any worded
refusal or message (locales.Explained). Plain functions of a RunView; every word from locales/."""
import locales
from locales import text
from runs import jobs
from training import settings

USED_BY = {"cnn": "app.tab.draw", "gan": "app.tab.generate"}


def _duration(seconds: float, lang: str) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 60:
        return text("train.duration.minutes", lang, minutes=seconds // 60, seconds=f"{seconds % 60:02d}")
    return text("train.duration.seconds", lang, seconds=seconds)


def _figures(metrics: dict, lang: str) -> str:
    parts = [text(f"train.figure.{key}", lang, value=f"{metrics[key]:{style}}")
             for key, style in (("held_out_accuracy", ".1%"), ("mine_accuracy", ".1%"), ("label_fidelity", ".0%"),
                                ("confident_share", ".0%"), ("frechet_ratio", ".1f"))
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


def caps_text(caps: settings.TrainSettings, lang: str) -> str:
    """What this server allows a run, in a sentence."""
    steps = text("train.caps.steps", lang, steps=caps.max_steps) if caps.max_steps else ""
    return text("train.caps", lang, places=jobs.places(caps), queue=caps.queue, time=_duration(caps.max_seconds, lang),
                steps=steps, epochs=caps.max_epochs,
                batch_min=caps.batch_min, batch_max=caps.batch_max, lr_min=f"{caps.lr_min:g}", lr_max=f"{caps.lr_max:g}")
