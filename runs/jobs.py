"""Training runs for the app: a fair queue of them, taking turns on the server, each pulled by its
own thread once its turn has come.

A visitor's Start joins the queue (one run a visitor, going or waiting; at most `caps.queue`
waiting) and starts by itself when a place is free: one place on the CPU, where runs share the
cores, and three on ZeroGPU, where each has its own lent GPU (`caps.at_once` sets it). While it
waits, its view says its place and when it should start (runs/queue.py measures that);
Stop, or closing the page, takes it out of the queue.

A run consumes the same events as the command line's loop (runs/executor.py decides where it
executes: in-process here and on CPU basic, a spaces.GPU worker on ZeroGPU). Stopping is the
consumer ceasing to pull events and closing the generator, so a run ends between two batches and
keeps what it learned (the last step's snapshot). Whether it ends or is stopped, the model goes
through the same export as the shipped ones into its own folder (runs/export.py). A failed
export, or a crash, leaves the visitor's current model in place and says why.

The run's thread runs in a copy of the starting handler's context (contextvars), so spaces.GPU,
first pulled there, reads the visitor's Gradio request as if called in the handler itself.

A GAN run going in this process can be paused and stepped (training/turns.py; a visitor's controls
are runs/control.py): while paused, its thread pulls no event, so the loop waits between
two batches; a step asked for lets it pull one event a step. A paused run still counts against the
time cap, so it cannot hold the server's place.

Torch and the training code are imported only when a run starts: the app imports this module at
start-up and must stay light.
"""
import contextvars
import sys
import threading
import time
import traceback
from dataclasses import replace
from typing import Callable, Iterator, Sequence

from classroom import hook as class_hook
from locales import Explained
from runs import executor, exporter, worker
from runs import queue as run_queue
from runs.export import export as _export
from runs.export import run_files  # noqa: F401 (the tab's downloads)
from runs.record import EXPORT_SECONDS, MAX_POINTS, Run, RunBusy, RunView  # noqa: F401
from runs.request import KNOBS, InvalidSettings, RunRequest, arch_defaults, usable_corrections, validate  # noqa: F401
from runs.worker import _config  # noqa: F401 (tests call it here)
from training import settings as settings_module
from training.settings import TrainSettings

# Why a run stopped early, as the card records it and the tab says it.
STOPPED = Explained("train.reason.stopped")
STOPPED_BY_VISITOR = Explained("train.reason.visitor")
PAGE_CLOSED = Explained("train.reason.closed")

_lock = threading.Lock()  # guards the two lists below
_going: list[Run] = []  # training or exporting, in the order they started
_waiting: list[tuple[Run, Callable | None, contextvars.Context]] = []  # first come, first served
timings = run_queue.Timings()  # what this server has measured of its runs, for the queue's estimates


def owner(request) -> str:
    """Whose runs these are: the page that starts them (its Gradio session; the class board attaches
    the same page to a student, so its runs reach the board). Never a limit's key: limits count by
    address (visitors/limits.py), since a client makes up its session."""
    return getattr(request, "session_hash", None) or "anonymous"


def places(caps: TrainSettings) -> int:
    """How many runs train at once."""
    return caps.at_once or (3 if executor.on_zerogpu() else 1)


def current() -> Run | None:
    """The first run going, if any."""
    with _lock:
        return _going[0] if _going else None


def _queued() -> list[Run]:
    """The runs waiting, first come first (call with _lock held)."""
    return [entry[0] for entry in _waiting]


def runs() -> list[Run]:
    """The runs going, then those waiting, in their order."""
    with _lock:
        return _going + _queued()


def _of(owner: str) -> Run | None:
    """`owner`'s run, going or waiting (call with _lock held)."""
    return next((run for run in _going + _queued() if run.owner == owner), None)


def start(request: RunRequest, owner: str, corrections: Sequence = (), caps: TrainSettings | None = None,
          make_events: Callable | None = None, mine: Sequence = (), start_from: str | None = None) -> Run:
    """Queue a run and return it at once; it starts now if a place is free. Raises RunBusy when
    `owner` already has a run going or waiting, or the queue is full. `make_events(run)` replaces
    where the run executes (for tests and benchmarks). `mine`: the visitor's own set, plain data as
    the corrections are; `start_from`: the ONNX a fine-tuning run begins from (None: the shipped)."""
    caps = caps or settings_module.load()
    kept = usable_corrections(corrections) if request.kind == "cnn" else []
    own_set = usable_corrections(mine) if request.kind == "cnn" else []  # the same (image, digit) pairs
    with _lock:
        mine = _of(owner)
        if mine is not None:
            raise RunBusy("train.busy.yours_waiting" if mine.view().state == "queued" else "train.busy.yours")
        if len(_going) >= places(caps) and len(_waiting) >= caps.queue:
            first_free = min(timings.left(run.view(), caps).seconds for run in _going)
            raise RunBusy("train.busy.full", waiting=len(_waiting), seconds=max(1, round(first_free)))
        run = Run(request, owner, caps, kept)
        run.mine = own_set
        run.start_from = start_from
        run.steppable = request.kind == "gan" and executor.steppable()
        # The handler's context: the visitor's request, for ZeroGPU's quota, whenever the run starts.
        _waiting.append((run, make_events, contextvars.copy_context()))
        _start_next(caps)
    return run


def _start_next(caps: TrainSettings) -> None:
    """Start queued runs while there are places (call with _lock held)."""
    while _waiting and len(_going) < places(caps):
        run, make_events, context = _waiting.pop(0)
        run.started, run.cold = time.monotonic(), "torch" not in sys.modules
        run.set_state("starting")
        _going.append(run)
        # make_events in a list the thread empties: what it holds is then freed before `done` (_execute)
        threading.Thread(target=context.run, args=(_execute, run, [make_events]), name=f"train-{run.id}", daemon=True).start()


