"""The per-address limits through the launched app's API (visitors/limits.py): one address with
twelve sessions holds at most its two training places, whatever it writes in X-Forwarded-For; the
expensive calls are rate-limited with an answer that says when to try again; uploads that are no
picture (SVG, HTML, BMP, text) are refused in words, and a picture still reads.

The app runs as behind one proxy (DIGIT_LAB_PROXY_HOPS=1, as on a Space): here the test writes the
header the proxy would, `<whatever the client sent>, <the client's real address>`."""
import re
import time

import numpy as np
import pytest
from PIL import Image

from tests.draw_digits import page_digit

SCHOOL, OTHER = "198.51.100.7", "203.0.113.50"
UPLOADS = 5  # an address's uploads an hour in this app, so the test reaches the limit at once


@pytest.fixture(scope="module")
def limited_app():
    from tests.conftest import launch_app, stop_app

    process, url = launch_app({"DIGIT_LAB_PROXY_HOPS": "1", "DIGIT_LAB_PLACES_PER_ADDRESS": "2",
                               "DIGIT_LAB_RATE_TRAIN": "100/60", "DIGIT_LAB_RATE_UPLOAD": f"{UPLOADS}/3600",
                               "DIGIT_LAB_RATE_BACKPROP": "3/3600", "DIGIT_LAB_TRAIN_THREADS": "1",
                               "DIGIT_LAB_TRAIN_MAX_SECONDS": "60"}, timeout=600)
    yield url
    stop_app(process)


def visitor(url, address: str, forged: str = "", language: str | None = None):
    from gradio_client import Client

    headers = {"X-Forwarded-For": f"{forged}, {address}" if forged else address}
    if language:
        headers["Accept-Language"] = language
    # patient: twelve Starts at once meet a server importing torch for the first run
    return Client(url, verbose=False, headers=headers, httpx_kwargs={"timeout": 120})


def first_answer(job, seconds: float = 120):
    """A /train job's first update, or the refusal it raised."""
    deadline = time.monotonic() + seconds
    while not job.done() and not job.outputs() and time.monotonic() < deadline:
        time.sleep(0.05)
    if job.outputs():
        return "started", job.outputs()[0][0]
    try:
        job.result()
    except Exception as error:
        return "refused", str(error)
    return "ended", ""


@pytest.mark.slow
def test_twelve_sessions_from_one_address_hold_two_places_whatever_they_forge(limited_app):
    forged = ["", "1.2.3.4", "10.0.0.1, 10.0.0.2", "127.0.0.1", "unknown", "::1"] * 2
    clients = [visitor(limited_app, SCHOOL, forged=f) for f in forged]
    jobs = [client.submit(kind="cnn", epochs=5, api_name="/train") for client in clients]
    answers = [first_answer(job) for job in jobs]
    started = [client for client, (what, _) in zip(clients, answers) if what == "started"]
    refusals = [said for what, said in answers if what == "refused"]
    print(f"12 sessions from one address: {len(started)} places taken, {len(refusals)} refused")
    try:
        assert len(started) == 2 and len(refusals) == 10, answers
        assert all("2 of the 2 training places" in said and "Try again" in said for said in refusals), refusals
        # another address (another visitor behind the same proxy) still gets a place
        stranger = visitor(limited_app, OTHER, forged=SCHOOL)
        what, said = first_answer(stranger.submit(kind="cnn", epochs=1, api_name="/train"))
        assert what == "started", said
        started.append(stranger)
        chinese = visitor(limited_app, SCHOOL, language="zh-CN")
        with pytest.raises(Exception, match="训练名额"):
            chinese.predict(kind="cnn", epochs=1, api_name="/train")
    finally:
        for client in started:
            client.predict(api_name="/stop_training")
    # a place frees when its run ends: the address may start again
    deadline = time.monotonic() + 120
    while True:
        what, said = first_answer(visitor(limited_app, SCHOOL).submit(kind="cnn", epochs=1, api_name="/train"))
        if what == "started" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert what == "started", said
    visitor(limited_app, SCHOOL).predict(api_name="/stop_training")


def test_backprop_is_rate_limited_per_address_and_the_refusal_says_when(limited_app):
    from gradio_client.exceptions import AppError

    strokes = page_digit(7, np.random.default_rng(1), 0.6)
    flooder = visitor(limited_app, "192.0.2.99")
    for _ in range(3):
        said, _ = flooder.predict(strokes, "read", 0.01, 1, api_name="/backprop_step")
    started = time.monotonic()
    with pytest.raises(AppError, match=r"Too many calls to backprop from your address .* Try again in \d+ s") as refused:
        flooder.predict(strokes, "read", 0.01, 1, api_name="/backprop_step")
    assert time.monotonic() - started < 5, "a refusal is answered at once"
    print(refused.value)
    # another address is not slowed by it
    said, result = visitor(limited_app, "192.0.2.100").predict(strokes, "read", 0.01, 1, api_name="/backprop_step")
    assert "loss_before" in result


def _files(folder):
    svg = folder / "digit.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><script>alert(1)</script>'
                   '<text x="5" y="20">7</text></svg>')
    page = folder / "digit.html"
    page.write_text("<!DOCTYPE html><html><body><img src=x onerror=alert(1)>7</body></html>")
    bmp = folder / "digit.bmp"
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(bmp)
    svg_as_png = folder / "sneaky.png"  # a name that lies
    svg_as_png.write_text(svg.read_text())
    text = folder / "notes.txt"
    text.write_text("seven")
    return {"SVG": svg, "HTML": page, "BMP": bmp, "SVG ": svg_as_png, "TXT": text}


def test_uploads_that_are_no_picture_are_refused_in_words_and_a_picture_reads(limited_app, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client = visitor(limited_app, "192.0.2.150")
    for kind, path in _files(tmp_path).items():
        verdict = client.predict(handle_file(str(path)), api_name="/classify_upload")[1]
        assert "not a picture this app reads" in verdict and "PNG, JPEG, WebP or GIF" in verdict, (kind, verdict)
    # ... and only UPLOADS of them an hour: then a sentence saying when to try again
    picture = tmp_path / "seven.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(picture)
    with pytest.raises(AppError, match=r"Too many calls to upload .* Try again in \d+ s"):
        client.predict(handle_file(str(picture)), api_name="/classify_upload")
    # another visitor's picture still reads
    other = visitor(limited_app, "192.0.2.151")
    drawn = np.zeros((280, 280), np.uint8)
    drawn[40:240, 130:150] = 255  # a 1
    Image.fromarray(drawn).save(picture)
    label = other.predict(handle_file(str(picture)), api_name="/classify_upload")[0]
    assert re.fullmatch(r"\d", str(label["label"])), label
