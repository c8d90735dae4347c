"""A visitor's own digit set (inference/my_digits.py): drawings join it bounded, the held-out part is
the same every time and stable as the set grows, the .npz round trip is exact, and every bad file is
refused in words (both languages) with the caller's set unchanged."""
import io
import pickle
import zipfile

import numpy as np
import pytest

import locales
from inference import my_digits as mine
from inference.my_digits import BadSet


def drawing(seed: int) -> np.ndarray:
    """A random stand-in for a drawing: a few strokes' worth of ink in a 28x28."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28), np.float32)
    image[4:24, 4:24] = rng.random((20, 20), dtype=np.float32) * (rng.random((20, 20)) < 0.3)
    image[14, 14] = 1.0  # never blank
    return image


def a_set(count: int, start: int = 0) -> list:
    digits = []
    for i in range(start, start + count):
        digits = mine.add(digits, drawing(i), i % 10)
    return digits


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) and dx == dy for (x, dx), (y, dy) in zip(a, b))


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def refused(source, key: str, have: list):
    """`source` is refused with `key`, in English and in Chinese, and `have` is as it was."""
    before = [(image.copy(), digit) for image, digit in have]
    with pytest.raises(BadSet) as caught:
        have = mine.join(have, mine.from_npz(source))
    assert caught.value.key == key, (caught.value.key, str(caught.value))
    assert "{" not in str(caught.value) and caught.value.say("zh-CN") != str(caught.value)
    assert same(have, before)
    return caught.value


def test_add_appends_a_copy_and_leaves_the_callers_list_alone():
    image = drawing(1)
    before = a_set(3)
    after = mine.add(before, image, 7)
    assert len(before) == 3 and len(after) == 4
    image[0, 0] = 0.5  # the caller's array stays theirs, the set keeps what was drawn
    assert after[-1][0][0, 0] == 0 and after[-1][1] == 7
    assert after[-1][0].dtype == np.float32 and after[-1][0].shape == (28, 28)
    assert mine.add(None, drawing(0), "3")[0][1] == 3  # a Radio's string digit


@pytest.mark.parametrize("image, digit, key", [
    (np.zeros((28, 28)), 4, "mine.blank"),
    (np.ones((27, 28)), 4, "mine.bad_image"),
    (np.full((28, 28), 2.0), 4, "mine.bad_image"),
    (np.full((28, 28), np.nan), 4, "mine.bad_image"),
    ("not an image", 4, "mine.bad_image"),
    (None, 4, "mine.bad_image"),
    (drawing(0), 10, "mine.pick_digit"),
    (drawing(0), -1, "mine.pick_digit"),
    (drawing(0), None, "mine.pick_digit"),
    (drawing(0), True, "mine.pick_digit"),
    (drawing(0), 3.5, "mine.pick_digit"),
])
def test_add_refuses_what_is_not_a_drawing_of_a_digit(image, digit, key):
    have = a_set(2)
    with pytest.raises(BadSet) as caught:
        have = mine.add(have, image, digit)
    assert caught.value.key == key and len(have) == 2


def test_the_set_is_bounded_and_says_so():
    full = [(drawing(0), 1)] * mine.MAX_DIGITS
    with pytest.raises(BadSet) as caught:
        mine.add(full, drawing(1), 2)
    assert caught.value.key == "mine.full" and str(mine.MAX_DIGITS) in str(caught.value)
    assert str(mine.MAX_DIGITS) in caught.value.say("zh-CN")
    assert len(full) == mine.MAX_DIGITS


def test_counts_and_the_guided_drawing_asks_for_the_rarest_digit():
    assert mine.counts([]) == [0] * 10 and mine.next_digit([]) == 0
    digits = a_set(13)  # 0-9 once, then 0, 1, 2 again
    assert mine.counts(digits) == [2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert mine.next_digit(digits) == 3
    assert mine.next_digit(mine.add(digits, drawing(99), 3)) == 4


def test_join_skips_what_is_already_there_and_is_all_or_nothing():
    digits = a_set(5)
    joined = mine.join(digits, a_set(8))  # the first five are the same drawings and digits
    assert len(joined) == 8 and len(digits) == 5
    assert len(mine.join(joined, [(drawing(0), 9)])) == 9  # same ink, another digit: a new pair
    nearly = [(drawing(0), 1)] * (mine.MAX_DIGITS - 2)
    with pytest.raises(BadSet) as caught:
        mine.join(nearly, a_set(3, start=1))
    assert caught.value.key == "mine.join_full" and len(nearly) == mine.MAX_DIGITS - 2


def test_the_held_out_part_is_the_same_every_time_and_stable_as_the_set_grows():
    small, grown = a_set(60), a_set(500)
    held_small = {d.tobytes() for d, _ in mine.split(small)[1]}
    train_grown, held_grown = mine.split(grown)
    assert held_small <= {d.tobytes() for d, _ in held_grown}  # no drawing moved side
    assert not held_small & {d.tobytes() for d, _ in train_grown}
    assert 0.15 < len(held_grown) / len(grown) < 0.25  # about one in five
    assert len(train_grown) + len(held_grown) == len(grown)
    shuffled = [grown[i] for i in np.random.default_rng(0).permutation(len(grown))]
    assert {d.tobytes() for d, _ in mine.split(shuffled)[1]} == {d.tobytes() for d, _ in held_grown}  # order does not matter
    # the same after a download and an upload (float32 survives the file exactly)
    assert same(mine.split(mine.from_npz(mine.to_npz(grown)))[1], held_grown)


def test_the_npz_round_trip_is_exact_and_documented(tmp_path):
    digits = a_set(37)
    data = mine.to_npz(digits)
    assert len(data) < 37 * 28 * 28 * 4  # compressed
    with np.load(io.BytesIO(data), allow_pickle=False) as file:
        assert set(file.files) == {"images", "labels"}
        assert file["images"].dtype == np.float32 and file["images"].shape == (37, 28, 28)
        assert file["labels"].dtype == np.int64 and file["labels"].tolist() == [i % 10 for i in range(37)]
    path = tmp_path / "mine.npz"
    path.write_bytes(data)
    assert same(mine.from_npz(data), digits) and same(mine.from_npz(path), digits) and same(mine.from_npz(str(path)), digits)
    assert mine.from_npz(mine.to_npz([])) == []  # an empty set is a set


def test_a_plain_savez_of_the_documented_arrays_is_read():
    images = np.asfortranarray(np.stack([drawing(i) for i in range(4)]))  # any memory order
    digits = mine.from_npz(npz(images=images, labels=np.arange(4, dtype=np.int64), notes=np.zeros(3)))
    assert [d for _, d in digits] == [0, 1, 2, 3] and np.array_equal(digits[2][0], images[2])


GOOD_IMAGES, GOOD_LABELS = np.stack([drawing(i) for i in range(3)]), np.array([1, 2, 3], np.int64)
BAD_FILES = {
    "random bytes": (lambda: np.random.default_rng(0).bytes(2000), "mine.file.not_npz"),
    "text": (lambda: b"images,labels\n0,1\n", "mine.file.not_npz"),
    "empty": (lambda: b"", "mine.file.not_npz"),
    "a bare .npy": (lambda: _npy(GOOD_IMAGES), "mine.file.not_npz"),
    "a pickle": (lambda: pickle.dumps({"images": GOOD_IMAGES, "labels": GOOD_LABELS}), "mine.file.not_npz"),
    "a truncated npz": (lambda: npz(images=GOOD_IMAGES, labels=GOOD_LABELS)[:3000], "mine.file.not_npz"),
    "a zip of text": (lambda: _zip({"images.npy": b"hello", "labels.npy": b"world"}), "mine.file.not_npz"),
    "no labels": (lambda: npz(images=GOOD_IMAGES), "mine.file.missing"),
    "no images": (lambda: npz(pictures=GOOD_IMAGES, labels=GOOD_LABELS), "mine.file.missing"),
    "pickled objects": (lambda: npz(images=np.array([GOOD_IMAGES[0], "x"], dtype=object), labels=GOOD_LABELS[:2]), "mine.file.dtype"),
    "float64 images": (lambda: npz(images=GOOD_IMAGES.astype(np.float64), labels=GOOD_LABELS), "mine.file.dtype"),
    "uint8 images": (lambda: npz(images=(GOOD_IMAGES * 255).astype(np.uint8), labels=GOOD_LABELS), "mine.file.dtype"),
    "int32 labels": (lambda: npz(images=GOOD_IMAGES, labels=GOOD_LABELS.astype(np.int32)), "mine.file.dtype"),
    "float labels": (lambda: npz(images=GOOD_IMAGES, labels=GOOD_LABELS.astype(np.float32)), "mine.file.dtype"),
    "flat images": (lambda: npz(images=GOOD_IMAGES.reshape(3, 784), labels=GOOD_LABELS), "mine.file.shape"),
    "27 wide": (lambda: npz(images=GOOD_IMAGES[:, :, :27].copy(), labels=GOOD_LABELS), "mine.file.shape"),
    "one image, no batch": (lambda: npz(images=GOOD_IMAGES[0], labels=GOOD_LABELS[:1]), "mine.file.shape"),
    "channel axis": (lambda: npz(images=GOOD_IMAGES[:, None], labels=GOOD_LABELS), "mine.file.shape"),
    "labels as a column": (lambda: npz(images=GOOD_IMAGES, labels=GOOD_LABELS[:, None]), "mine.file.shape"),
    "more labels than images": (lambda: npz(images=GOOD_IMAGES, labels=np.arange(4, dtype=np.int64)), "mine.file.lengths"),
    "NaN": (lambda: npz(images=np.where(GOOD_IMAGES > 0.5, np.nan, GOOD_IMAGES).astype(np.float32), labels=GOOD_LABELS), "mine.file.not_finite"),
    "infinity": (lambda: npz(images=np.where(GOOD_IMAGES > 0.5, np.inf, GOOD_IMAGES).astype(np.float32), labels=GOOD_LABELS), "mine.file.not_finite"),
    "0-255 values": (lambda: npz(images=GOOD_IMAGES * 255, labels=GOOD_LABELS), "mine.file.range"),
    "negative values": (lambda: npz(images=GOOD_IMAGES - 0.5, labels=GOOD_LABELS), "mine.file.range"),
    "label 10": (lambda: npz(images=GOOD_IMAGES, labels=np.array([1, 10, 3], np.int64)), "mine.file.labels"),
    "label -1": (lambda: npz(images=GOOD_IMAGES, labels=np.array([-1, 2, 3], np.int64)), "mine.file.labels"),
    "too many digits": (lambda: npz(images=np.zeros((mine.MAX_DIGITS + 1, 28, 28), np.float32),
                                    labels=np.zeros(mine.MAX_DIGITS + 1, np.int64)), "mine.file.too_many"),
    "too big": (lambda: npz(images=GOOD_IMAGES, labels=GOOD_LABELS) + b"\0" * mine.MAX_FILE_BYTES, "mine.file.too_big"),
    "a zip bomb": (lambda: _bomb(), "mine.file.not_npz"),
}


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _bomb() -> bytes:
    """A small file whose images.npy claims 3 digits in its header, then unpacks to 20 MB."""
    header = _npy(GOOD_IMAGES)[:128]
    return _zip({"images.npy": header + b"\0" * 20_000_000, "labels.npy": _npy(GOOD_LABELS)})


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_file_is_refused_in_words_and_the_set_is_unchanged(name, tmp_path):
    make, key = BAD_FILES[name]
    data = make()
    have = a_set(4)
    refused(data, key, have)
    path = tmp_path / "upload.npz"
    path.write_bytes(data)
    refused(path, key, have)


def test_a_file_too_big_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.npz"
    with path.open("wb") as file:
        file.truncate(mine.MAX_FILE_BYTES + 1)  # sparse: its size says enough
    monkeypatch.setattr(type(path), "open", lambda *a, **k: pytest.fail("read a file too big"))
    error = refused(path, "mine.file.too_big", [])
    assert "4,096" in str(error)


def test_what_is_not_a_file_is_refused():
    for source in (None, 12, {"path": 3}, "/no/such/file.npz"):
        with pytest.raises(BadSet):
            mine.from_npz(source)


def test_every_word_exists_in_both_languages():
    keys = {key for _, key in BAD_FILES.values()} | {"mine.full", "mine.join_full", "mine.blank", "mine.bad_image",
                                                     "mine.pick_digit", "mine.file.missing_file"}
    for lang in ("en", "zh-CN"):
        assert keys <= set(locales.STRINGS[lang])


def test_the_panel_joins_only_the_newest_correction_and_downloads_one_file_a_set(tmp_path, monkeypatch):
    from tabs.draw import my_digits as panel

    monkeypatch.setattr(panel, "DOWNLOADS", tmp_path)
    corrections = a_set(3)
    joined, about, prompt, asked, counts, status = panel.take_corrections(corrections, a_set(2))
    assert len(joined) == 3 and about["count"] == 3  # the two already there, and the newest correction
    assert same(panel.take_corrections(corrections, [])[0], corrections[-1:])  # a cleared set stays cleared
    first, again = panel.download(joined), panel.download(list(joined))
    assert first == again and same(mine.from_npz(first), joined)
    assert panel.download([]) != first and mine.from_npz(panel.download([])) == []
    full = [(drawing(0), 1)] * mine.MAX_DIGITS
    said = panel.take_corrections([(drawing(5), 5)], full)
    assert str(mine.MAX_DIGITS) in said[-1] and said[0] is not full  # gr.skip(): the set is not touched
