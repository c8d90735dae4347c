"""What the GAN's discriminator thinks of an image, over onnxruntime (never torch): its score and a
verdict, from the discriminator companion beside the generator (`<stem>.discriminator.onnx`,
written by training/export/views.py).

The score's meaning comes from the file's metadata: for a BCE discriminator (the primer's) the
probability that the image is real, for a hinge one (Digit Lab's) a raw score that training pushed
above +1 for real digits and below -1 for generated ones. The file's `threshold` (0.5 or 0) is
that loss's line between the two; but near the end of the game the discriminator's scores on real
and generated digits drift together (the primer: at the balance D can no longer tell them apart),
often both on one side of it. So an image "looks real" when its score is above the midpoint of the
mean scores the export measured on held-out real digits and on generated ones (the threshold where
those are unknown), and the tab says when the two means are close. Functions return facts; the tab
words them.
"""
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.sessions import ModelUnavailable, session, shipped

# Mean scores on real and generated digits closer than this: the discriminator can hardly tell them apart.
CLOSE = {"hinge": 0.5, "bce": 0.2}
FIT_COMMAND = "python -m training.export.views fit-discriminator {model}"
EXPORT_COMMAND = "python -m training.export --checkpoint gan.pt --out {model}"


@dataclass(frozen=True)
class Critic:
    session: object
    conditional: bool
    loss: str  # "hinge" or "bce"
    threshold: float
    real_mean: float | None  # the mean score on held-out real digits, measured at export
    generated_mean: float | None
    fitted: bool  # fitted after training against the frozen generator, not the game's own


@dataclass(frozen=True)
class Opinion:
    score: float
    looks_real: bool
    loss: str
    threshold: float
    real_mean: float | None
    generated_mean: float | None
    fitted: bool
    boundary: float  # above it, "looks real": see the module's docstring
    close: bool  # the real and generated means are within CLOSE of each other


def companion_path(gan_path: str | Path | None) -> Path:
    path = Path(gan_path) if gan_path else shipped("gan")
    return path.with_name(path.stem + ".discriminator.onnx")


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def load(gan_path: str | Path | None = None) -> Critic:
    model = Path(gan_path) if gan_path else shipped("gan")
    path = companion_path(model)
    shown = f"exports/{model.name}" if model.parent == shipped("gan").parent else model.name
    if not path.is_file():
        raise ModelUnavailable("generate.critic.missing", file=path.name, fit=FIT_COMMAND.format(model=shown), export=EXPORT_COMMAND.format(model=shown))
    try:
        return _describe(session("gan", path))
    except (ModelUnavailable, ValueError, KeyError):
        raise ModelUnavailable("generate.critic.unreadable", file=path.name, fit=FIT_COMMAND.format(model=shown), export=EXPORT_COMMAND.format(model=shown)) from None


@functools.lru_cache(maxsize=16)
def _describe(critic) -> Critic:
    meta = critic.get_modelmeta().custom_metadata_map
    inputs = {i.name for i in critic.get_inputs()}
    if "image" not in inputs or [o.name for o in critic.get_outputs()] != ["score"]:
        raise ValueError("not a discriminator companion")
    loss = meta.get("loss", "hinge")
    threshold = _float(meta.get("threshold"))
    return Critic(critic, "label" in inputs, loss, threshold if threshold is not None else (0.5 if loss == "bce" else 0.0),
                  _float(meta.get("real_mean")), _float(meta.get("generated_mean")), meta.get("source", "").startswith("fitted"))


def scores(images: np.ndarray, labels=None, gan_path=None) -> np.ndarray:
    """images [N,28,28] in [0,1] (white on black, as the generator's output is shown) -> scores [N].
    `labels` [N] are used by a conditional discriminator (the digits asked for)."""
    critic = load(gan_path)
    pixels = np.asarray(images, np.float32).reshape(-1, 1, 28, 28) * 2 - 1
    feeds = {"image": np.ascontiguousarray(pixels)}
    if critic.conditional:
        feeds["label"] = np.asarray(labels if labels is not None else np.zeros(len(pixels)), np.int64).reshape(-1)
    return critic.session.run(["score"], feeds)[0].astype(np.float64)


def opinion(image: np.ndarray, label: int | None = None, gan_path=None) -> Opinion:
    """What the discriminator thinks of one image [28,28] in [0,1]."""
    critic = load(gan_path)
    score = float(scores(image[None], None if label is None else [label], gan_path)[0])
    real, generated = critic.real_mean, critic.generated_mean
    measured = real is not None and generated is not None and real > generated
    boundary = (real + generated) / 2 if measured else critic.threshold
    close = measured and real - generated < CLOSE.get(critic.loss, 0.0)
    return Opinion(score, score > boundary, critic.loss, critic.threshold, real, generated, critic.fitted, boundary, close)
