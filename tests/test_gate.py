"""The rate limits' gate (visitors/gate.py): an address already out of calls is refused before
Gradio routes the request, in the handler's own words, and the refusal is held until its next call
is due (at most gate.HOLD_MAX_S); another address is untouched and an allowed call is counted once.

Through gradio_client against one launched app, behind one proxy (DIGIT_LAB_PROXY_HOPS=1: each
client's X-Forwarded-For is its address), with 3 backprops a minute; then the gate alone, as ASGI."""
import asyncio
import concurrent.futures
import json
import re
import sys
import time

import httpx
import numpy as np
import pytest

from tests.draw_digits import page_digit
from visitors import gate, limits

RATE = "3/600"  # three at once, then one every 200 s: the 4th call is refused, held HOLD_MAX_S
WORDS = r"Too many calls to backprop from your address \(at most 3 every 600 s\)\. Try again in (\d+) s\."


@pytest.fixture(scope="module")
def gated_app():
    from tests.conftest import launch_app, stop_app

    process, url = launch_app({"DIGIT_LAB_RATE_BACKPROP": RATE, "DIGIT_LAB_PROXY_HOPS": "1"}, timeout=600)
    yield url
    stop_app(process)


def visitor(url, address: str, language: str | None = None):
    from benchmarks.launch import client_for

    return client_for(url, timeout=120, headers={"X-Forwarded-For": address, **({"Accept-Language": language} if language else {})})


def handler_words(lang: str = "en") -> str:
    """What tabs/draw/backprop.py's handler itself says to an address out of calls (in this process)."""
    from tabs.draw import backprop

    class Peer:
        host = "192.0.2.250"

    class Asked:
        headers = {"accept-language": lang}
        client = Peer()

    saved = limits.RATES["backprop"]
    limits.RATES["backprop"] = bucket = limits.RateLimit("backprop", 3, 600)
    try:
        for _ in range(3):
            bucket.take(Peer.host)
        with pytest.raises(Exception) as refused:
            backprop.backprop_step(STROKES, "read", 0.01, 1, request=Asked())
    finally:
        limits.RATES["backprop"] = saved
    return str(refused.value.message)


STROKES = page_digit(7, np.random.default_rng(1), 0.6)


def test_an_address_over_its_limit_is_refused_in_the_handlers_words_and_held(gated_app):
    from gradio_client.exceptions import AppError

    visitor(gated_app, "192.0.2.9").predict(STROKES, "read", 0.01, 1, api_name="/backprop_step")  # torch imported
    flooder = visitor(gated_app, "192.0.2.10")
    for n in range(3):  # the gate takes nothing: all three are answered, the 4th is the first refused
        said, result = flooder.predict(STROKES, "read", 0.01, 1, api_name="/backprop_step")
        assert "loss_before" in result, (n, said, result)
    started = time.monotonic()
    with pytest.raises(AppError) as refused:
        flooder.predict(STROKES, "read", 0.01, 1, api_name="/backprop_step")
    held = time.monotonic() - started
    said = refused.value.message
    assert re.fullmatch(WORDS, said), said
    assert re.sub(r"\d+ s\.$", "", said) == re.sub(r"\d+ s\.$", "", handler_words()), (said, handler_words())
    assert refused.value.title == limits.locales.text("limits.title", "en")
    assert gate.HOLD_MAX_S - 0.3 <= held < gate.HOLD_MAX_S + 8, f"held {held:.2f} s"  # the next token is 200 s away: held the cap

    # another address is not affected: answered, and at once
    started = time.monotonic()
    said, result = visitor(gated_app, "192.0.2.11").predict(STROKES, "read", 0.01, 1, api_name="/backprop_step")
    assert "loss_before" in result and time.monotonic() - started < gate.HOLD_MAX_S + 5

    # in the caller's language
    with pytest.raises(AppError, match="backprop") as chinese:
        visitor(gated_app, "192.0.2.10", language="zh-CN").predict(STROKES, "read", 0.01, 1, api_name="/backprop_step")
    assert re.sub(r"\d+", "N", chinese.value.message) == re.sub(r"\d+", "N", handler_words("zh-CN"))

    # the other routes Gradio offers for it: one POST (/run, /api) and the two-step /call
    headers = {"X-Forwarded-For": "192.0.2.10"}
    body = {"data": [STROKES, "read", 0.01, 1, "lab", 0, None]}
    for path in ("gradio_api/run/backprop_step", "gradio_api/api/backprop_step/"):
        answer = httpx.post(gated_app + path, json=body, headers=headers, timeout=60)
        assert answer.status_code == 500 and re.fullmatch(WORDS, answer.json()["error"]), (path, answer.text)
        assert answer.json()["title"] == limits.locales.text("limits.title", "en")
    event = httpx.post(gated_app + "gradio_api/call/backprop_step", json=body, headers=headers, timeout=60).json()["event_id"]
    stream = httpx.get(gated_app + f"gradio_api/call/backprop_step/{event}", headers=headers, timeout=60).text
    assert "event: error" in stream and re.search(WORDS, stream), stream


