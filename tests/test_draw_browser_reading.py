"""The Draw tab reads while the pen moves in the visitor's browser (static/draw_reader.js), with the
network to the server watched (Playwright's request events): no server call while the pen moves, a
reading shown after each movement, and none once the pen stays up either (the page makes the
saliency and draws the views itself), the same with a visitor's own CNN; a correction hands the
server the strokes and keeps their 28x28, and after Clear asks for a drawing first; Inside the CNN
opened, the pen staying up tells the server the strokes (/look_strokes without the saliency); with
the browser's runtime made to fail, the same readings come from the server, silently.
(The parity of the two readings: tests/test_browser_reading_parity.py; of the views:
tests/test_browser_views_parity.py.)"""
import json

import numpy as np

import pytest

from inference.sessions import PRIMER_CNN, shipped
from inference.strokes import prepare_strokes
from tabs.draw.tab import add_correction, browser_model, look_strokes
from tests.test_browser import wait_for
from tests.test_draw_browser import SEVEN, canvas_box

pytestmark = pytest.mark.browser

CALLS = ("/gradio_api/run/", "/gradio_api/queue/", "/gradio_api/call/")  # a reading asked of the server


def open_draw(browser, app_url, block_runtime: bool = False):
    """A fresh page on the app; returns (context, page, calls: [(url, "move"|"up"|"look"|"other")]),
    the calls of the page's own loading already made and forgotten ("look": /look_strokes, the
    light call of a page that reads for itself, tagged by its "ask")."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    if block_runtime:  # as if the browser could not load it: no WebAssembly for this page
        page.route("**/onnxruntime-web/**", lambda route: route.abort())
    calls = []

    def watch(request):
        if any(part in request.url for part in CALLS):
            body = request.post_data or ""
            kind = "look" if '\\"ask\\":' in body else "up" if '\\"up\\":true' in body else "move" if '\\"up\\":false' in body else "other"
            calls.append((request.url, kind))
    page.on("request", watch)
    page.goto(app_url)
    page.wait_for_selector("#draw-canvas canvas[data-ready=true]")
    # The page's first calls (other tabs' load events) are done by the time the runtime is.
    page.wait_for_selector(f"#draw-canvas canvas[data-reader={'server' if block_runtime else 'browser'}]", timeout=20_000)
    page.wait_for_timeout(1500)
    calls.clear()
    return context, page, calls


def draw_slowly(page, stroke=SEVEN[0], pause_ms: int = 250) -> list[str]:
    """Draw `stroke` (fractions of the canvas) with pauses; the label's text after each movement."""
    box = canvas_box(page)
    at = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.move(*at(*stroke[0]))
    page.mouse.down()
    seen = []
    for x, y in stroke[1:]:
        page.mouse.move(*at(x, y), steps=4)
        page.wait_for_timeout(pause_ms)
        seen.append(page.inner_text("#draw-label .container") if page.locator("#draw-label .container").count() else "")
    return seen


def seen_src(page) -> str:
    return page.get_attribute("#draw-seen img", "src") or ""


