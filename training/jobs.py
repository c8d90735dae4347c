"""Training runs for the app: one at a time on the whole server, in a background thread.

A run consumes the same `train()` generator as the command line. Stopping is the consumer ceasing
to pull events and closing the generator, so a run ends between two batches and keeps what it
learned (the last event's snapshot). Whether it ends or is stopped, the model goes through the same
export as the shipped ones (ONNX checker and parity with PyTorch) into its own folder,
`<runs>/<run id>/`, beside a run card (`run.json`). A failed export, or a crash, leaves the
visitor's current model in place and says why.

Torch and the training code are imported only when a run starts: the app imports this module at
start-up and must stay light.
"""
import dataclasses
import json
import secrets
import shutil
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from training import knobs as knobs_module
from training import settings as settings_module
from training.settings import DATASETS, KINDS, TrainSettings

try:  # Hugging Face ZeroGPU: a GPU is attached while a spaces.GPU function runs; elsewhere a no-op
    import spaces
except ImportError:
    spaces = None

MAX_POINTS = 200  # plot points per series: the history is averaged into at most this many steps
# Seconds an export took on two shared CPU cores (the GAN's includes its quality figures); only
# for telling a second visitor roughly when the server is free.
EXPORT_SECONDS = {"cnn": 10, "gan": 35}
# The knobs (training/knobs.py checks them) that apply to each kind; a knob
# left at None is not passed, so the architecture's own value applies (as on the command line).
KNOBS = {"cnn": ("arch", "activation", "dropout", "train_digits", "augment", "gan_digits"),
         "gan": ("arch", "loss", "activation", "augment")}


def arch_defaults(kind: str, arch: str) -> dict:
    """The architecture's own knob values, as training/knobs.py states them (the one place that
    reads them, so the tab and this module agree)."""
    return dict(knobs_module.defaults(kind, arch))


class Message(str):
    """An English sentence (for logs, cards and English API clients) that also carries its locale
    key and values, so the tab can say it in the visitor's language."""

    def __new__(cls, key: str, english: str, **values):
        message = super().__new__(cls, english)
        message.key, message.values = key, values
        return message


class _Said(Exception):
    def __init__(self, key: str, english: str, **values):
        super().__init__(english)
        self.key, self.values = key, values


class InvalidSettings(_Said, ValueError):
    """A setting is out of range or of the wrong type, or the knobs do not go together; nothing
    was started. `.key` and `.values` say it in words (locales), str() in English."""


class RunBusy(_Said, RuntimeError):
    """Another run holds the server; the message says whose kind of run and roughly when it ends."""


@dataclass(frozen=True)
class RunRequest:
    kind: str
    dataset: str
    epochs: int
    lr: float | None  # None: the training script's own default
    batch_size: int
    seed: int
    knobs: dict = field(default_factory=dict)  # the knobs set for this kind (None ones left out)

    @property
    def arch(self) -> str:
        return self.knobs.get("arch") or "lab"

    def config(self, caps: TrainSettings) -> dict:
        """Keyword arguments for CNNConfig / GANConfig; a step cap goes into the config itself,
        so the schedule and the reproducing command both know it."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("kind", "knobs") and v is not None}
        return fields | self.knobs | {"device": "auto", "max_steps": caps.max_steps}


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidSettings("train.error.whole", f"{name} must be a whole number from {low} to {high}, not {value!r}",
                              setting=name, low=low, high=high, value=repr(value))
    if not low <= value <= high:
        raise InvalidSettings("train.error.range", f"{name} must be from {low} to {high} on this server, not {int(value)}",
                              setting=name, low=low, high=high, value=int(value))
    return int(value)


def _choice(name: str, value, choices) -> str:
    if value not in choices:
        raise InvalidSettings("train.error.choice", f"{name} must be one of {', '.join(choices)}, not {value!r}",
                              setting=name, choices=", ".join(choices), value=repr(value))
    return value


def _knobs(kind: str, dataset: str, given: dict) -> dict:
    """The knobs that apply to `kind`, typed, with None (or "", or a negative dropout) meaning the
    architecture's own; then training/knobs.py refuses a combination that cannot be trained."""
    arch = _choice("arch", given.get("arch") or "lab", knobs_module.ARCHS)
    kept = {"arch": arch}
    for name in KNOBS[kind][1:]:
        value = given.get(name)
        if value is None or value == "":
            continue
        if name in ("activation", "loss"):
            kept[name] = _choice(name, value, knobs_module.ACTIVATIONS if name == "activation" else knobs_module.LOSSES)
        elif name == "augment":
            if not isinstance(value, bool):
                raise InvalidSettings("train.error.bool", f"{name} must be true or false, not {value!r}",
                                      setting=name, value=repr(value))
            kept[name] = value
        elif name == "dropout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise InvalidSettings("train.error.number", f"{name} must be a number, not {value!r}",
                                      setting=name, value=repr(value))
            if value >= 0:  # negative: the architecture's own
                kept[name] = float(value)
        else:  # train_digits, gan_digits: counts, 0 meaning all (train) or none (GAN-made)
            kept[name] = _whole(name.replace("_", " "), value, 0, 1_000_000)
    try:
        knobs_module.check(kind, {"dataset": dataset, **kept})
    except knobs_module.KnobError as error:
        raise InvalidSettings(error.key, str(error), **error.values) from None
    return kept


