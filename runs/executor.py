"""Where a training run executes, behind one generator of events.

Locally and on CPU basic the worker below runs in-process, pulled by the run's thread. On Hugging
Face ZeroGPU the same worker runs inside `spaces.GPU`: the package forks a worker process for the
call and pickles the call's arguments in and every yielded value out (spaces 0.51.3,
zero/wrappers.py: `arg_queue.put(((args, kwargs), ...))` and `res_queue.put(OkResult(res))`). So
what crosses is plain data: a Spec (the run's settings) in; dicts of numbers and numpy arrays out;
the last snapshot is left as a checkpoint file at `Spec.checkpoint` (the worker is a fork on the
same machine), which the main process reads, exports and swaps in.

Stopping is the consumer closing the generator. In-process that closes the worker at once; through
spaces, closing sets the worker's stop event and the worker closes its own generator after its next
step, and the main side's close returns only when it has (wrappers.py: GeneratorExit ->
`worker.stop_event.set()`; iterate(): `if stop_event.is_set(): gen.close()`). Either way the
worker's `finally` writes the checkpoint of the last step it took.

ZeroGPU admits a call only if the visitor's quota covers its requested duration (times the GPU's
duration_factor, 1.5 on its largest GPUs: spaces zero/configs.json, client.py get_duration_seconds)
and refuses with a gr.Error titled "ZeroGPU ..." (quota, illegal duration, no GPU within 60 s:
client.py schedule). A run asks for its own estimate, never more than DIGIT_LAB_ZEROGPU_SECONDS
(default 80: 80 x 1.5 = 120 s, an anonymous visitor's whole daily quota), trains until that budget
ends, and when refused trains on the CPU instead, saying why (in a process of its own:
runs/child.py).

Pausing and stepping a GAN run (training/turns.py) need the loop in this process: the consumer
stops pulling, and the loop reads the asked sides between steps. A ZeroGPU worker trains ahead of
its consumer in another process, and a lent GPU must not sit idle waiting for a click, so there a
run offers the D:G ratio (a setting, which crosses in the Spec) but not stepping: `steppable()`.
"""
import itertools
import math
import os
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

import locales
from runs.worker import Spec, worker

try:  # on ZeroGPU (SPACES_ZERO_GPU set) spaces.GPU forks a GPU worker a call; elsewhere it returns the function itself
    import spaces
except ImportError:
    spaces = None

ZEROGPU_SECONDS = float(os.environ.get("DIGIT_LAB_ZEROGPU_SECONDS") or 80)
WORKER_START_SECONDS = 15  # fork, CUDA, the data set: before the first step (a margin, not measured)
SAVE_SECONDS = 5  # the last snapshot written to disk
# Not yet measured on ZeroGPU (python -m benchmarks.gpu measures them where a GPU is lent): low
# guesses, so a run's request is long enough; a run that is faster ends sooner and is charged less.
GPU_STEPS_PER_SECOND = {"cnn": 40.0, "gan": 15.0}
TRAIN_IMAGES = {"mnist-5k": 4500, "mnist": 60000, "fashion-mnist": 60000}


# -- ZeroGPU ------------------------------------------------------------------------------------
def gpu_training_seconds(spec: Spec) -> float:
    """How long the run trains on a lent GPU: its own estimate (its steps at the guessed rate),
    within the time cap and the budget a visitor's quota can admit."""
    request = spec.request
    images = TRAIN_IMAGES[request.dataset] * (1.2 if request.kind == "cnn" else 1.0)  # the CNN's typed digits
    steps = request.epochs * math.ceil(images / request.batch_size)
    if spec.caps.max_steps:
        steps = min(steps, spec.caps.max_steps)
    estimate = steps / GPU_STEPS_PER_SECOND[request.kind] + 2 * request.epochs  # each epoch's held-out figures
    return max(5.0, min(estimate, spec.caps.max_seconds, ZEROGPU_SECONDS - WORKER_START_SECONDS - SAVE_SECONDS))


def gpu_duration(spec: Spec) -> int:
    """The duration spaces.GPU asks ZeroGPU for: the worker's training budget and its margins."""
    return math.ceil(spec.seconds + WORKER_START_SECONDS + SAVE_SECONDS)


_on_gpu = spaces.GPU(duration=gpu_duration)(worker) if spaces is not None else worker


def on_zerogpu() -> bool:
    """spaces.GPU marks the wrappers it makes (decorator.py: setattr(decorated, 'zerogpu', None));
    off ZeroGPU it hands the function back unmarked."""
    return hasattr(_on_gpu, "zerogpu")


def refused(error: BaseException) -> bool:
    """ZeroGPU's own refusals are gr.Errors titled "ZeroGPU ..." (client.py, wrappers.py)."""
    import gradio as gr

    return isinstance(error, gr.Error) and str(getattr(error, "title", "") or "").startswith("ZeroGPU")


@dataclass
class Event:
    """A worker's dict back as an event the run records; snapshot() reads the worker's checkpoint."""

    step: int
    total_steps: int
    epoch: int
    losses: dict
    elapsed: float
    epoch_end: bool
    metrics: dict
    samples: np.ndarray | None
    sample_scores: np.ndarray | None
    checkpoint: str
    gradients: list | None = None  # a CNN's layer gradients, every few steps
    sample_gradients: np.ndarray | None = None  # a GAN's dL_G/dx on each grid sample
    turn: dict | None = None  # a GAN step a visitor asked for: its side, how far each network moved

    def snapshot(self) -> dict:
        from training import runtime

        return runtime.load_checkpoint(self.checkpoint)


def steppable() -> bool:
    """Whether a GAN run here can be paused and stepped (its loop in this process): not on ZeroGPU."""
    return not on_zerogpu()


def events(spec: Spec, told: Callable[..., None], turns=None) -> Iterator[Event]:
    """The run's events from wherever it executes. `told(device=..., note=..., stop=...)` hears
    where it trains, why not on the GPU, and that the lent GPU's time ran out. `turns` reaches the
    loop where it runs in this process (steppable())."""
    stream, first = _start(spec, told, turns)
    try:
        for item in itertools.chain(first, stream):
            if item["type"] == "stopped":
                told(stop=locales.Explained("train.reason.gpu_time", seconds=item["seconds"]))
                continue
            told(device=item["device"])
            yield Event(item["step"], item["total_steps"], item["epoch"], item["losses"], item["elapsed"],
                        item["epoch_end"], item["metrics"], item["samples"], item["sample_scores"], spec.checkpoint,
                        item.get("gradients"), item.get("sample_gradients"), item.get("turn"))
    finally:
        stream.close()


def _start(spec: Spec, told, turns=None) -> tuple[Iterator[dict], list]:
    """On ZeroGPU, ask for a GPU (spaces schedules at the first pull, reading the visitor from the
    Gradio request in this thread's context); when refused, the CPU of this process."""
    if not on_zerogpu():
        return worker(spec, turns), []
    stream = _on_gpu(replace(spec, device="auto", seconds=gpu_training_seconds(spec)))
    try:
        return stream, [next(stream)]
    except StopIteration:
        return (item for item in ()), []
    except Exception as error:
        if not refused(error):
            raise
        said = str(getattr(error, "message", "") or error)
        told(note=locales.Explained("train.device.refused", platform=said))
        from runs import child  # this process's torch is spaces' CUDA pose: train in a plain one

        return child.events(replace(spec, device="cpu", seconds=None)), []