def scope(path: str, host: str = "192.0.2.77", method: str = "POST") -> dict:
    return {"type": "http", "method": method, "path": path, "headers": [(b"accept-language", b"en")], "client": (host, 1)}


def test_the_paths_it_looks_at():
    assert gate.route("POST", "/gradio_api/run/backprop_step") == ("run", "backprop_step")
    assert gate.route("POST", "/gradio_api/api/backprop_step/") == ("run", "backprop_step")
    assert gate.route("POST", "/gradio_api/call/train") == ("queue", "train")
    assert gate.route("POST", "/gradio_api/call/v2/classify_upload") == ("queue", "classify_upload")
    assert gate.route("POST", "/gradio_api/queue/join") == ("queue", None)
    assert gate.route("POST", "/gradio_api/run/predict") == ("run", "predict")  # the page's: its fn_index decides
    for method, path in [("GET", "/gradio_api/run/backprop_step"), ("GET", "/gradio_api/call/train/abc"),
                         ("POST", "/gradio_api/call/x/train"), ("POST", "/run/backprop_step"), ("GET", "/"),
                         ("POST", "/gradio_api/upload"), ("GET", "/gradio_api/queue/data")]:
        assert gate.route(method, path) is None, (method, path)


def test_every_rate_has_its_endpoints():
    assert set(gate.ENDPOINTS.values()) == set(limits.RATE_DEFAULTS)
    assert gate.ONLY_WITH_VALUE <= set(gate.ENDPOINTS)


def _call(app, path: str, body: dict | None = None, host: str = "192.0.2.77", the_gate=None):
    """The gate (a new one unless given) in front of `app` once: (status, JSON answer, seconds)."""
    sent, answer = [json.dumps(body or {}).encode()], {}

    async def receive():
        return {"type": "http.request", "body": sent.pop() if sent else b"", "more_body": False}

    async def send(message):
        answer.setdefault(message["type"], message)

    started = time.perf_counter()
    # In a thread of its own: a browser test in the same process may hold this thread's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, (the_gate or gate.Gate(app))(scope(path, host), receive, send)).result()
    took = time.perf_counter() - started
    return answer["http.response.start"]["status"], json.loads(answer["http.response.body"]["body"] or b"null"), took


async def passed(scope, receive, send):
    """The app behind the gate: answers 200 with the body it was given."""
    got = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps({"passed": got["body"].decode()}).encode()})


