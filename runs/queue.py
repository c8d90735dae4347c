"""How long a queued run waits: what this server has measured of its runs, and the turns ahead.
Torch-free; runs/jobs.py keeps the queue itself and asks here for the figures.

A run's expected duration comes from the runs this server has timed (their start-up, training and
export seconds): the same model and data at the same batch size, its training time scaled by the
epochs asked for; a run going now counts from its own rate. The first run in a process also
imports torch, so its start-up is not the next ones'. With nothing like it timed yet, only the
time cap bounds a run, and the estimate says so ("within").
"""
import heapq
import threading
from dataclasses import dataclass

from runs.record import EXPORT_SECONDS, RunView
from runs.request import RunRequest
from training.settings import TrainSettings

STARTUP_SECONDS = 0.5  # loading the data and building the model, before the first step (until a warm run is timed here: 0-0.5 s on 2 cores)
SETTLED_STEPS = 10  # a run's rate is trusted from this step on: its first steps are slower, and too few


@dataclass(frozen=True)
class Estimate:
    seconds: float
    measured: bool  # False: nothing like it timed yet, so the seconds are the caps' upper bound


def _model(request: RunRequest) -> tuple:
    """What sets the time an epoch takes: the model, its knobs, the data and the batch."""
    return request.kind, request.dataset, request.batch_size, tuple(sorted(request.knobs.items()))


class Timings:
    """Per model: seconds to the first step and training seconds per epoch; per kind: an export."""

    def __init__(self):
        self._lock = threading.Lock()
        self._model: dict[tuple, tuple[float, float]] = {}  # _model(request) -> (start-up s, training s per epoch)
        self._export: dict[str, float] = {}

    def observe(self, view: RunView, caps: TrainSettings, cold: bool = False) -> None:
        """Learn from a run going or ended: its start-up as measured (unless `cold`: it imported
        torch, which the runs after it will not), its training as its steps at its rate (so a
        stopped run still says how long the whole would have taken), within the cap."""
        if view.request is None or view.startup is None or not view.steps_per_second or view.step < SETTLED_STEPS:
            return
        training = min(caps.max_seconds, view.total_steps / view.steps_per_second)
        with self._lock:
            known = self._model.get(_model(view.request))
            startup = (known[0] if known else STARTUP_SECONDS) if cold else view.startup
            self._model[_model(view.request)] = (startup, training / view.request.epochs)

    def exported(self, kind: str, seconds: float) -> None:
        with self._lock:
            self._export[kind] = seconds

    def export_seconds(self, kind: str) -> float:
        return self._export.get(kind, EXPORT_SECONDS[kind])

    def duration(self, request: RunRequest, caps: TrainSettings) -> Estimate:
        """A run's whole time on the server, from its start to its model exported."""
        export = self.export_seconds(request.kind)
        seen = self._model.get(_model(request))
        if seen is None:
            return Estimate(STARTUP_SECONDS + caps.max_seconds + export, False)
        startup, per_epoch = seen
        return Estimate(startup + min(caps.max_seconds, per_epoch * request.epochs) + export, True)

    def left(self, view: RunView, caps: TrainSettings) -> Estimate:
        """The time a going run still holds its place."""
        export = self.export_seconds(view.kind)
        if view.state == "exporting":
            return Estimate(export / 2, True)
        if view.state in ("training", "stopping") and view.steps_per_second and view.step >= SETTLED_STEPS:
            return Estimate(view.seconds_left(caps) + export, True)
        whole = self.duration(view.request, caps)
        return Estimate(max(export, whole.seconds - view.elapsed), whole.measured)


def wait(going: list[Estimate], ahead: list[Estimate], places: int) -> Estimate:
    """When a queued run starts: `places` runs train at once; each of the `going` frees its place
    after its time left, and each run `ahead` in the queue then takes the first place free."""
    # the places' free times, soonest first (a sorted list is already a heap)
    free = sorted([(e.seconds, e.measured) for e in going] + [(0.0, True)] * max(0, places - len(going)))[:places]
    for run in ahead:
        at, measured = heapq.heappop(free)
        heapq.heappush(free, (at + run.seconds, measured and run.measured))
    at, measured = free[0]
    return Estimate(at, measured)
