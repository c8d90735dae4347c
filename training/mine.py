"""A visitor's own digit set (inference/my_digits.py: plain (image, digit) pairs) in a CNN run: its
part to train on joins the run's training digits, and its held-out part is a second test beside
mnist-5k's. The held-out part is chosen by my_digits.split (each drawing's own hash), the same on
the page, in the worker and on the command line, so no run ever trains on what it is scored on."""
from dataclasses import dataclass

import torch

from inference import my_digits
from training.data import Split

WAYS = ("mine", "mnist-5k+mine")  # the visitor's digits alone; the data set's with the visitor's
MINE_SHARE = 0.2  # of each epoch of "mnist-5k+mine", about this much is the visitor's (repeated)
MINE_EPOCH = 640  # "mine" alone is repeated to about this many digits an epoch (ten batches of 64)


@dataclass
class Mine:
    """The visitor's set, parted: `train` joins the run, `held_out` only scores it."""

    train: Split
    held_out: Split


def as_split(digits) -> Split:
    images, labels = my_digits.arrays(digits)
    return Split(torch.from_numpy(images[:, None].copy()), torch.from_numpy(labels))


def parted(digits) -> Mine:
    """The set's two parts as Splits: held_out is exactly my_digits.split's held-out part."""
    train, held_out = my_digits.split(digits)
    return Mine(as_split(train), as_split(held_out))


def training_set(base: Split, mine: Split, way: str) -> Split:
    """The digits a run trains on. "mine": the visitor's alone, repeated so an epoch is about
    MINE_EPOCH digits (its augmentation draws each repeat anew); "mnist-5k+mine": `base` with the
    visitor's repeated to about MINE_SHARE of the whole, so 40 drawings are not lost among 4,500."""
    if way not in WAYS:
        raise ValueError(f"unknown way {way!r}; choose one of {', '.join(WAYS)}")
    if not len(mine):
        raise ValueError("no digits of yours to train on (the held-out part is never trained on)")
    if way == "mine":
        return Split(mine.images[:0], mine.labels[:0]).plus(mine, times=max(1, -(-MINE_EPOCH // len(mine))))
    times = max(1, round(MINE_SHARE * len(base) / ((1 - MINE_SHARE) * len(mine))))
    return base.plus(mine, times=times)


def from_file(path) -> list:
    """A set file (.npz, as the Draw tab's download writes) as (image, digit) pairs; BadSet in words."""
    return my_digits.from_npz(path)
