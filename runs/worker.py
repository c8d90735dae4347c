"""The worker: one training run as plain data, the same in this process, in a child process
(runs/child.py) and in ZeroGPU's forked GPU worker (runs/executor.py). A Spec (the run's settings)
goes in; dicts of numbers and numpy arrays come out; the last step's snapshot is left as a
checkpoint file at `Spec.checkpoint`."""
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from runs.request import RunRequest
from training.settings import TrainSettings


@dataclass(frozen=True)
class Spec:
    """Everything the worker needs, and nothing that cannot be pickled (no Run, no lock)."""

    request: RunRequest
    caps: TrainSettings
    corrections: tuple  # ((28x28 float32 image, digit), ...)
    checkpoint: str  # where the worker leaves the snapshot of its last step
    device: str = "auto"  # "cpu" in ZeroGPU's main process, whose torch spaces patches to look like CUDA
    seconds: float | None = None  # on a lent GPU: the worker stops itself after this long
    mine: tuple = ()  # the visitor's own set, as the corrections: ((28x28 float32 image, digit), ...)
    start: str | None = None  # a fine-tuning run's model to begin from (the visitor's served ONNX); None: the shipped


def training_loop(request: RunRequest, caps: TrainSettings, corrections=(), device: str = "auto", turns=None,
                  mine=(), start: str | None = None) -> Iterator:
    """The real loop, train_cnn.train or train_gan.train: Progress events, on `device`; a GAN's
    steps take their sides from `turns` (training/turns.py) when given. A CNN's `mine` (the
    visitor's set) is parted here, by training/mine.py, so its held-out part is never trained on."""
    import torch

    from training import data

    torch.set_num_threads(caps.torch_threads())
    config = request.config(caps) | {"device": device}
    if request.kind == "cnn":
        from training import train_cnn

        extra = None
        if corrections:
            images = np.stack([image for image, _ in corrections])[:, None]
            extra = data.Split(torch.from_numpy(images), torch.tensor([digit for _, digit in corrections]))
        parted = None
        if mine:
            from training import mine as mine_set

            parted = mine_set.parted(mine)
        return train_cnn.train(_config(train_cnn.CNNConfig, config), extra=extra, mine=parted, start=start)
    from training import train_gan

    return train_gan.train(_config(train_gan.GANConfig, config), turns=turns)


def _config(cls, config: dict):
    """cls(**config), saying clearly which knob the training code does not know. (Before the
    primer's networks and knobs land in the training configs, a knob at Digit Lab's own value is
    what the code does anyway, and is dropped.)"""
    import dataclasses

    from runs.request import arch_defaults

    known = {f.name for f in dataclasses.fields(cls)}
    own = {"arch": "lab", **arch_defaults("cnn" if cls.__name__.startswith("CNN") else "gan", "lab")}
    unknown = sorted(k for k in set(config) - known if own.get(k, object()) != config[k])
    if unknown:
        raise ValueError(f"this training code has no {', '.join(unknown)} setting")
    return cls(**{k: v for k, v in config.items() if k in known})


def worker(spec: Spec, turns=None) -> Iterator[dict]:
    """Train, yielding each step as plain data; stop at the lent GPU's training budget; always
    leave the last step's snapshot (on the CPU) at spec.checkpoint. `turns`: in this process only."""
    from training import runtime

    device = runtime.pick_device(spec.device).type
    own = {"mine": spec.mine, "start": spec.start} if spec.mine or spec.start else {}  # only when set: stand-in loops (tests) need not take them
    loop = training_loop(spec.request, spec.caps, spec.corrections, spec.device, turns=turns, **own)
    last = started = None
    try:
        for event in loop:
            last = event
            # The budget is training time, counted from the first step: the start-up before it (the
            # data set, the model) has its own margin in the duration asked (WORKER_START_SECONDS).
            started = started or time.monotonic()
            yield plain(event, device)
            if spec.seconds is not None and time.monotonic() - started >= spec.seconds:
                yield {"type": "stopped", "reason": "gpu_time", "seconds": round(spec.seconds)}
                break
    finally:
        if last is not None:  # taken before the loop moves on, as Progress.snapshot asks
            runtime.save_checkpoint(_on_cpu(last.snapshot()), spec.checkpoint)
        loop.close()


def plain(event, device: str) -> dict:
    """A Progress event as built-in numbers and numpy arrays (nothing of torch crosses the pipe)."""
    return {"type": "progress", "device": device, "step": int(event.step), "total_steps": int(event.total_steps),
            "epoch": int(event.epoch), "elapsed": float(event.elapsed), "epoch_end": bool(event.epoch_end),
            "losses": {k: float(v) for k, v in event.losses.items()},
            "metrics": {k: (None if v is None else float(v)) for k, v in (event.metrics or {}).items()},
            "samples": _array(event.samples), "sample_scores": _array(getattr(event, "sample_scores", None)),
            "gradients": _layers(getattr(event, "gradients", None)),
            "sample_gradients": _array(getattr(event, "sample_gradients", None)), "turn": _turn(getattr(event, "turn", None))}


def _turn(turn) -> dict | None:
    """An asked GAN step's side and how far each network moved, as built-in data."""
    if turn is None:
        return None
    return {"side": str(turn["side"]), "moved": {k: float(v) for k, v in turn["moved"].items()}}


def _layers(gradients) -> list[dict] | None:
    """A CNN event's layer gradients as built-in strings and numbers."""
    if gradients is None:
        return None
    return [{"name": str(g["name"]), "kind": str(g["kind"]), "shape": [int(n) for n in g["shape"]],
             "gradient_norm": float(g["gradient_norm"])} for g in gradients]


def _array(value) -> np.ndarray | None:
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _on_cpu(tree):
    if hasattr(tree, "detach"):
        return tree.detach().cpu()
    if isinstance(tree, dict):
        return {k: _on_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_on_cpu(v) for v in tree)
    return tree
