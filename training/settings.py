"""The Train tab's caps and defaults, read from environment variables so that a public Space, a
laptop and the tests can each set their own without touching code.

    DIGIT_LAB_TRAIN_MAX_EPOCHS   (default 30)    most epochs one run may ask for
    DIGIT_LAB_TRAIN_MAX_SECONDS  (default 300)   a run is stopped, and kept, after this long
    DIGIT_LAB_TRAIN_MAX_STEPS    (default 0)     stop after this many optimiser steps; 0: no cap
    DIGIT_LAB_TRAIN_BATCH_MIN    (default 8)     smallest batch size accepted
    DIGIT_LAB_TRAIN_BATCH_MAX    (default 512)   largest batch size accepted
    DIGIT_LAB_TRAIN_LR_MIN       (default 1e-5)  smallest learning rate accepted
    DIGIT_LAB_TRAIN_LR_MAX       (default 0.05)  largest learning rate accepted
    DIGIT_LAB_TRAIN_THREADS      (default 0)     torch CPU threads for a run and its export; 0: all cores but one,
                                                 so the Draw and Generate tabs keep a core to answer
    DIGIT_LAB_TRAIN_UPDATE_SECONDS (default 1.0) how often the tab sends progress to the browser
    DIGIT_LAB_TRAIN_QUEUE        (default 10)    runs that may wait for their turn; a Start beyond is refused
    DIGIT_LAB_TRAIN_AT_ONCE      (default 0)     runs that train at the same time; 0: one on the CPU,
                                                 three on ZeroGPU (each has its own lent GPU)
    DIGIT_LAB_RUNS_DIR           (default checkpoints/runs/) where each run's files go

Nothing here imports torch: the app reads these at start-up.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from training import knob_list

ROOT = Path(__file__).resolve().parent.parent
DATASETS, KINDS = knob_list.DATASETS, knob_list.KINDS
# What the Train tab offers before a visitor changes anything: short runs (training/knob_list.py says why).
DEFAULT_EPOCHS = {kind: knob_list.BY_NAME["epochs"].own(kind, served=True) for kind in KINDS}


class SettingError(ValueError):
    pass


def _read(name: str, default, kind=float):
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        return kind(text)
    except ValueError:
        raise SettingError(f"{name}={text!r} is not a valid {kind.__name__}") from None


@dataclass(frozen=True)
class TrainSettings:
    max_epochs: int = 30
    max_seconds: float = 300.0
    max_steps: int = 0
    batch_min: int = 8
    batch_max: int = 512
    lr_min: float = 1e-5
    lr_max: float = 0.05
    threads: int = 0
    update_seconds: float = 1.0
    runs_dir: Path = ROOT / "checkpoints" / "runs"  # apart from the runs/ package
    queue: int = 10
    at_once: int = 0

    def __post_init__(self):
        if self.max_epochs < 1 or self.max_seconds <= 0 or self.max_steps < 0:
            raise SettingError("max epochs and max seconds must be positive; max steps at least 0")
        if not 1 <= self.batch_min <= self.batch_max or not 0 < self.lr_min <= self.lr_max <= 1:
            raise SettingError("need 1 <= batch min <= batch max and 0 < lr min <= lr max <= 1")
        if self.threads < 0 or not 0.1 <= self.update_seconds <= 2:
            raise SettingError("threads must be at least 0 and update seconds in [0.1, 2]")
        if self.queue < 0 or self.at_once < 0:
            raise SettingError("the queue and runs at once must be at least 0")

    def torch_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) - 1)


def load() -> TrainSettings:
    """The settings as the environment has them now (raises SettingError naming a bad variable)."""
    d = TrainSettings()
    return TrainSettings(
        max_epochs=_read("DIGIT_LAB_TRAIN_MAX_EPOCHS", d.max_epochs, int),
        max_seconds=_read("DIGIT_LAB_TRAIN_MAX_SECONDS", d.max_seconds),
        max_steps=_read("DIGIT_LAB_TRAIN_MAX_STEPS", d.max_steps, int),
        batch_min=_read("DIGIT_LAB_TRAIN_BATCH_MIN", d.batch_min, int),
        batch_max=_read("DIGIT_LAB_TRAIN_BATCH_MAX", d.batch_max, int),
        lr_min=_read("DIGIT_LAB_TRAIN_LR_MIN", d.lr_min),
        lr_max=_read("DIGIT_LAB_TRAIN_LR_MAX", d.lr_max),
        threads=_read("DIGIT_LAB_TRAIN_THREADS", d.threads, int),
        update_seconds=_read("DIGIT_LAB_TRAIN_UPDATE_SECONDS", d.update_seconds),
        runs_dir=Path(os.environ.get("DIGIT_LAB_RUNS_DIR") or d.runs_dir),
        queue=_read("DIGIT_LAB_TRAIN_QUEUE", d.queue, int),
        at_once=_read("DIGIT_LAB_TRAIN_AT_ONCE", d.at_once, int),
    )
