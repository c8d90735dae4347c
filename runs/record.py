"""What the app knows of a training run while it goes: the Run (written by the run's thread in the
main process, read by the tab) and RunView, the copy the tab shows at one moment. Torch-free.

A Run holds locks and events, so it never leaves the main process: a ZeroGPU worker gets plain
settings and sends back plain events (runs/executor.py), which the run's thread records here."""
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import locales
from runs.request import RunRequest
from training.settings import TrainSettings
from training.turns import Turns

MAX_POINTS = 200  # plot points per series: the history is averaged into at most this many steps
# Seconds an export takes on two CPU cores, warm (the GAN's includes its quality figures and its
# sliders: 2-3.5 s and about 20 s here, 2026-12-04): a queued run's wait counts these until this
# server has timed an export of its own (runs/queue.py).
EXPORT_SECONDS = {"cnn": 4, "gan": 20}


class RunBusy(locales.Explained, RuntimeError):
    """A Start that cannot join the queue: the visitor has a run going or waiting, or the queue is full."""


@dataclass
class RunView:
    """What the tab shows of a run at one moment (a copy: the run goes on changing)."""

    id: str
    kind: str
    state: str  # queued, starting, training, stopping, exporting, finished, failed, left (the queue)
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
    stop_reason: "str | locales.Explained | None"
    model_path: str | None
    card_path: str | None
    error: str | None
    exported_metrics: dict = field(default_factory=dict)  # the export's figures for the model as swapped in
    sample_scores: np.ndarray | None = None  # the discriminator's score for each sample (GAN)
    epoch_log: list = field(default_factory=list)  # (epoch, step, seconds, metrics) at each epoch's end
    request: RunRequest | None = None
    device: str | None = None  # "cuda" or "cpu", once the run's first step says where it trains
    device_note: locales.Explained | None = None  # why it is not on the GPU it asked for (ZeroGPU refused)
    startup: float | None = None  # seconds from its start to its first step
    place: int = 0  # while queued: its place (1 = next), of queue_length waiting, starting in about starts_in s
    queue_length: int = 0
    starts_in: float | None = None
    starts_in_measured: bool = True  # False: starts_in is the caps' upper bound (nothing like the runs ahead timed yet)
    # A CNN run's layers with weights, input side first ({"name", "kind", "shape"}), and at each step
    # read, each one's gradient norm: (step, [norm a layer]), append-only
    gradient_layers: list = field(default_factory=list)
    gradients: list = field(default_factory=list)
    # A GAN run: each grid sample's dL_G/dx [100,28,28] (with the samples); paused (training/turns.py);
    # the last step's losses; and the steps visitors asked for: (step, side, losses, moved), append-only
    sample_gradients: np.ndarray | None = None
    paused: bool = False
    losses: dict = field(default_factory=dict)
    turns: list = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed", "left")

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
        self.mine: list = []  # the visitor's own set (runs/jobs.py start), plain (image, digit) pairs
        self.start_from: str | None = None  # a fine-tuning run's ONNX to begin from; None: the shipped
        self.id = f"{time.strftime('%Y%m%d-%H%M%S')}-{request.kind}-{secrets.token_hex(3)}"
        self.folder = Path(caps.runs_dir) / self.id
        self.started = time.monotonic()  # set again when a queued run starts
        self.cold = False  # set when it starts: True if torch was not yet imported in this process
        self.stop_requested = threading.Event()
        self.training_ended = threading.Event()  # no more optimiser steps will be taken
        self.done = threading.Event()  # exported (or failed) and the server is free again
        self.turns = Turns()  # a GAN run's pause and asked steps (read by its loop where it runs in-process)
        self.steppable = False  # set by runs/jobs.py: a GAN run whose loop runs in this process
        self.stop_reason: "str | locales.Explained | None" = None
        self._lock = threading.Lock()
        self._state = "queued"
        self._startup: float | None = None
        self._step = self._total = self._epoch = 0
        self._elapsed = 0.0
        self._first: tuple[int, float] | None = None  # (step, elapsed) of the first event: the rate's origin
        self._points: list[tuple[int, str, float]] = []
        self._metrics: dict[str, float] = {}
        self._samples, self._samples_version, self._sample_scores, self._sample_gradients = None, 0, None, None
        self._losses: dict = {}
        self._turns: list = []
        self._epoch_log: list[tuple[int, int, float, dict]] = []
        self._gradient_layers: list[dict] = []
        self._gradients: list[tuple[int, list[float]]] = []
        self._sums: dict[str, float] = {}
        self._count = 0
        self._device: str | None = None
        self._device_note: locales.Explained | None = None
        self.model_path = self.card_path = self.error = None
        self.card: dict | None = None

    # -- written by the run's thread ------------------------------------------------------------
    def record(self, event) -> None:
        """Take in one event (training.runtime.Progress, or the executor's plain twin): losses
        are averaged over the steps between plot points, so a long run still draws at most
        MAX_POINTS points per series."""
        every = max(1, -(-event.total_steps // MAX_POINTS))
        with self._lock:
            self._state = "training" if not self.stop_requested.is_set() else "stopping"
            self._step, self._total, self._epoch, self._elapsed = event.step, event.total_steps, event.epoch, event.elapsed
            if self._first is None:
                self._first, self._startup = (event.step, event.elapsed), time.monotonic() - self.started
            self._losses = {k: float(v) for k, v in event.losses.items()}
            turn = getattr(event, "turn", None)  # a step a visitor asked for
            if turn:
                self._turns.append((event.step, turn["side"], dict(self._losses), dict(turn["moved"])))
            for key, value in event.losses.items():
                self._sums[key] = self._sums.get(key, 0.0) + float(value)
            self._count += 1
            if self._count >= every or event.epoch_end or event.step == event.total_steps or turn:
                self._points += [(event.step, k, s / self._count) for k, s in self._sums.items()]
                self._sums, self._count = {}, 0
            if event.epoch_end and event.metrics:
                self._metrics = dict(event.metrics)
                self._points += [(event.step, k, float(v)) for k, v in event.metrics.items()]
                self._epoch_log.append((event.epoch, event.step, float(event.elapsed), dict(self._metrics)))
            gradients = getattr(event, "gradients", None)  # a CNN run's, every few steps
            if gradients:
                self._gradient_layers = [{k: g[k] for k in ("name", "kind", "shape")} for g in gradients]
                self._gradients.append((event.step, [float(g["gradient_norm"]) for g in gradients]))
            if event.samples is not None:
                self._samples, self._samples_version = np.asarray(event.samples), self._samples_version + 1
                scores = getattr(event, "sample_scores", None)  # the discriminator's score of each sample (GAN runs)
                self._sample_scores = None if scores is None else np.asarray(scores, dtype=np.float32)
                pushes = getattr(event, "sample_gradients", None)
                self._sample_gradients = None if pushes is None else np.asarray(pushes, dtype=np.float32)

    def set_state(self, state: str) -> None:
        with self._lock:
            self._state = state

    def set_device(self, device: str | None = None, note: locales.Explained | None = None) -> None:
        """Where the run trains (from its first event), and why not on the GPU when ZeroGPU refused."""
        with self._lock:
            self._device = device or self._device
            self._device_note = note or self._device_note

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
                self.request, self._device, self._device_note, self._startup,
                gradient_layers=list(self._gradient_layers), gradients=list(self._gradients),
                sample_gradients=self._sample_gradients, paused=self.turns.paused and self._state == "training",
                losses=dict(self._losses), turns=list(self._turns),
            )
