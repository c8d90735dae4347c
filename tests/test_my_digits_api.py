"""/my_digits_add, /my_digits_upload, /my_digits_download and /mistakes through gradio_client against
the launched app: a set drawn as the page's strokes, downloaded and uploaded again (in another
session, as on another machine), the confusion matrix as JSON, and every bad input refused in words
(in Chinese for a client that asks for it) with the set as it was."""
import io

import numpy as np
import pytest
from gradio_client import Client, handle_file

from inference import mistakes, my_digits
from tests.draw_digits import page_digit, page_junk


@pytest.fixture
def visitor(app_url):
    """A client of its own: a new session, so a new, empty set."""
    return Client(app_url, verbose=False)


def add(client, digit, seed=0, as_digit=None):
    strokes = page_digit(digit, np.random.default_rng(seed), 0.6)
    return client.predict(strokes, str(digit if as_digit is None else as_digit), api_name="/my_digits_add")


def summary(client) -> dict:
    """The set as the server holds it, read back through the download."""
    with np.load(client.predict(api_name="/my_digits_download"), allow_pickle=False) as file:
        labels = file["labels"].tolist()
    return {"count": len(labels), "counts": [labels.count(d) for d in range(10)]}


def refused(call, *words) -> str:
    with pytest.raises(Exception) as caught:
        call()
    message = str(caught.value)
    assert any(word in message for word in words), message
    return message


def npz(**arrays) -> str:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_a_drawn_set_is_counted_downloaded_and_uploaded_again(visitor, app_url, tmp_path):
    for seed, digit in enumerate([4, 7, 1, 4]):
        about, prompt, asked, counts, status = add(visitor, digit, seed)
    assert about["count"] == 4 and about["counts"] == [0, 1, 0, 0, 2, 0, 0, 1, 0, 0]
    assert about["next"] == 0 and asked == "0" and "**0**" in prompt and "4" in status
    assert about["most"] == my_digits.MAX_DIGITS and 0 <= about["held_out"] <= 4
    path = visitor.predict(api_name="/my_digits_download")
    with np.load(path, allow_pickle=False) as file:
        assert file["images"].dtype == np.float32 and file["images"].shape == (4, 28, 28)
        assert file["labels"].dtype == np.int64 and file["labels"].tolist() == [4, 7, 1, 4]
        assert 0 <= file["images"].min() and file["images"].max() == 1  # white ink on black, as MNIST
        images = file["images"].copy()
    elsewhere = Client(app_url, verbose=False)  # another visit, another machine
    about, *_ , status = elsewhere.predict(handle_file(path), api_name="/my_digits_upload")
    assert about["count"] == 4 and "4" in status
    with np.load(elsewhere.predict(api_name="/my_digits_download"), allow_pickle=False) as file:
        assert np.array_equal(file["images"], images)  # exactly the same digits
    about, *_ = elsewhere.predict(handle_file(path), api_name="/my_digits_upload")
    assert about["count"] == 4  # the same file again: nothing doubled


def test_mistakes_is_the_confusion_matrix_as_json(visitor):
    result = visitor.predict("shipped", "mnist-5k", api_name="/mistakes")
    assert result == mistakes.mistakes("shipped", "mnist-5k")  # the served answer is the plain function's
    assert result["count"] == 500 and np.array(result["counts"]).shape == (10, 10)
    assert np.array(result["counts"]).sum(axis=1).tolist() == [50] * 10
    assert result["accuracy"] > 0.95 and len(result["per_digit"]) == 10
    assert all(set(m) == {"index", "digit", "reading", "probabilities"} for m in result["misread"])
    primer = visitor.predict("seed", "mnist-5k", api_name="/mistakes")
    assert primer["model"] == "seed" and primer["count"] == 500
    assert visitor.predict("lab", "mnist-5k", api_name="/mistakes")["accuracy"] == result["accuracy"]  # no run yet


def test_mistakes_on_the_visitors_own_digits(visitor):
    for seed in range(3):
        add(visitor, 3, seed)
    result = visitor.predict("lab", "mine-all", api_name="/mistakes")
    assert result["data"] == "mine-all" and result["count"] == 3
    assert sum(result["counts"][3]) == 3 and sum(map(sum, result["counts"])) == 3


@pytest.mark.parametrize("model, data, words", [
    ("nobody", "mnist-5k", ["No model called"]),
    ("lab", "cifar-10", ["No digits called"]),
    ("lab", "mine", ["no digits yet"]),
    ("lab", "mine-all", ["no digits yet"]),
    ("", "mnist-5k", ["No model called"]),
])
def test_a_matrix_of_what_does_not_exist_is_said(visitor, model, data, words):
    refused(lambda: visitor.predict(model, data, api_name="/mistakes"), *words)


def test_bad_drawings_are_refused_and_the_set_stays(visitor):
    add(visitor, 5)
    strokes = page_digit(2, np.random.default_rng(1), 0.6)
    refused(lambda: visitor.predict(strokes, "12", api_name="/my_digits_add"), "0 to 9")
    refused(lambda: visitor.predict(strokes, "", api_name="/my_digits_add"), "0 to 9")
    refused(lambda: visitor.predict("", "2", api_name="/my_digits_add"), "blank")
    refused(lambda: visitor.predict('{"strokes": []}', "2", api_name="/my_digits_add"), "blank")
    refused(lambda: visitor.predict("not strokes at all", "2", api_name="/my_digits_add"), "read", "draw")
    refused(lambda: visitor.predict('{"strokes": "x"}', "2", api_name="/my_digits_add"), "read", "draw")
    assert summary(visitor) == {"count": 1, "counts": [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]}
    about, *_ = visitor.predict(page_junk("dot", np.random.default_rng(0)), "8", api_name="/my_digits_add")
    assert about["count"] == 2  # a dot is ink: the visitor says what it is


BAD_UPLOADS = {
    "not an npz": (lambda: b"hello, not a set", "not a digit set file"),
    "float64 images": (lambda: npz(images=np.zeros((2, 28, 28)), labels=np.array([1, 2])), "float32"),
    "flat images": (lambda: npz(images=np.zeros((2, 784), np.float32), labels=np.array([1, 2])), "[N,28,28]"),
    "label 10": (lambda: npz(images=np.ones((2, 28, 28), np.float32), labels=np.array([1, 10])), "0 to 9"),
    "values 0-255": (lambda: npz(images=np.full((2, 28, 28), 255, np.float32), labels=np.array([1, 2])), "0 to 1"),
    "too big": (lambda: b"PK" + b"\0" * (my_digits.MAX_FILE_BYTES + 10), "KiB"),
}


def test_bad_uploads_are_refused_in_words_and_the_set_stays(visitor, tmp_path):
    add(visitor, 6)
    for name, (make, words) in BAD_UPLOADS.items():
        path = tmp_path / f"{name.replace(' ', '-')}.npz"
        path.write_bytes(make())
        message = refused(lambda: visitor.predict(handle_file(str(path)), api_name="/my_digits_upload"), words)
        assert "unchanged" in message, (name, message)
    assert summary(visitor) == {"count": 1, "counts": [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]}


def test_a_chinese_client_is_refused_in_chinese(app_url, tmp_path):
    chinese = Client(app_url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    refused(lambda: chinese.predict("nobody", "mnist-5k", api_name="/mistakes"), "没有名为")
    path = tmp_path / "bad.npz"
    path.write_bytes(b"hello")
    refused(lambda: chinese.predict(handle_file(str(path)), api_name="/my_digits_upload"), "不是数字集文件")
    refused(lambda: chinese.predict("", "3", api_name="/my_digits_add"), "画布是空的")