def test_no_server_call_while_the_pen_moves_and_the_servers_reading_after_it_lifts(browser, app_url):
    """...with the shipped CNNs, then with one the server names for this visitor."""
    context, page, calls = open_draw(browser, app_url)
    try:
        before = seen_src(page)
        labels = draw_slowly(page)
        assert calls == [], f"the server was asked while the pen moved: {calls}"
        assert all(labels), f"a movement with no reading shown: {labels}"
        assert len(set(labels)) >= 2, f"the reading did not follow the pen: {labels}"
        page.mouse.up()
        page.wait_for_function("before => document.querySelector('#draw-seen img')?.src !== before", arg=before, timeout=10_000)
        assert seen_src(page).startswith("data:image/png") and page.get_attribute("#draw-looked img", "src").startswith("data:image/png")
        page.wait_for_function("() => document.querySelector('#draw-news [role=status]')?.innerText.includes('7')")
        page.wait_for_timeout(500)
        assert calls == [], calls  # the pen staying up asks the server nothing: the page made the views
        assert page.inner_text("#draw-label .container").split("\n")[0] == "7"
        assert "7" in page.inner_text("#draw-verdict") and page.inner_text("#draw-primer-verdict").strip()

        # The CNN the server names (tabs/draw/tab.py's browser_model): a file it serves becomes the one
        # the page reads with (here the primer's, so both labels agree); one it cannot fetch leaves
        # the readings to the server.
        page.evaluate("path => window.digitLabCanvas.useModel({own: true, path})", str(shipped(PRIMER_CNN)))
        calls.clear()
        draw_slowly(page, SEVEN[0][:4])
        assert calls == [], calls
        ours, primer = (page.inner_text(f"#{name} .container") for name in ("draw-label", "draw-primer-label"))
        assert ours == primer, (ours, primer)
        page.mouse.up()
        page.evaluate("() => window.digitLabCanvas.useModel({own: true, path: null})")
        assert page.get_attribute("#draw-canvas canvas", "data-reader") == "server"
        calls.clear()
        draw_slowly(page, SEVEN[0][:3])
        page.mouse.up()
        assert "move" in [kind for _, kind in calls], calls
    finally:
        context.close()


# A 4 in two strokes (fractions of the canvas): the down-and-across, then the long stem.
FOUR = [[(0.35, 0.2), (0.3, 0.45), (0.3, 0.55), (0.5, 0.55), (0.68, 0.55)], [(0.58, 0.2), (0.58, 0.5), (0.58, 0.85)]]


def test_a_digit_in_two_strokes_costs_the_server_one_reading_once_the_pen_stays_up(browser, app_url):
    """The page reads each pen-up itself; the server is asked once the pen has stayed up
    (tabs/draw/canvas.py SETTLE_MS), so the pause between a 4's two strokes asks it nothing."""
    context, page, calls = open_draw(browser, app_url)
    try:
        box = canvas_box(page)
        at = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])
        before = seen_src(page)
        for stroke in FOUR:
            page.mouse.move(*at(*stroke[0]))
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(*at(x, y), steps=3)
            page.mouse.up()  # and at once down again for the next stroke: a pause well under SETTLE_MS
        shown = page.inner_text("#draw-label .container") if page.locator("#draw-label .container").count() else ""
        page.wait_for_function("before => document.querySelector('#draw-seen img')?.src !== before", arg=before, timeout=10_000)
        page.wait_for_timeout(500)
        assert calls == [], calls  # the views of both strokes made in the page
        assert page.inner_text("#draw-label .container").split("\n")[0] == "4"
        assert shown, "the page showed no reading of its own when the pen lifted"
    finally:
        context.close()


def test_a_correction_hands_over_the_strokes_and_after_clear_asks_for_a_drawing(browser, app_url):
    context, page, calls = open_draw(browser, app_url)
    try:
        before = seen_src(page)
        draw_slowly(page, pause_ms=30)
        page.mouse.up()
        page.wait_for_function("before => document.querySelector('#draw-seen img')?.src !== before", arg=before, timeout=10_000)
        page.locator("#draw-right-digit label", has_text="7").click()
        page.locator("#draw-correct").click()
        page.wait_for_function("() => document.querySelector('#draw-corrections').innerText.includes('1 correction')", timeout=10_000)
        page.locator("#draw-clear").click()
        page.wait_for_function("() => document.querySelector('#draw-verdict').innerText.toLowerCase().includes('blank')", timeout=10_000)
        page.wait_for_function("() => document.querySelector('#draw-seen img')?.src.startsWith('data:')", timeout=10_000)
        page.wait_for_timeout(500)
        assert [kind for _, kind in calls if kind != "other"] == ["up"], calls  # the strokes, with the correction only
        assert page.locator("#draw-label .container").count() == 0 or not page.inner_text("#draw-label .container").strip()
        page.locator("#draw-correct").click()
        page.wait_for_function("() => document.querySelector('#draw-corrections').innerText.includes('first')", timeout=10_000)
        # Inside the CNN open: it is handed the strokes it lacks, then the pen staying up tells the server (no saliency).
        page.locator("#inside button").first.click()
        page.wait_for_timeout(1000)
        calls.clear()
        before = seen_src(page)
        draw_slowly(page, pause_ms=30)
        page.mouse.up()
        page.wait_for_function("before => document.querySelector('#draw-seen img')?.src !== before", arg=before, timeout=10_000)
        page.wait_for_timeout(1000)
        assert [kind for _, kind in calls if kind == "look"] == ["look"], calls  # (the state's change events follow it)
        stages = lambda: page.evaluate("() => document.querySelector('#inside-stages')?.innerHTML ?? ''")
        assert "<img" in wait_for(page, stages, lambda shown: "<img" in shown, 30), stages()[-300:]  # the stages of this drawing
    finally:
        context.close()


