"""The training knobs' checks, torch-free: each architecture's defaults (declared with every other
fact about a setting in training/knob_list.py), and the one check both training scripts (and the
Train tab) run before anything starts.

`arch` picks a recipe: "lab" is Digit Lab's own, "seed" the primer's (its section 4 listings:
Adam at 1e-3, cross-entropy, 10 epochs, batch 64 for the CNN; Adam at 3e-4 for both sides and BCE
for the GAN). Each kind has its own losses: the CNN's cross-entropy ("ce", both archs' own) or
the primer's mean squared error on the softmax ("mse"); the GAN's hinge or the primer's BCE.
A setting left unset (None, or the word "own"; from older callers "" for the loss, a negative
dropout) takes the arch's own value; a setting given explicitly overrides it.

`check()` raises KnobError: `.key` is a locale key (locales/*.json, "knobs.error.*"), `.values` its
placeholders, and str() the English sentence for the command line.
"""
from pathlib import Path

import locales
from training import knob_list
from training.knob_list import (  # noqa: F401 (the names the rest of the project reads here)
    ACTIVATIONS, ALL_LOSSES, ARCHS, DATASETS, KINDS, LOSSES, MAX_D_STEPS, MAX_GAN_DIGITS, OWN, SCHEDULES,
)

ROOT = Path(__file__).resolve().parent.parent
SERVED_GAN = ROOT / "exports" / "gan.onnx"  # the conditional GAN that draws `gan_digits`

DIGIT_DATASETS = ("mnist-5k", "mnist")  # handwritten digits, which GAN-made digits can join
TRAIN_SIZES = {"mnist-5k": 4500, "mnist": 60000, "fashion-mnist": 60000}  # each training split
MIN_TRAIN_DIGITS = 10  # one a class
CHOICES = {"arch": ARCHS, "activation": ACTIVATIONS, "schedule": SCHEDULES, "dataset": DATASETS}  # the loss: LOSSES
# The knobs a visitor sets in the Train tab beyond the run's own fields (dataset, epochs, lr, batch, seed).
VISITOR_KNOBS = {kind: tuple(k.name for k in knob_list.on_tab(kind) if k.name not in knob_list.RUN_FIELDS) for kind in KINDS}


class KnobError(locales.Explained, ValueError):
    """An impossible setting or combination; nothing was started."""


def defaults(kind: str, arch: str = "lab") -> dict:
    """Every setting of `kind` as `arch` has it."""
    if kind not in KINDS:
        raise KnobError("knobs.error.choice", knob="kind", value=kind, choices=", ".join(KINDS))
    if arch not in ARCHS:
        raise KnobError("knobs.error.arch", value=arch, choices=", ".join(ARCHS))
    return {**knob_list.defaults(kind, arch), "arch": arch}


def _unset(name: str, value) -> bool:
    return value is None or value == OWN or (name == "loss" and value == "") or (name == "dropout" and isinstance(value, (int, float)) and value < 0)


def resolve(kind: str, settings: dict) -> dict:
    """`settings` with every unset knob given its arch's value (arch itself defaults to lab)."""
    arch = settings.get("arch") or "lab"
    own = defaults(kind, arch)
    given = {k: (own.get(k) if _unset(k, v) else v) for k, v in settings.items()}  # in the caller's order
    return {**given, **{k: v for k, v in own.items() if k not in given}, "arch": arch}


def _foreign_is_set(name: str, value) -> bool:
    """A knob of the other kind given a value that would do something."""
    return not (_unset(name, value) or value in (0, False, ""))


def check(kind: str, settings: dict) -> None:
    """Refuse impossible settings of a `kind` run (a dict of config fields, unset ones allowed),
    before anything starts. Raises KnobError."""
    s = resolve(kind, settings)
    known = set(defaults(kind, s["arch"] if s["arch"] in ARCHS else "lab"))
    for name, value in settings.items():
        if name in known or name == "kind" or not _foreign_is_set(name, value):
            continue
        if kind == "gan" and name == "gan_digits":
            raise KnobError("knobs.error.gan_digits_for_gan")
        raise KnobError("knobs.error.not_for_kind", knob=name, kind=kind.upper())
    for name in ("arch", "activation", "dataset") + (() if kind == "gan" else ("schedule",)):
        if s[name] not in CHOICES[name]:
            key = f"knobs.error.{name}" if name != "schedule" else "knobs.error.choice"
            raise KnobError(key, knob=name, value=s[name], choices=", ".join(CHOICES[name]))
    _loss(kind, s["loss"])
    for name in ("epochs", "batch_size", "max_steps", "seed"):
        _at_least(name, s[name], knob_list.BY_NAME[name].low)
    _rate("lr", s["lr"])
    _fraction("ema", s["ema"])
    if kind == "cnn":
        _check_cnn(s)
    else:
        _check_gan(s)


