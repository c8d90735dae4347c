"""A visitor's own digit set, as plain data: a list of (image, digit) pairs, each image the 28x28
float32 the CNN sees (in [0,1], white ink on black, as MNIST) -- the same shape as the Draw tab's
corrections, so the two join freely and cross a process boundary (ZeroGPU's worker) as they are.

Every function returns a new list and never changes the one it was given: a refused drawing or
upload leaves the caller's set exactly as it was. Refusals raise `BadSet`, a locales.Explained,
so the visitor reads why in their own language.

The file format (`to_npz` / `from_npz`) is one small .npz (numpy's zip of .npy arrays):
    images  float32 [N,28,28], values in [0,1], white ink on black (as MNIST)
    labels  int64   [N], digits 0-9
Anything else is refused in words before it is loaded: a file over MAX_FILE_BYTES, not a zip of
.npy arrays, either array missing, a wrong shape or dtype, pickled objects (never unpickled: a
pickle runs code), NaN or infinity, values outside [0,1], labels outside 0-9, over MAX_DIGITS.
"""
import hashlib
import io
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

import locales

SIDE = 28
MAX_DIGITS = 1000  # a visitor's set: 100 of each digit is plenty to fine-tune on, and bounded (~3 MiB)
# The largest set uncompressed is 1000 x 28 x 28 x 4 bytes = 3.1 MB, plus its labels and headers.
MAX_FILE_BYTES = 4 * 1024 * 1024
HELD_OUT_SHARE = 0.2  # about one drawing in five is kept for testing, never for training
_HEADER_SLACK = 4096  # an .npy header is 128 bytes or so; anything far past the data is not an .npy
_SHAPES = {"images": ("[N,28,28]", np.dtype("<f4")), "labels": ("[N]", np.dtype("<i8"))}


class BadSet(locales.Explained, ValueError):
    """A drawing or a set file refused; its words (locales `mine.*`) say why."""


def _image(image) -> np.ndarray:
    try:
        array = np.array(image, dtype=np.float32)  # a copy: the caller's array stays theirs
    except (TypeError, ValueError):
        raise BadSet("mine.bad_image") from None
    if array.shape != (SIDE, SIDE) or not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise BadSet("mine.bad_image")
    return array


def _digit(digit) -> int:
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer, str)):
        raise BadSet("mine.pick_digit")
    text = str(digit).strip()
    if text not in {str(d) for d in range(10)}:
        raise BadSet("mine.pick_digit")
    return int(text)


def add(digits, image, digit) -> list:
    """`digits` with (image, digit) appended. Refuses a drawing that is not a 28x28 in [0,1], a blank
    one, a digit outside 0-9 and a set already at MAX_DIGITS."""
    digits = list(digits or ())
    digit = _digit(digit)
    image = _image(image)
    if image.max() == 0:
        raise BadSet("mine.blank")
    if len(digits) >= MAX_DIGITS:
        raise BadSet("mine.full", most=MAX_DIGITS)
    return digits + [(image, digit)]


def join(digits, more) -> list:
    """`digits` with those of `more` it does not hold yet (the same image and digit): the corrections
    and an upload join the set without doubling what is already there. All or nothing at MAX_DIGITS."""
    digits = list(digits or ())
    seen = {_key(image, digit) for image, digit in digits}
    new = []
    for image, digit in more or ():
        image, digit = _image(image), _digit(digit)
        if _key(image, digit) not in seen:
            seen.add(_key(image, digit))
            new.append((image, digit))
    if len(digits) + len(new) > MAX_DIGITS:
        raise BadSet("mine.join_full", have=len(digits), adding=len(new), most=MAX_DIGITS)
    return digits + new


def _key(image: np.ndarray, digit: int) -> tuple[bytes, int]:
    return np.ascontiguousarray(image, dtype="<f4").tobytes(), int(digit)


def counts(digits) -> list[int]:
    """How many drawings of each digit, 0 to 9."""
    found = [0] * 10
    for _, digit in digits or ():
        found[int(digit)] += 1
    return found


def next_digit(digits) -> int:
    """The digit to ask for next in a guided drawing: the one with fewest drawings (the smallest on a
    tie), so asking goes 0, 1, ..., 9 and round again, and the corrections' digits are not asked twice."""
    found = counts(digits)
    return found.index(min(found))