def test_the_light_call_leaves_the_28x28_the_full_reading_does():
    """What a correction keeps after /look_strokes is what it kept after /classify_strokes."""
    from tabs.draw.tab import classify_strokes

    value = json.dumps({"size": 280, "pen": 18, "up": True, "ask": 5, "strokes": [[84, 70, 196, 70, 168, 126, 140, 182, 118, 224]]})
    seen, answer = look_strokes(value)
    assert answer["ask"] == 5 and np.array(answer["heat"]).shape == (28, 28)
    assert np.array_equal(seen, classify_strokes(value)[-1]) and np.array_equal(seen, prepare_strokes(value).image)
    corrections, _ = add_correction("7", seen, [])
    assert np.array_equal(corrections[0][0], seen) and corrections[0][1] == 7
    assert look_strokes(json.dumps({"size": 280, "ask": 6, "strokes": []})) == (None, {"ask": 6, "heat": None})
    told, answer = look_strokes(value.replace('"ask": 5', '"ask": 7, "heat": false'))  # the page made the saliency: no model run
    assert np.array_equal(told, seen) and answer == {"ask": 7, "heat": None}
    assert look_strokes("not json") == (None, {"ask": None, "heat": None})


def test_when_the_browser_cannot_run_it_the_server_reads_while_the_pen_moves(browser, app_url):
    context, page, calls = open_draw(browser, app_url, block_runtime=True)
    try:
        assert page.get_attribute("#draw-canvas canvas", "data-reader") == "server"  # the runtime's load failed
        labels = draw_slowly(page)
        page.mouse.up()
        page.wait_for_function("() => document.querySelector('#draw-label .container')?.innerText.startsWith('7')", timeout=10_000)
        for _ in range(100):  # the label may read 7 from the last move before the pen-up call is sent
            if any(kind == "up" for _, kind in calls):
                break
            page.wait_for_timeout(100)
        kinds = [kind for _, kind in calls]
        assert kinds.count("move") >= 2 and "up" in kinds, calls
        assert any(labels), "no reading while the pen moved"
        assert not page.locator(".toast-body, .error").count(), "the fallback showed an error"
    finally:
        context.close()


def test_a_visitors_own_cnn_is_served_to_their_page_only_by_a_hashed_name(tmp_path):
    import gradio as gr

    block = gr.JSON()
    mine = tmp_path / "cnn.onnx"
    mine.write_bytes(b"not really a model")
    served = browser_model(str(mine), block)
    assert served["own"] and served["path"] != str(mine) and open(served["path"], "rb").read() == mine.read_bytes()
    assert len(served["path"].split("/")[-2]) == 64  # Gradio's cache: a folder named by the file's hash
    assert browser_model(None, block) == {"own": False}
    assert browser_model(str(tmp_path / "gone.onnx"), block) == {"own": True, "path": None}