def _loss(kind: str, loss) -> None:
    """A loss of this kind; another kind's loss (a GAN's for a CNN, or the reverse) is named as such."""
    if loss in LOSSES[kind]:
        return
    choices = ", ".join(LOSSES[kind])
    if any(loss in LOSSES[other] for other in KINDS if other != kind):
        raise KnobError("knobs.error.loss_for_cnn" if kind == "cnn" else "knobs.error.loss_for_gan", value=loss, choices=choices)
    raise KnobError("knobs.error.loss", value=loss, kind=kind.upper(), choices=choices)


def _at_least(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise KnobError("knobs.error.at_least", knob=name, least=least, value=value)


def _rate(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise KnobError("knobs.error.lr", knob=name, value=value)


def _fraction(name: str, value, closed: bool = False) -> None:
    """[0, 1), or [0, 1] when `closed`."""
    if not isinstance(value, (int, float)) or not (0 <= value <= 1 if closed else 0 <= value < 1):
        raise KnobError("knobs.error.fraction", knob=name, value=value, top="1]" if closed else "1)")


def _check_cnn(s: dict) -> None:
    _fraction("label_smoothing", s["label_smoothing"])
    _fraction("canvas_share", s["canvas_share"], closed=True)
    if not isinstance(s["weight_decay"], (int, float)) or s["weight_decay"] < 0:
        raise KnobError("knobs.error.at_least", knob="weight_decay", least=0, value=s["weight_decay"])
    if not isinstance(s["dropout"], (int, float)) or s["dropout"] >= 1:
        raise KnobError("knobs.error.dropout", value=s["dropout"])
    size = TRAIN_SIZES[s["dataset"]]
    digits = s["train_digits"]
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0 or 0 < digits < MIN_TRAIN_DIGITS or digits > size:
        raise KnobError("knobs.error.train_digits", value=digits, least=MIN_TRAIN_DIGITS, most=size, dataset=s["dataset"])
    if s["digits"] not in knob_list.WAYS:
        raise KnobError("knobs.error.choice", knob="digits", value=s["digits"], choices=", ".join(knob_list.WAYS))
    made = s["gan_digits"]
    if isinstance(made, bool) or not isinstance(made, int) or made < 0 or made > MAX_GAN_DIGITS or made % 10:
        raise KnobError("knobs.error.gan_digits_range", value=made, most=MAX_GAN_DIGITS)
    if made and s["dataset"] not in DIGIT_DATASETS:
        raise KnobError("knobs.error.gan_digits_need_digits", dataset=s["dataset"], choices=", ".join(DIGIT_DATASETS))
    if made and not SERVED_GAN.is_file():
        raise KnobError("knobs.error.gan_digits_no_generator", name=SERVED_GAN.name)


def _check_gan(s: dict) -> None:
    _rate("d_lr", s["d_lr"])
    _fraction("beta1", s["beta1"])
    _fraction("beta2", s["beta2"])
    _at_least("z_dim", s["z_dim"], knob_list.BY_NAME["z_dim"].low)
    steps = s["d_steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_D_STEPS:
        raise KnobError("knobs.error.d_steps", value=steps, most=MAX_D_STEPS)
    if s["arch"] == "lab":
        for name in ("g_width", "d_width"):
            _at_least(name, s[name], knob_list.BY_NAME[name].low)
        if s["g_width"] % 4:
            raise KnobError("knobs.error.g_width", value=s["g_width"])


def settle(config, kind: str) -> None:
    """A config dataclass's __post_init__ (both scripts'): fill unset knobs from the arch, check."""
    import dataclasses

    values = resolve(kind, dataclasses.asdict(config))
    check(kind, values)
    for name, value in values.items():
        setattr(config, name, value)