def test_the_gate_holds_until_the_next_call_is_due_and_passes_the_rest(monkeypatch):
    bucket = limits.RateLimit("backprop", 1, 0.5)  # one at once, the next 0.5 s later
    monkeypatch.setitem(limits.RATES, "backprop", bucket)
    status, said, took = _call(passed, "/gradio_api/run/backprop_step", {"data": [1]})
    assert status == 200 and said["passed"] == '{"data": [1]}' and took < 0.1  # not refused: untouched
    assert bucket.peek("192.0.2.77") == 0.0  # ...and nothing taken by the gate
    bucket.take("192.0.2.77")
    status, said, took = _call(passed, "/gradio_api/run/backprop_step")
    assert status == 500 and re.search(r"Try again in 1 s", said["error"]) and 0.4 <= took < 1.5, (said, took)
    assert _call(passed, "/gradio_api/run/backprop_step", host="192.0.2.78")[0] == 200  # another address
    assert _call(passed, "/gradio_api/run/classify_strokes")[0] == 200  # not a limited endpoint
    assert _call(passed, "/gradio_api/call/classify_strokes")[0] == 200


def test_a_call_let_through_on_the_last_call_counts_until_its_handler_takes_it(monkeypatch):
    """Connections held together are released together: one reaches the handler, the rest are
    refused here. Once the handler has counted it, the bucket alone decides again."""
    now = [0.0]
    bucket = limits.RateLimit("backprop", 2, 2, clock=lambda: now[0])  # two at once, then one a second
    monkeypatch.setitem(limits.RATES, "backprop", bucket)
    monkeypatch.setattr(gate, "MAX_HELD", 0)  # refusals answered at once
    the_gate, path = gate.Gate(passed), "/gradio_api/run/backprop_step"
    bucket.take("192.0.2.77")  # one call left
    assert _call(passed, path, the_gate=the_gate)[0] == 200  # let through on the last call...
    assert _call(passed, path, the_gate=the_gate)[0] == 500  # ...so a second at once is refused here
    assert _call(passed, path, host="192.0.2.78", the_gate=the_gate)[0] == 200  # another address: untouched
    now[0] += 0.1
    bucket.take("192.0.2.77")  # the first call's handler counts it
    now[0] += 1.0  # and the next call falls due
    assert _call(passed, path, the_gate=the_gate)[0] == 200
    assert bucket.peek("192.0.2.77") == 0.0  # the gate itself takes nothing


def test_an_empty_upload_is_not_refused_and_held_refusals_are_bounded(monkeypatch):
    bucket = limits.RateLimit("upload", 1, 60)
    monkeypatch.setitem(limits.RATES, "upload", bucket)
    bucket.take("192.0.2.77")
    assert _call(passed, "/gradio_api/run/classify_upload", {"data": [None]})[0] == 200  # the handler counts nothing
    status, said, took = _call(passed, "/gradio_api/run/classify_upload", {"data": [{"path": "x.png"}]})
    assert status == 500 and "upload" in said["error"] and took >= gate.HOLD_MAX_S - 0.1
    monkeypatch.setattr(gate, "MAX_HELD", 0)  # past the bound: answered at once
    status, said, took = _call(passed, "/gradio_api/run/my_digits_upload", {"data": [{"path": "x.npz"}]})
    assert status == 500 and took < 0.5


def test_a_run_by_fn_index_is_known_by_its_event(monkeypatch):
    """Gradio runs the event a body's fn_index names, whatever the path says (/run/predict, as the page)."""
    from types import SimpleNamespace

    bucket = limits.RateLimit("backprop", 1, 60)
    monkeypatch.setitem(limits.RATES, "backprop", bucket)
    bucket.take("192.0.2.77")
    monkeypatch.setattr(gate, "MAX_HELD", 0)
    blocks = SimpleNamespace(fns={5: SimpleNamespace(api_name="backprop_step"), 6: SimpleNamespace(api_name="classify_strokes")})

    async def app(scope, receive, send):
        await passed(scope, receive, send)

    app.get_blocks = lambda: blocks
    real = scope

    def with_app(path, host="192.0.2.77"):
        return {**real(path, host), "app": app}

    monkeypatch.setattr(sys.modules[__name__], "scope", with_app)
    assert _call(app, "/gradio_api/run/predict", {"fn_index": 5, "data": []})[0] == 500
    assert _call(app, "/gradio_api/run/classify_strokes", {"fn_index": 5, "data": []})[0] == 500
    assert _call(app, "/gradio_api/run/predict", {"fn_index": 6, "data": []})[0] == 200
