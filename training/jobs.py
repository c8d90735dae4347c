"""Training runs for the app: one at a time on the whole server, each pulled by its own thread.

A run consumes the same events as the command line's loop (training/executor.py decides where it
executes: in-process here and on CPU basic, a spaces.GPU worker on ZeroGPU). Stopping is the
consumer ceasing to pull events and closing the generator, so a run ends between two batches and
keeps what it learned (the last step's snapshot). Whether it ends or is stopped, the model goes
through the same export as the shipped ones into its own folder (training/run_export.py). A failed
export, or a crash, leaves the visitor's current model in place and says why.

The run's thread runs in a copy of the starting handler's context (contextvars), so spaces.GPU,
first pulled there, reads the visitor's Gradio request as if called in the handler itself.

Torch and the training code are imported only when a run starts: the app imports this module at
start-up and must stay light.
"""
import contextvars
import threading
import time
import traceback
from typing import Callable, Iterator, Sequence

from locales import Explained
from training import executor
from training import settings as settings_module
from training.executor import _config  # noqa: F401 (tests call it here)
from training.run_export import export as _export
from training.run_export import run_files  # noqa: F401 (the tab's downloads)
from training.run_record import EXPORT_SECONDS, MAX_POINTS, Run, RunBusy, RunView  # noqa: F401
from training.run_settings import KNOBS, InvalidSettings, RunRequest, arch_defaults, usable_corrections, validate  # noqa: F401
from training.settings import TrainSettings

# Why a run stopped early, as the card records it and the tab says it.
STOPPED = Explained("train.reason.stopped")
STOPPED_BY_VISITOR = Explained("train.reason.visitor")
PAGE_CLOSED = Explained("train.reason.closed")

_server_lock = threading.Lock()  # held from a run's start until it has exported: one run at a time
_current: Run | None = None


def current() -> Run | None:
    return _current


def start(request: RunRequest, owner: str, corrections: Sequence = (), caps: TrainSettings | None = None,
          make_events: Callable | None = None) -> Run:
    """Start a run in the background and return it at once; raises RunBusy while another run holds
    the server. `make_events(run)` replaces where the run executes (for tests and benchmarks)."""
    global _current
    caps = caps or settings_module.load()
    if not _server_lock.acquire(blocking=False):
        holder = _current
        raise holder.busy() if holder else RunBusy("train.busy.finishing")
    try:
        kept = usable_corrections(corrections) if request.kind == "cnn" else []
        run = Run(request, owner, caps, kept)
        _current = run
        context = contextvars.copy_context()  # the handler's: the visitor's request, for ZeroGPU's quota
        threading.Thread(target=context.run, args=(_execute, run, make_events), name=f"train-{run.id}", daemon=True).start()
        return run
    except BaseException:
        _current = None
        _server_lock.release()
        raise


def stop(owner: str, reason: Explained | str = STOPPED, wait: float = 5.0) -> Explained:
    """Ask `owner`'s run to stop between two batches; waits up to `wait` s for training to halt
    (export follows). Returns a message for the tab."""
    run = _current
    if run is None or run.done.is_set():
        return Explained("train.stop.none")
    if run.owner != owner:
        return Explained("train.stop.not_yours")
    return request_stop(run, reason, wait)


def request_stop(run: Run, reason: Explained | str = STOPPED, wait: float = 5.0) -> Explained:
    """`reason` is kept in the card; an Explained one (e.g. STOPPED_BY_VISITOR) can also be said in words."""
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
    return executor.training_loop(run.request, run.caps, run.corrections)


def executed_events(run: Run) -> Iterator:
    """Where the run executes (training/executor.py); what it needs crosses as an executor.Spec."""
    spec = executor.Spec(run.request, run.caps, tuple(run.corrections), str(run.folder / f"{run.request.kind}.pt"))

    def told(device=None, note=None, stop=None):
        run.set_device(device, note)
        if stop is not None and run.stop_reason is None:
            run.stop_reason = stop
    return executor.events(spec, told)


def _execute(run: Run, make_events: Callable | None) -> None:
    """The run's thread: train, stop when asked or at a cap, export, write the card, free the server."""
    global _current
    try:
        events = (make_events or executed_events)(run)
        last = None
        try:
            for event in events:
                last = event
                run.record(event)
                if run.stop_requested.is_set():
                    break
                if time.monotonic() - run.started >= run.caps.max_seconds:
                    run.stop_reason = Explained("train.reason.time_cap", seconds=f"{run.caps.max_seconds:g}")
                    break
        finally:
            events.close()  # stops the loop between two batches (and, on ZeroGPU, its worker)
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
