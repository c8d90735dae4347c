"""The mistakes a CNN makes: its confusion matrix on a set of digits, over onnxruntime (never torch),
as plain data a page, an API client or a test reads alike.

    counts      10x10 ints: row the true digit, column the model's reading
    accuracy    right readings / all (None for no digits)
    per_digit   each digit's accuracy, its row's diagonal over its row (None where it has none)
    misread     every digit read wrong: its index in the data, true digit, reading, ten probabilities

The data: mnist-5k's 500 held-out digits (inference/mnist_5k.py, the same the training runs never
learn from), or a visitor's own set (inference/my_digits.py): its held-out part, or all of it (a
model that trained on those has seen most of them: that gap is the lesson on overfitting).
"""
import functools
from pathlib import Path

import numpy as np

import locales
from inference import classifier, mnist_5k, my_digits
from inference.sessions import PRIMER_CNN, shipped

DATA = ("mnist-5k", "mine", "mine-all")
# Who reads, named as the Draw tab's other views name them: "lab", Digit Lab's CNN as this visitor
# has it (their run's once one is swapped in, else the shipped one); "seed", the primer's
# (exports/seed_cnn.onnx); "shipped", Digit Lab's as shipped, so a run's before and after sit side by side.
MODELS = ("lab", "seed", "shipped")
DECIMALS = 4  # probabilities in the answer: enough to tell 0.9991 from 0.9999, and a short JSON


class NoMatrix(locales.Explained, ValueError):
    """A model or data set this cannot score; its words (locales `mistakes.*`) say which."""


def confusion(labels, readings) -> np.ndarray:
    """[10,10] int64 counts: row the true digit, column the reading."""
    labels, readings = np.asarray(labels, np.int64).ravel(), np.asarray(readings, np.int64).ravel()
    if labels.shape != readings.shape:
        raise ValueError(f"{labels.size} labels but {readings.size} readings")
    return np.bincount(labels * 10 + readings, minlength=100).reshape(10, 10)


def summarise(labels, probabilities) -> dict:
    """The matrix and its figures (see the module docstring) from the true digits [N] and the
    model's probabilities [N,10]; the reading is the most probable digit."""
    labels = np.asarray(labels, np.int64).ravel()
    probabilities = np.asarray(probabilities, np.float64).reshape(len(labels), 10)
    readings = probabilities.argmax(axis=1)
    counts = confusion(labels, readings)
    rows = counts.sum(axis=1)
    wrong = np.flatnonzero(readings != labels)
    return {
        "count": int(len(labels)),
        "counts": counts.tolist(),
        "accuracy": float(np.trace(counts) / len(labels)) if len(labels) else None,
        "per_digit": [float(counts[d, d] / rows[d]) if rows[d] else None for d in range(10)],
        "misread": [{"index": int(i), "digit": int(labels[i]), "reading": int(readings[i]),
                     "probabilities": [round(float(p), DECIMALS) for p in probabilities[i]]} for i in wrong],
    }


def cell(result: dict, digit: int, reading: int) -> list[dict]:
    """The misread digits of one cell of a summary: true `digit`, read as `reading`."""
    return [m for m in result["misread"] if m["digit"] == digit and m["reading"] == reading]


def model_path(model: str, cnn_path: str | None = None) -> str | None:
    """The .onnx file a MODELS name stands for (None: the shipped exports/cnn.onnx)."""
    if model == "lab":
        return cnn_path or None
    if model == "shipped":
        return None
    if model == "seed":
        return str(shipped(PRIMER_CNN))
    raise NoMatrix("mistakes.unknown_model", model=str(model)[:40], choices=", ".join(MODELS))


def data(name: str, mine=()) -> tuple[np.ndarray, np.ndarray]:
    """(images [N,28,28], labels [N]) of a DATA name; `mine` is the visitor's set (my_digits)."""
    if name == "mnist-5k":
        return mnist_5k.held_out()
    if name not in DATA:
        raise NoMatrix("mistakes.unknown_data", data=str(name)[:40], choices=", ".join(DATA))
    chosen = my_digits.split(mine)[1] if name == "mine" else list(mine or ())
    if not chosen:
        raise NoMatrix("mistakes.no_held_out" if name == "mine" and mine else "mistakes.no_digits")
    return my_digits.arrays(chosen)


@functools.lru_cache(maxsize=8)
def _mnist_5k_probabilities(path: str | None, modified: float) -> np.ndarray:
    """The same model file on the same 500 digits gives the same answer: kept, not recomputed for
    every visitor (a file replaced on disk has another modification time)."""
    probabilities = classifier.probabilities(mnist_5k.held_out()[0], path)
    probabilities.flags.writeable = False
    return probabilities


def mistakes(model: str = "lab", data_name: str = "mnist-5k", mine=(), cnn_path: str | None = None) -> dict:
    """The summary of `model` (a MODELS name) on `data_name` (a DATA name), with both names in it.
    Raises NoMatrix or inference.sessions.ModelUnavailable (a missing model file), both in words."""
    path = model_path(model, cnn_path)
    images, labels = data(data_name, mine)
    if data_name == "mnist-5k":
        file = Path(path) if path else shipped("cnn")
        modified = file.stat().st_mtime if file.is_file() else -1.0
        probabilities = _mnist_5k_probabilities(path, modified) if modified >= 0 else classifier.probabilities(images, path)
    else:
        probabilities = classifier.probabilities(images, path)
    return {"model": model, "data": data_name, **summarise(labels, probabilities)}