def validate(kind, dataset, epochs, lr, batch_size, seed, caps: TrainSettings, **knobs) -> RunRequest:
    """Check a run's settings against the caps and the knobs against each other; returns the
    request or raises InvalidSettings. `lr` None or 0 means the training script's own default (the
    config's, read when the run starts). Knobs that do not apply to `kind` are left out."""
    _choice("kind", kind, KINDS)
    _choice("dataset", dataset, DATASETS)
    epochs = _whole("epochs", epochs, 1, caps.max_epochs)
    batch_size = _whole("batch size", batch_size, caps.batch_min, caps.batch_max)
    seed = _whole("seed", seed, 0, 2**31 - 1)
    if lr is None or (lr == 0 and not isinstance(lr, bool)):
        lr = None
    elif isinstance(lr, bool) or not isinstance(lr, (int, float)) or not np.isfinite(lr):
        raise InvalidSettings("train.error.lr_number", f"learning rate must be a number from {caps.lr_min:g} to {caps.lr_max:g}, not {lr!r}",
                              low=f"{caps.lr_min:g}", high=f"{caps.lr_max:g}", value=repr(lr))
    elif not caps.lr_min <= lr <= caps.lr_max:
        raise InvalidSettings("train.error.lr_range", f"learning rate must be from {caps.lr_min:g} to {caps.lr_max:g} on this server, not {lr:g}",
                              low=f"{caps.lr_min:g}", high=f"{caps.lr_max:g}", value=f"{lr:g}")
    else:
        lr = float(lr)
    return RunRequest(kind, dataset, epochs, lr, batch_size, seed, _knobs(kind, dataset, knobs))


def usable_corrections(corrections: Sequence) -> list[tuple[np.ndarray, int]]:
    """The Draw tab's (28x28 image in [0,1], digit) pairs that can be trained on."""
    kept = []
    for item in corrections or ():
        try:
            image, digit = item
            image = np.asarray(image, dtype=np.float32)
        except (TypeError, ValueError):
            continue
        if image.shape == (28, 28) and np.isfinite(image).all() and int(digit) in range(10):
            kept.append((np.clip(image, 0.0, 1.0), int(digit)))
    return kept


@dataclass
class RunView:
    """What the tab shows of a run at one moment (a copy: the run goes on changing)."""

    id: str
    kind: str
    state: str  # starting, training, stopping, exporting, finished, failed
    step: int
    total_steps: int
    epoch: int
    epochs: int
    elapsed: float
    points: list[tuple[int, str, float]]  # (step, event key, value), append-only
    steps_per_second: float  # measured since the first step (start-up and data loading excluded)
    metrics: dict[str, float]
    samples: np.ndarray | None
    samples_version: int  # bumps when new samples arrive
    stop_reason: str | None
    model_path: str | None
    card_path: str | None
    error: str | None
    exported_metrics: dict = field(default_factory=dict)  # the export's figures for the model as swapped in
    sample_scores: np.ndarray | None = None  # the discriminator's score for each sample (GAN)
    epoch_log: list = field(default_factory=list)  # (epoch, step, seconds, metrics) at each epoch's end
    request: RunRequest | None = None

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed")

    def seconds_left(self, caps: TrainSettings) -> float | None:
        """Training time left: the steps to go at the rate so far, but never past the time cap."""
        if self.done or self.state == "exporting":
            return 0.0
        by_cap = max(0.0, caps.max_seconds - self.elapsed)
        rate = self.steps_per_second
        return min(by_cap, (self.total_steps - self.step) / rate) if rate else by_cap