def held_out(image) -> bool:
    """Whether this drawing belongs to the held-out part. Decided by a hash of its pixels alone, not
    by its place in the set or a random draw: the same drawing falls on the same side every time,
    after a download and an upload on another machine too (float32 survives the .npz exactly), and a
    growing set never moves a drawing a model was tested on into what the next run trains on. A
    duplicate lands beside its twin, so it cannot leak either."""
    digest = hashlib.blake2b(np.ascontiguousarray(image, dtype="<f4").tobytes(), digest_size=8, person=b"digitlab-mine").digest()
    return int.from_bytes(digest, "big") < HELD_OUT_SHARE * 2**64


def split(digits) -> tuple[list, list]:
    """(the part to train on, the held-out part), each in the set's order."""
    train, test = [], []
    for pair in digits or ():
        (test if held_out(pair[0]) else train).append(pair)
    return train, test


def arrays(digits) -> tuple[np.ndarray, np.ndarray]:
    """images float32 [N,28,28], labels int64 [N] (N may be 0)."""
    digits = list(digits or ())
    images = np.stack([np.asarray(image, np.float32) for image, _ in digits]) if digits else np.zeros((0, SIDE, SIDE), np.float32)
    return images, np.array([int(digit) for _, digit in digits], dtype=np.int64)


def from_arrays(images: np.ndarray, labels: np.ndarray) -> list:
    return [(np.array(image, np.float32), int(digit)) for image, digit in zip(images, labels)]


def to_npz(digits) -> bytes:
    """The set as the bytes of one compressed .npz (see the module docstring)."""
    images, labels = arrays(digits)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, labels=labels)
    return buffer.getvalue()


def _read_bounded(source) -> bytes:
    """The file's bytes, its size checked before anything is read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)
        if size > MAX_FILE_BYTES:
            raise BadSet("mine.file.too_big", size=_kib(size), most=_kib(MAX_FILE_BYTES))
        return bytes(source)
    if not isinstance(source, (str, os.PathLike)):
        raise BadSet("mine.file.not_npz")
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError:
        raise BadSet("mine.file.missing_file") from None
    if size > MAX_FILE_BYTES:
        raise BadSet("mine.file.too_big", size=_kib(size), most=_kib(MAX_FILE_BYTES))
    with path.open("rb") as file:
        return file.read(MAX_FILE_BYTES + 1)  # a file that grew since its size was read is cut short, and fails below


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f}"


def _member(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """One array of the archive, its header checked (shape, dtype, count) before its data is read."""
    expected_shape, dtype = _SHAPES[name]
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise BadSet("mine.file.missing", name=name) from None
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, found = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, found = np.lib.format.read_array_header_2_0(stream)
        else:
            raise BadSet("mine.file.not_npz")
    if found != dtype:  # object arrays (pickles) stop here, unread
        raise BadSet("mine.file.dtype", name=name, found=str(found), expected=str(dtype.name))
    if (name == "images" and (len(shape) != 3 or shape[1:] != (SIDE, SIDE))) or (name == "labels" and len(shape) != 1):
        raise BadSet("mine.file.shape", name=name, found=list(shape), expected=expected_shape)
    if shape[0] > MAX_DIGITS:
        raise BadSet("mine.file.too_many", count=shape[0], most=MAX_DIGITS)
    if info.file_size > int(np.prod(shape)) * dtype.itemsize + _HEADER_SLACK:
        raise BadSet("mine.file.not_npz")  # more bytes than its header declares: not numpy's writing
    with archive.open(info) as stream:
        return np.ascontiguousarray(np.lib.format.read_array(stream, allow_pickle=False))


def from_npz(source) -> list:
    """A set from a .npz file (a path) or its bytes, checked as the module docstring says; raises
    BadSet, in words, for anything else."""
    data = _read_bounded(source)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            images, labels = _member(archive, "images"), _member(archive, "labels")
    except BadSet:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError):
        raise BadSet("mine.file.not_npz") from None
    if len(images) != len(labels):
        raise BadSet("mine.file.lengths", images=len(images), labels=len(labels))
    if not np.isfinite(images).all():
        raise BadSet("mine.file.not_finite")
    if images.size and (images.min() < 0 or images.max() > 1):
        raise BadSet("mine.file.range", low=f"{images.min():.3g}", high=f"{images.max():.3g}")
    outside = sorted({int(d) for d in labels if not 0 <= d <= 9})
    if outside:
        raise BadSet("mine.file.labels", found=", ".join(map(str, outside[:5])))
    return from_arrays(images, labels)