def view(run: Run) -> RunView:
    """The run as the tab shows it; while it waits, with its place and when it should start."""
    seen = run.view()
    with _lock:
        queue, going = _queued(), list(_going)
    if run not in queue:
        return seen
    for other in going:
        timings.observe(other.view(), run.caps, other.cold)
    place = queue.index(run)
    starts = run_queue.wait([timings.left(other.view(), run.caps) for other in going],
                            [timings.duration(ahead.request, run.caps) for ahead in queue[:place]], places(run.caps))
    return replace(seen, place=place + 1, queue_length=len(queue), starts_in=starts.seconds,
                   starts_in_measured=starts.measured)


def stop(owner: str, reason: Explained | str = STOPPED, wait: float = 5.0) -> Explained:
    """Ask `owner`'s run to stop between two batches (or take it out of the queue); waits up to
    `wait` s for training to halt (export follows). Returns a message for the tab."""
    with _lock:
        run, anyone = _of(owner), bool(_going or _waiting)
    if run is None:
        return Explained("train.stop.not_yours" if anyone else "train.stop.none")
    return request_stop(run, reason, wait)


def request_stop(run: Run, reason: Explained | str = STOPPED, wait: float = 5.0) -> Explained:
    """`reason` is kept in the card; an Explained one (e.g. STOPPED_BY_VISITOR) can also be said in words."""
    with _lock:
        waiting = next((entry for entry in _waiting if entry[0] is run), None)
        if waiting is not None:
            _waiting.remove(waiting)
    if waiting is not None:
        run.stop_reason = reason
        run.set_state("left")
        run.training_ended.set()
        run.done.set()
        return Explained("train.stop.left_queue")
    if run.training_ended.is_set():
        return Explained("train.stop.exporting")
    if not run.stop_requested.is_set():
        run.stop_reason = reason
        run.stop_requested.set()
    asked = time.monotonic()
    if run.training_ended.wait(wait):
        view = run.view()
        return Explained("train.stop.done", step=view.step, total=view.total_steps, seconds=f"{time.monotonic() - asked:.1f}")
    return Explained("train.stop.pending")


def training_events(run: Run) -> Iterator:
    """The real loop for `run`, in this process (benchmarks/train.py measures it so)."""
    return worker.training_loop(run.request, run.caps, run.corrections, mine=run.mine, start=run.start_from)


def executed_events(run: Run) -> Iterator:
    """Where the run executes (runs/executor.py); what it needs crosses as a worker.Spec. The
    export's process starts meanwhile (runs/exporter.py), so it is ready when training ends."""
    exporter.warm()
    spec = worker.Spec(run.request, run.caps, tuple(run.corrections), str(run.folder / f"{run.request.kind}.pt"),
                       mine=tuple(run.mine), start=run.start_from)

    def told(device=None, note=None, stop=None):
        run.set_device(device, note)
        if stop is not None and run.stop_reason is None:
            run.stop_reason = stop
    return executor.events(spec, told, run.turns if run.steppable else None)


def run_of(owner: str) -> Run | None:
    """`owner`'s run, going or waiting."""
    with _lock:
        return _of(owner)


def _wait_for_turn(run: Run) -> bool:
    """While the run is paused, wait for an asked step or a resume; False when it should stop (a
    stop asked, or the time cap reached meanwhile)."""
    while not run.turns.may_pull():
        if run.stop_requested.wait(0.05):
            return False
        if time.monotonic() - run.started >= run.caps.max_seconds:
            return False
    return True


def _execute(run: Run, maker: list) -> None:
    """The run's thread: train and export, then free its place for the next in the queue. `maker`
    holds the run's make_events, taken out so that only _train_and_export's frame refers to it."""
    try:
        _train_and_export(run, maker.pop())
    except Exception as error:
        traceback.print_exc()
        run.error = f"{type(error).__name__}: {error}"
        run.set_state("failed")
    finally:
        run.training_ended.set()
        with _lock:
            _going.remove(run)
            _start_next(run.caps)
        run.done.set()


def _train_and_export(run: Run, make_events: Callable | None) -> None:
    """Train, stop when asked or at a cap, export, write the card. Its own frame, so the model and
    its tensors (held by the last event, or by make_events) are freed when it returns, before
    `run.done` is set: one waiting on `done` may then exit at once, and a tensor freed by this
    (daemon) thread while the interpreter shuts down aborted the process ("terminate called
    without an active exception")."""
    events = (make_events or executed_events)(run)
    last = None
    try:
        for event in events:
            last = event
            run.record(event)
            if run.stop_requested.is_set():
                break
            if time.monotonic() - run.started >= run.caps.max_seconds or not _wait_for_turn(run):
                if run.stop_reason is None:
                    run.stop_reason = Explained("train.reason.time_cap", seconds=f"{run.caps.max_seconds:g}")
                break
    finally:
        events.close()  # stops the loop between two batches (and, on ZeroGPU, its worker)
        run.training_ended.set()
    if last is None:
        raise RuntimeError("the run ended before its first step")
    timings.observe(run.view(), run.caps, run.cold)
    run.set_state("exporting")
    exporting = time.monotonic()
    _export(run, last)
    if not run.cold:  # the first export in a process also imports onnx and onnxruntime and sets up torch.onnx
        timings.exported(run.request.kind, time.monotonic() - exporting)
    run.set_state("finished")
    class_hook.finished(run)  # onto the class board, where the run's page joined a class
