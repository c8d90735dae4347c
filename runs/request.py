"""A training run's settings: checked against the server's caps and against each other, into a
RunRequest (plain data: it crosses into a ZeroGPU worker as it is). Torch-free: the app checks a
visitor's settings before anything heavy is imported."""
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

import locales
from training import knobs as knobs_module
from training.settings import DATASETS, KINDS, TrainSettings

# The knobs (training/knobs.py checks them) that apply to each kind; a knob
# left at None is not passed, so the architecture's own value applies (as on the command line).
KNOBS = knobs_module.VISITOR_KNOBS


def arch_defaults(kind: str, arch: str) -> dict:
    """The architecture's own knob values, as training/knobs.py states them (the one place that
    reads them, so the tab and this module agree)."""
    return dict(knobs_module.defaults(kind, arch))


class InvalidSettings(locales.Explained, ValueError):
    """A setting is out of range or of the wrong type, or the knobs do not go together; nothing
    was started. `.key` and `.values` say it in words (locales), str() in English."""


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
        raise InvalidSettings("train.error.whole", setting=name, low=low, high=high, value=repr(value))
    if not low <= value <= high:
        raise InvalidSettings("train.error.range", setting=name, low=low, high=high, value=int(value))
    return int(value)


def _choice(name: str, value, choices) -> str:
    if value not in choices:
        raise InvalidSettings("train.error.choice", setting=name, choices=", ".join(choices), value=repr(value))
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
        if name == "activation":
            kept[name] = _choice(name, value, knobs_module.ACTIVATIONS)
        elif name == "loss":  # another kind's loss passes here, for training/knobs.py to refuse it by name
            kept[name] = value if value in knobs_module.ALL_LOSSES else _choice(name, value, knobs_module.LOSSES[kind])
        elif name == "augment":
            if not isinstance(value, bool):
                raise InvalidSettings("train.error.bool", setting=name, value=repr(value))
            kept[name] = value
        elif name == "dropout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise InvalidSettings("train.error.number", setting=name, value=repr(value))
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
        raise InvalidSettings("train.error.lr_number", low=f"{caps.lr_min:g}", high=f"{caps.lr_max:g}", value=repr(lr))
    elif not caps.lr_min <= lr <= caps.lr_max:
        raise InvalidSettings("train.error.lr_range", low=f"{caps.lr_min:g}", high=f"{caps.lr_max:g}", value=f"{lr:g}")
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
