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
SERIES = {  # event keys -> the names the plots show
    "loss": "train loss", "accuracy": "train accuracy",
    "held_out_loss": "held-out loss", "held_out_accuracy": "held-out accuracy",
    "g_loss": "generator loss", "d_loss": "discriminator loss", "label_fidelity": "label fidelity",
}


class InvalidSettings(ValueError):
    """A setting is out of range or of the wrong type; nothing was started."""


class RunBusy(RuntimeError):
    """Another run holds the server; the message says whose kind of run and roughly when it ends."""


@dataclass(frozen=True)
class RunRequest:
    kind: str
    dataset: str
    epochs: int
    lr: float | None  # None: the training script's own default
    batch_size: int
    seed: int

    def config(self, caps: TrainSettings) -> dict:
        """Keyword arguments for CNNConfig / GANConfig; a step cap goes into the config itself,
        so the schedule and the reproducing command both know it."""
        fields = {k: v for k, v in asdict(self).items() if k != "kind" and v is not None}
        return fields | {"device": "auto", "max_steps": caps.max_steps}


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidSettings(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    if not low <= value <= high:
        raise InvalidSettings(f"{name} must be from {low} to {high} on this server, not {int(value)}")
    return int(value)


def validate(kind, dataset, epochs, lr, batch_size, seed, caps: TrainSettings) -> RunRequest:
    """Check a run's settings against the caps; returns the request or raises InvalidSettings.
    `lr` None or 0 means the training script's own default (the config's, read when the run starts)."""
    if kind not in KINDS:
        raise InvalidSettings(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if dataset not in DATASETS:
        raise InvalidSettings(f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    epochs = _whole("epochs", epochs, 1, caps.max_epochs)
    batch_size = _whole("batch size", batch_size, caps.batch_min, caps.batch_max)
    seed = _whole("seed", seed, 0, 2**31 - 1)
    if lr is None or (lr == 0 and not isinstance(lr, bool)):
        return RunRequest(kind, dataset, epochs, None, batch_size, seed)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not np.isfinite(lr):
        raise InvalidSettings(f"learning rate must be a number from {caps.lr_min:g} to {caps.lr_max:g}, not {lr!r}")
    if not caps.lr_min <= lr <= caps.lr_max:
        raise InvalidSettings(f"learning rate must be from {caps.lr_min:g} to {caps.lr_max:g} on this server, not {lr:g}")
    return RunRequest(kind, dataset, epochs, float(lr), batch_size, seed)


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
    points: list[tuple[int, str, float]]  # (step, series, value), append-only
    steps_per_second: float  # measured since the first step (start-up and data loading excluded)
    metrics: dict[str, float]
    samples: np.ndarray | None
    samples_version: int  # bumps when new samples arrive
    stop_reason: str | None
    model_path: str | None
    card_path: str | None
    error: str | None
    exported_metrics: dict = field(default_factory=dict)  # the export's figures for the model as swapped in

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
        self._samples, self._samples_version = None, 0
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
                self._points += [(event.step, SERIES.get(k, k), s / self._count) for k, s in self._sums.items()]
                self._sums, self._count = {}, 0
            if event.epoch_end and event.metrics:
                self._metrics = dict(event.metrics)
                self._points += [(event.step, SERIES.get(k, k), float(v)) for k, v in event.metrics.items()]
            if event.samples is not None:
                self._samples, self._samples_version = np.asarray(event.samples), self._samples_version + 1

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
                dict(self.card["metrics"]) if self.card else {},
            )

    def busy_message(self) -> str:
        view = self.view()
        left = (view.seconds_left(self.caps) or 0) + (EXPORT_SECONDS[view.kind] if view.state != "exporting" else EXPORT_SECONDS[view.kind] / 2)
        where = "exporting its model" if view.state == "exporting" else f"step {view.step} of {view.total_steps}" if view.step else "starting"
        return (f"A {view.kind.upper()} run is going on this server ({where}); only one runs at a time. "
                f"It should end in about {max(1, round(left))} s: try again then.")


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
        raise RunBusy(holder.busy_message() if holder else "A run is finishing on this server; try again in a few seconds.")
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


def stop(owner: str, reason: str = "stopped", wait: float = 5.0) -> str:
    """Ask `owner`'s run to stop between two batches; waits up to `wait` s for training to halt
    (export follows). Returns a message for the tab."""
    run = _current
    if run is None or run.done.is_set():
        return "No run is going."
    if run.owner != owner:
        return "The run going now is another visitor's; only they can stop it."
    return request_stop(run, reason, wait)


def request_stop(run: Run, reason: str = "stopped", wait: float = 5.0) -> str:
    if run.training_ended.is_set():
        return "The run has already stopped training; it is exporting its model."
    if not run.stop_requested.is_set():
        run.stop_reason = reason
        run.stop_requested.set()
    asked = time.monotonic()
    if run.training_ended.wait(wait):
        view = run.view()
        return f"Stopped at step {view.step} of {view.total_steps} ({time.monotonic() - asked:.1f} s after asking); exporting what it learned."
    return "Stopping: the run will end after its current batch."


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
                    run.stop_reason = f"reached the {run.caps.max_seconds:g} s time cap"
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
        return train_cnn.train(train_cnn.CNNConfig(**config), extra=extra)
    from training import train_gan

    return train_gan.train(train_gan.GANConfig(**config))


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
    }
    card_path = run.folder / "run.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    run.card, run.card_path, run.model_path = card, str(card_path), str(run.folder / f"{kind}.onnx")


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
