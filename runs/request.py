"""A training run's settings: checked against the server's caps and against each other, into a
RunRequest (plain data: it crosses into a ZeroGPU worker as it is). Torch-free: the app checks a
visitor's settings before anything heavy is imported.

Each setting is read as training/knob_list.py declares it. The word "own" (or leaving the setting
out) means the run's own kind's or architecture's value, read here for the kind asked for: a GAN
run left at its own batch size trains at the GAN's, not the CNN's. Callers written before the words
may still send the old numbers: a learning rate of 0 and a negative dropout mean the same."""
import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

import locales
from training import knob_list
from training import knobs as knobs_module
from training.knob_list import OWN
from training.settings import KINDS, TrainSettings

# The knobs (training/knobs.py checks them) that apply to each kind, beyond the request's own
# fields; a knob left at its own is not passed, so the architecture's own value applies (as on the
# command line).
KNOBS = knobs_module.VISITOR_KNOBS
OLD_OWN = {"lr": lambda value: value == 0, "dropout": lambda value: value < 0}  # the numbers callers once sent


def arch_defaults(kind: str, arch: str) -> dict:
    """The architecture's own knob values, as training/knob_list.py states them (the one place that
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
    lr: float | None  # None: the architecture's own (the config's, read when the run starts)
    batch_size: int
    seed: int
    knobs: dict = field(default_factory=dict)  # the knobs set for this kind (those left at their own left out)

    @property
    def arch(self) -> str:
        return self.knobs.get("arch") or "lab"

    def config(self, caps: TrainSettings) -> dict:
        """Keyword arguments for CNNConfig / GANConfig; a step cap goes into the config itself,
        so the schedule and the reproducing command both know it."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("kind", "knobs") and v is not None}
        return fields | self.knobs | {"device": "auto", "max_steps": caps.max_steps}


def _is_own(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", OWN))


def _number(value) -> float | None:
    """A finite number from a number or its text (a typed-in choice arrives as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()) if len(value) < 64 else None
        except ValueError:
            return None
    return float(value) if isinstance(value, (int, float, np.number)) and math.isfinite(value) else None


def _whole(name: str, value, low, high) -> int:
    number = _number(value)
    low = 0 if low is None else low
    high = 2**31 - 1 if high is None else high
    if number is None or not number.is_integer():
        raise InvalidSettings("train.error.whole", setting=name, low=low, high=high, value=repr(value))
    if not low <= number <= high:
        raise InvalidSettings("train.error.range", setting=name, low=low, high=high, value=int(number))
    return int(number)


def _choice(name: str, value, choices) -> str:
    if value not in choices:
        raise InvalidSettings("train.error.choice", setting=name, choices=", ".join(choices), value=repr(value))
    return value


def _read(knob: knob_list.Knob, value, kind: str, caps: TrainSettings):
    """`value` as `knob` takes it, or OWN. Raises InvalidSettings."""
    named = dict(knob.named)
    if isinstance(value, str) and value.strip().lower() in named:
        return named[value.strip().lower()]
    if _is_own(value):
        return OWN
    number = _number(value)
    if knob.name in OLD_OWN and number is not None and OLD_OWN[knob.name](number):
        return OWN
    name = knob.name.replace("_", " ")
    low, high = knob.bounds(caps)
    if knob.type is bool:
        if not isinstance(value, bool):
            raise InvalidSettings("train.error.bool", setting=name, value=repr(value))
        return value
    if knob.type is str:
        if knob.name == "loss" and value in knob_list.ALL_LOSSES:  # another kind's: training/knobs.py names it
            return value
        return _choice(name, value, knob.choices_of(kind))
    if knob.type is int:
        return _whole(name, value, low, high)
    if knob.name == "lr":
        shown = dict(low=f"{low:g}", high=f"{high:g}")
        if number is None:
            raise InvalidSettings("train.error.lr_number", **shown, value=repr(value))
        if not low <= number <= high:
            raise InvalidSettings("train.error.lr_range", **shown, value=f"{number:g}")
        return number
    if number is None:
        raise InvalidSettings("train.error.number", setting=name, value=repr(value))
    if not low <= number <= high:
        raise InvalidSettings("train.error.range", setting=name, low=f"{low:g}", high=f"{high:g}", value=f"{number:g}")
    return number


def validate(kind, dataset=OWN, epochs=OWN, lr=OWN, batch_size=OWN, seed=OWN, caps: TrainSettings | None = None,
             **knobs) -> RunRequest:
    """Check a run's settings against the caps and the knobs against each other; returns the
    request or raises InvalidSettings. A setting left out, None or "own" takes the kind's own
    (epochs: the Train tab's short run) or the architecture's own. Knobs that do not apply to
    `kind` are left out."""
    caps = caps or TrainSettings()
    _choice("kind", kind, KINDS)
    given = {"dataset": dataset, "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, **knobs}
    read = {knob.name: _read(knob, given.get(knob.name), kind, caps) for knob in knob_list.on_tab(kind)}
    arch = read["arch"] if read["arch"] != OWN else "lab"
    fields = {name: read[name] for name in knob_list.RUN_FIELDS}
    for name in knob_list.RUN_FIELDS:
        if fields[name] == OWN:  # the learning rate's own is the config's, read when the run starts
            fields[name] = None if name == "lr" else knob_list.BY_NAME[name].own(kind, arch, served=True)
    kept = {"arch": arch, **{name: read[name] for name in KNOBS[kind] if name != "arch" and read[name] != OWN}}
    try:
        knobs_module.check(kind, {"dataset": fields["dataset"], **kept})
    except knobs_module.KnobError as error:
        raise InvalidSettings(error.key, str(error), **error.values) from None
    return RunRequest(kind, knobs=kept, **fields)


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