class Run:
    def __init__(self, request: RunRequest, owner: str, caps: TrainSettings, corrections: list):
        self.request, self.owner, self.caps = request, owner, caps
        self.corrections = corrections
        self.id = f"{time.strftime('%Y%m%d-%H%M%S')}-{request.kind}-{secrets.token_hex(3)}"
        self.folder = Path(caps.runs_dir) / self.id
        self.started = time.monotonic()
        self.stop_requested = threading.Event()
        self.training_ended = threading.Event()  # no more optimiser steps will be taken
        self.done = threading.Event()  # exported (or failed) and the server is free again
        self.stop_reason: str | None = None
        self._lock = threading.Lock()
        self._state = "starting"
        self._step = self._total = self._epoch = 0
        self._elapsed = 0.0
        self._first: tuple[int, float] | None = None  # (step, elapsed) of the first event: the rate's origin
        self._points: list[tuple[int, str, float]] = []
        self._metrics: dict[str, float] = {}
        self._samples, self._samples_version, self._sample_scores = None, 0, None
        self._epoch_log: list[tuple[int, int, float, dict]] = []
        self._sums: dict[str, float] = {}
        self._count = 0
        self.model_path = self.card_path = self.error = None
        self.card: dict | None = None

    # -- written by the run's thread ------------------------------------------------------------
    def record(self, event) -> None:
        """Take in one Progress event: losses are averaged over the steps between plot points,
        so a long run still draws at most MAX_POINTS points per series."""
        every = max(1, -(-event.total_steps // MAX_POINTS))
        with self._lock:
            self._state = "training" if not self.stop_requested.is_set() else "stopping"
            self._step, self._total, self._epoch, self._elapsed = event.step, event.total_steps, event.epoch, event.elapsed
            self._first = self._first or (event.step, event.elapsed)
            for key, value in event.losses.items():
                self._sums[key] = self._sums.get(key, 0.0) + float(value)
            self._count += 1
            if self._count >= every or event.epoch_end or event.step == event.total_steps:
                self._points += [(event.step, k, s / self._count) for k, s in self._sums.items()]
                self._sums, self._count = {}, 0
            if event.epoch_end and event.metrics:
                self._metrics = dict(event.metrics)
                self._points += [(event.step, k, float(v)) for k, v in event.metrics.items()]
                self._epoch_log.append((event.epoch, event.step, float(event.elapsed), dict(self._metrics)))
            if event.samples is not None:
                self._samples, self._samples_version = np.asarray(event.samples), self._samples_version + 1
                scores = event.sample_scores  # the discriminator's score of each sample (GAN runs)
                self._sample_scores = None if scores is None else np.asarray(scores, dtype=np.float32)

    def set_state(self, state: str) -> None:
        with self._lock:
            self._state = state

    # -- read by anyone ------------------------------------------------------------------------
    def view(self) -> RunView:
        with self._lock:
            elapsed = time.monotonic() - self.started
            if self._state in ("exporting", "finished", "failed") and self._step:
                elapsed = self._elapsed  # training time, not counting the export
            rate = 0.0
            if self._first and self._elapsed > self._first[1]:
                rate = (self._step - self._first[0]) / (self._elapsed - self._first[1])
            return RunView(
                self.id, self.request.kind, self._state, self._step, self._total, self._epoch,
                self.request.epochs, elapsed, list(self._points), rate, dict(self._metrics), self._samples,
                self._samples_version, self.stop_reason, self.model_path, self.card_path, self.error,
                dict(self.card["metrics"]) if self.card else {}, self._sample_scores, list(self._epoch_log),
                self.request,
            )

    def busy(self) -> RunBusy:
        """The refusal a second visitor gets: which kind of run, how far, and roughly when it ends."""
        view = self.view()
        left = (view.seconds_left(self.caps) or 0) + (EXPORT_SECONDS[view.kind] if view.state != "exporting" else EXPORT_SECONDS[view.kind] / 2)
        where = "exporting" if view.state == "exporting" else "step" if view.step else "starting"
        english = {"exporting": "exporting its model", "step": f"step {view.step} of {view.total_steps}", "starting": "starting"}[where]
        seconds = max(1, round(left))
        return RunBusy(f"train.busy.{where}", f"A {view.kind.upper()} run is going on this server ({english}); only one runs "
                       f"at a time. It should end in about {seconds} s: try again then.",
                       kind=view.kind.upper(), step=view.step, total=view.total_steps, seconds=seconds)


_server_lock = threading.Lock()  # held from a run's start until it has exported: one run at a time
_current: Run | None = None


def current() -> Run | None:
    return _current


def start(request: RunRequest, owner: str, corrections: Sequence = (), caps: TrainSettings | None = None,
          make_events: Callable | None = None) -> Run:
    """Start a run in the background and return it at once; raises RunBusy while another run holds
    the server. `make_events(run)` replaces the real training loop (for tests of this module)."""
    global _current
    caps = caps or settings_module.load()
    if not _server_lock.acquire(blocking=False):
        holder = _current
        raise holder.busy() if holder else RunBusy("train.busy.finishing", "A run is finishing on this server; try again in a few seconds.")
    try:
        kept = usable_corrections(corrections) if request.kind == "cnn" else []
        run = Run(request, owner, caps, kept)
        _current = run
        threading.Thread(target=_execute_on_gpu, args=(run, make_events), name=f"train-{run.id}", daemon=True).start()
        return run
    except BaseException:
        _current = None
        _server_lock.release()
        raise


def stop(owner: str, reason: str = Message("train.reason.stopped", "stopped"), wait: float = 5.0) -> Message:
    """Ask `owner`'s run to stop between two batches; waits up to `wait` s for training to halt
    (export follows). Returns a message for the tab."""
    run = _current
    if run is None or run.done.is_set():
        return Message("train.stop.none", "No run is going.")
    if run.owner != owner:
        return Message("train.stop.not_yours", "The run going now is another visitor's; only they can stop it.")
    return request_stop(run, reason, wait)


def request_stop(run: Run, reason: str = Message("train.reason.stopped", "stopped"), wait: float = 5.0) -> Message:
    """`reason` is kept in the card; a Message (e.g. STOPPED_BY_VISITOR) can also be said in words."""
    if run.training_ended.is_set():
        return Message("train.stop.exporting", "The run has already stopped training; it is exporting its model.")
    if not run.stop_requested.is_set():
        run.stop_reason = reason
        run.stop_requested.set()
    asked = time.monotonic()
    if run.training_ended.wait(wait):
        view, took = run.view(), f"{time.monotonic() - asked:.1f}"
        return Message("train.stop.done", f"Stopped at step {view.step} of {view.total_steps} ({took} s after asking); "
                       "exporting what it learned.", step=view.step, total=view.total_steps, seconds=took)
    return Message("train.stop.pending", "Stopping: the run will end after its current batch.")


# Why a run stopped early, as the card records it and the tab says it.
STOPPED_BY_VISITOR = Message("train.reason.visitor", "stopped by the visitor")
PAGE_CLOSED = Message("train.reason.closed", "the page was closed")


def _execute(run: Run, make_events: Callable | None) -> None:
    """The run's thread: train, stop when asked or at a cap, export, write the card, free the server."""
    global _current
    try:
        events = (make_events or training_events)(run)
        last = None
        try:
            for event in events:
                last = event
                run.record(event)
                if run.stop_requested.is_set():
                    break
                if time.monotonic() - run.started >= run.caps.max_seconds:
                    run.stop_reason = Message("train.reason.time_cap", f"reached the {run.caps.max_seconds:g} s time cap",
                                              seconds=f"{run.caps.max_seconds:g}")
                    break
        finally:
            events.close()  # stops the loop between two batches
            run.training_ended.set()
        if last is None:
            raise RuntimeError("the run ended before its first step")
        run.set_state("exporting")
        _export(run, last)
        run.set_state("finished")
    except Exception as error:
        traceback.print_exc()
        run.error = f"{type(error).__name__}: {error}"
        run.set_state("failed")
    finally:
        run.training_ended.set()
        _current = None
        _server_lock.release()
        run.done.set()


# ZeroGPU attaches a GPU only while a function wrapped by spaces.GPU runs; its duration must cover
# the longest run this server allows, plus the export.
_execute_on_gpu = (
    spaces.GPU(duration=int(settings_module.load().max_seconds) + 120)(_execute) if spaces is not None else _execute
)


def training_events(run: Run) -> Iterator:
    """The real loop: train_cnn.train or train_gan.train, on the GPU where there is one."""
    import torch

    from training import data

    torch.set_num_threads(run.caps.torch_threads())
    config = run.request.config(run.caps)
    if run.request.kind == "cnn":
        from training import train_cnn

        extra = None
        if run.corrections:
            images = np.stack([image for image, _ in run.corrections])[:, None]
            extra = data.Split(torch.from_numpy(images), torch.tensor([digit for _, digit in run.corrections]))
        return train_cnn.train(_config(train_cnn.CNNConfig, config), extra=extra)
    from training import train_gan

    return train_gan.train(_config(train_gan.GANConfig, config))


def _config(cls, config: dict):
    """cls(**config), saying clearly which knob the training code does not know. (Before the
    primer's networks and knobs land in the training configs, a knob at Digit Lab's own value is
    what the code does anyway, and is dropped.)"""
    known = {f.name for f in dataclasses.fields(cls)}
    own = {"arch": "lab", **arch_defaults("cnn" if cls.__name__.startswith("CNN") else "gan", "lab")}
    unknown = sorted(k for k in set(config) - known if own.get(k, object()) != config[k])
    if unknown:
        raise ValueError(f"this training code has no {', '.join(unknown)} setting")
    return cls(**{k: v for k, v in config.items() if k in known})


def _export(run: Run, last) -> None:
    """Export the last event's snapshot to `<run folder>/<kind>.onnx` and write the run card."""
    from training import export, runtime

    kind = run.request.kind
    checkpoint = last.snapshot()
    run.folder.mkdir(parents=True, exist_ok=True)
    _prune(run.folder.parent, run.caps.keep_runs, keep=run.folder)
    runtime.save_checkpoint(checkpoint, run.folder / f"{kind}.pt")  # so the CLI can resume or re-export it
    model_card = export.export(checkpoint, run.folder / f"{kind}.onnx")  # raises ExportError: nothing swapped
    stopped_early = last.step < last.total_steps
    card = {
        "run": run.id, "kind": kind, "config": checkpoint["config"],
        "command": export.training_command(kind, checkpoint["config"]),
        "export_command": f"python -m training.export --checkpoint {run.folder / (kind + '.pt')} --out {kind}.onnx",
        "steps": last.step, "total_steps": last.total_steps, "epochs_started": last.epoch,
        "training_seconds": round(last.elapsed, 1), "wall_seconds": round(time.monotonic() - run.started, 1),
        "stopped_early": stopped_early, "stop_reason": run.stop_reason if stopped_early else None,
        "corrections": len(run.corrections),
        "metrics": model_card["metrics"], "last_epoch_metrics": checkpoint.get("metrics", {}),
        "torch_threads": run.caps.torch_threads(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "notes": _card_notes(run, last, stopped_early),
        "summary": _card_summary(run, last, model_card["metrics"]),
    }
    card_path = run.folder / "run.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    run.card, run.card_path, run.model_path = card, str(card_path), str(run.folder / f"{kind}.onnx")


def _card_summary(run: Run, last, figures: dict) -> dict[str, str]:
    """The card's one human-readable line, in every language the app speaks (its keys stay English)."""
    import locales

    summary = {}
    for lang in locales.LANGUAGES:
        said = [locales.text(f"train.figure.{key}", lang, value=f"{figures[key]:{style}}")
                for key, style in (("held_out_accuracy", ".1%"), ("label_fidelity", ".1%"), ("confident_share", ".1%"),
                                   ("frechet_ratio", ".2f")) if figures.get(key) is not None]
        summary[lang] = locales.text("train.card.summary", lang, model=run.request.kind.upper(),
                                     arch=locales.text(f"train.arch.{run.request.arch}", lang), step=last.step,
                                     total=last.total_steps, seconds=f"{last.elapsed:.0f}",
                                     figures=locales.text("train.list_separator", lang).join(said) or "-")
    return summary


def run_files(model_path: str | None) -> list[str]:
    """What a visitor may take home from a finished run: its ONNX model, the companions the views
    read (`<stem>.layers.onnx`, `<stem>.discriminator.onnx`) where the export
    wrote them, the export's model card and the run card, in that order."""
    if not model_path:
        return []
    model = Path(model_path)
    wanted = [model, model.with_suffix(".layers.onnx"), model.with_suffix(".discriminator.onnx"),
              model.with_suffix(".json"), model.parent / "run.json"]
    return [str(p) for p in wanted if p.is_file()]


def _card_notes(run: Run, last, stopped_early: bool) -> list[str]:
    notes = []
    if stopped_early:
        notes.append(f"Stopped at step {last.step} of {last.total_steps} ({run.stop_reason}); the command runs "
                     "all the steps, so to reproduce this model interrupt it (Ctrl-C) at that step.")
    if run.corrections:
        notes.append(f"Trained with {len(run.corrections)} corrections from the Draw tab, which the command "
                     "line cannot replay.")
    return notes


def _prune(runs_dir: Path, keep_runs: int, keep: Path) -> None:
    """Delete the oldest run folders beyond `keep_runs` (run ids start with their date and time)."""
    if not keep_runs:
        return
    folders = sorted(p for p in runs_dir.iterdir() if p.is_dir() and p != keep)
    for old in folders[: max(0, len(folders) - (keep_runs - 1))]:
        shutil.rmtree(old, ignore_errors=True)
