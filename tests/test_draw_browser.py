"""The Draw tab in a real browser (Debian's Chromium through Playwright): the canvas is ready to
draw the moment the page opens; ten digits drawn with the mouse are read right; the reading
follows the pen while it moves and settles soon after it lifts (the figure is printed and saved
to artifacts/draw_latency.json); undo, clear, the pen sizes, the dark theme, touch drawing on a
phone, uploads and corrections work; the reading is announced to screen readers; screenshots of
the tab (desktop and phone, English and Chinese) land in artifacts/.

The settle time is measured inside the page, from the last pointerup to whichever comes later:
the answer to the pen-up request arriving (a fetch spy installed before the page loads) or, where
the page makes the views itself, the 28x28 view drawn, or the label's last change (MutationObservers). The machine is shared with other work, so the figure is
a median and the bound asserted is loose; the figure is the report.

The comparison, run only when asked for (`pytest -s -m measure tests/test_draw_browser.py`), draws
a 7 on bare Gradio apps whose handler does nothing: the default Sketchpad and a 280x280 PNG one
(tests/draw_baseline_app.py).
"""
import json
import re
import statistics

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ARTIFACTS, launch_app, stop_app
from tests.draw_digits import TEMPLATES, drawn_digit

pytestmark = pytest.mark.browser

# Installed before the page's own scripts, so Gradio's client calls the wrapped fetch: it records
# when each reading's answer has arrived, for the pen moving ("move") and lifted ("up").
SPY = r"""
window.__draw = {up: [], down: [], label: [], answers: [], views: []};
window.addEventListener('pointerup', () => window.__draw.up.push(performance.now()), true);
window.addEventListener('pointerdown', () => window.__draw.down.push(performance.now()), true);
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const body = args[1] && typeof args[1].body === 'string' ? args[1].body : '';
  const sent = performance.now();
  const response = await realFetch(...args);
  const kind = body.includes('\\"up\\":true') ? 'up' : body.includes('\\"up\\":false') ? 'move' : null;
  if (kind) response.clone().text().then(() => window.__draw.answers.push([performance.now(), kind, sent]));
  return response;
};
const watchLabel = () => {
  const read = () => document.querySelector('#draw-label .container, #baseline-label .container')?.innerText.trim() ?? '';
  let last = read();
  new MutationObserver(() => {
    const now = read();
    if (now !== last) { last = now; window.__draw.label.push([performance.now(), now]); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  // A page that reads for itself makes the views once the pen stays up, asking the server nothing.
  new MutationObserver((changes) => {
    if (changes.some((c) => c.target.closest?.('#draw-seen'))) window.__draw.views.push(performance.now());
  }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['src']});
};
document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', watchLabel) : watchLabel();
"""

SEVEN = [[(0.3, 0.25), (0.5, 0.25), (0.7, 0.25), (0.6, 0.45), (0.5, 0.65), (0.42, 0.8)]]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def digit_path(digit: int, height: float = 0.6) -> list[list[tuple[float, float]]]:
    """The digit's first stroke template (tests/draw_digits.py), as fractions of the canvas."""
    return [[(0.5 + (x - 0.3) * height, 0.5 + (y - 0.5) * height) for x, y in stroke] for stroke in TEMPLATES[digit][0]]


def open_page(browser, app_url, locale="en-US", viewport=DESKTOP, theme=None, **options):
    """A fresh context and page on the app with the spy installed; returns (context, page, errors)."""
    context = browser.new_context(viewport=viewport, locale=locale, **options)
    context.add_init_script(SPY)
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app_url + (f"?__theme={theme}" if theme else ""))
    page.wait_for_selector("#draw-canvas canvas[data-ready=true]")
    return context, page, errors


@pytest.fixture
def desk(browser, app_url):
    context, page, errors = open_page(browser, app_url)
    yield page
    context.close()
    assert not errors, f"console errors: {errors}"


def canvas_box(page) -> dict:
    """Where the canvas is, once the page has stopped moving it: the components around it still lay
    out after it is ready (a pen put down at a box read too early lands on the page's text)."""
    canvas = page.locator("#draw-canvas canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for _ in range(30):
        page.wait_for_timeout(100)
        now = canvas.bounding_box()
        if now == box:
            break
        box = now
    return box


def draw(page, strokes=SEVEN, steps: int = 2, pause_ms: int = 0) -> None:
    """Draw the strokes (fractions of the canvas) with the mouse."""
    box = canvas_box(page)
    for stroke in strokes:
        xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for x, y in xy[1:] if len(xy) > 1 else xy:
            page.mouse.move(x, y, steps=steps if len(xy) > 2 else 12)
            if pause_ms:
                page.wait_for_timeout(pause_ms)
        page.mouse.up()


def settle(page, timeout_ms: int = 10_000, quiet_ms: int = 600) -> float | None:
    """Wait for the reading of the last pen-up; seconds from that pointerup to the later of its
    answer (or, where the page made them, its views) and the label's last change (None if neither came)."""
    waited = 0
    while waited < timeout_ms:
        page.wait_for_timeout(100)
        waited += 100
        record = page.evaluate("window.__draw")
        if not record["up"]:
            continue
        up = record["up"][-1]
        answers = [t for t, kind, _ in record["answers"] if t >= up and kind == "up"] + [t for t in record["views"] if t >= up]
        changes = [t for t, _ in record["label"] if t >= up]
        now = page.evaluate("performance.now()")
        if answers and now - max(answers + changes) > quiet_ms:
            return (max(answers + changes) - up) / 1000
    return None


def top(page, selector="#draw-label") -> str:
    values = page.locator(f"{selector} [data-testid=label-output-value]")
    return values.inner_text().strip() if values.count() else ""


def clear(page) -> None:
    page.locator("#draw-clear").click()
    page.wait_for_function("document.querySelector('#draw-verdict').innerText.trim().length > 0")
    page.wait_for_timeout(300)


def test_ten_mouse_drawn_digits_are_read_right_and_settle_fast(desk):
    page = desk
    assert page.locator("text=select the draw tool").count() == 0  # ready at once: no tool to pick
    times, read, round_trips = [], [], []
    for digit in range(10):
        if digit:
            clear(page)
        draw(page, digit_path(digit), steps=1)
        seconds = settle(page)
        assert seconds is not None, f"no reading came after drawing a {digit}"
        times.append(seconds)
        read.append(top(page))
        record = page.evaluate("window.__draw")
        final = [(t, sent) for t, kind, sent in record["answers"] if kind == "up" and t >= record["up"][-1]]
        if final:
            round_trips.append(final[-1][0] - final[-1][1])
    right = sum(r == str(d) for d, r in enumerate(read))
    median = statistics.median(times)
    round_trip = statistics.median(round_trips) / 1000 if round_trips else None
    figure = {"digit_lab_strokes": {"seconds": [round(t, 3) for t in times], "median_s": round(median, 3), "read_right": f"{right}/10",
                                    "final_request_round_trip_median_s": round(round_trip, 3) if round_trip else None}}
    print(f"\nDraw tab (strokes canvas): reading settles {median:.3f} s (median of 10 mouse-drawn digits) after the pen lifts;"
          f" trials {figure['digit_lab_strokes']['seconds']}; the pen-up request's round trip {round_trip} s (median);"
          f" read right {right}/10 ({read})")
    _save(figure)
    page.screenshot(path=str(ARTIFACTS / "draw_nine.png"))
    assert right == 10, f"drew 0-9, read {read}"
    assert median < 2.0  # a loose bound for a shared machine; the figure above is the report
    # Gradio's run history is off: none of the readings (nor the drawings in them) is kept in the page's storage.
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('gradio:run-history'))") == []


def test_the_reading_follows_the_pen_while_it_moves(desk):
    """Readings come while the pen is still down (made by the page, or by the server while the
    page's reader loads or where it cannot run). How many come in a lap depends on how busy the
    machine is (the canvas sends the next only when the last is answered), so the pen goes round
    the ring again, up to 12 laps, until three have come: what is checked is that they come."""
    page = desk
    box = canvas_box(page)
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    while_moving, laps = [], 0
    while len(while_moving) < 3 and laps < 12:
        for k in range(1, 41):  # a slow lap, about 1.6 s of drawing
            angle = 2 * np.pi * k / 40 - np.pi / 2
            page.mouse.move(box["x"] + (0.5 + 0.22 * np.cos(angle)) * box["width"], box["y"] + (0.5 + 0.3 * np.sin(angle)) * box["height"])
            page.wait_for_timeout(40)
        laps += 1
        record = page.evaluate("window.__draw")
        # From the server (its answers) until the page's own reader is ready, then from the page
        # (static/draw_reader.js: the label changes with no call): either way, readings.
        down = record["down"][-1]
        while_moving = [t for t, kind, _ in record["answers"] if kind == "move"] + [t for t, _ in record["label"] if t > down]
    page.mouse.up()
    print(f"\nreadings that arrived while the pen was still down: {len(while_moving)} in {laps} lap(s)")
    assert len(while_moving) >= 3, record["answers"]
    assert settle(page) is not None
    assert top(page) == "0"


def test_undo_clear_and_pen_sizes(desk):
    page = desk
    page.locator("#draw-pen label", has_text="Bold").click()
    page.wait_for_function("document.querySelector('#draw-canvas canvas').dataset.pen === '28'")
    draw(page)
    settle(page)
    assert top(page) == "7"
    draw(page, [[(0.15, 0.9), (0.5, 0.92), (0.85, 0.9)]])  # a stray line under the 7
    settle(page)
    page.locator("#draw-undo").click()
    settle(page)
    assert top(page) == "7", "undo should take the stray line away"
    clear(page)
    assert "blank" in page.locator("#draw-verdict").inner_text().lower()
    assert top(page) == ""
    # The reading is announced, and the correction keeps what the model saw.
    draw(page)
    settle(page)
    news = page.locator("#draw-news [role=status]")
    assert "Digit Lab's CNN" in news.inner_text() and "7" in news.inner_text()
    page.locator("#draw-right-digit label", has_text="1").click()
    page.locator("#draw-correct").click()
    page.wait_for_function("document.querySelector('#draw-corrections').innerText.includes('correction')")


def test_the_canvas_is_named_and_says_how_to_get_in_without_a_pointer(desk):
    page = desk
    canvas = page.locator("#draw-canvas canvas")
    assert canvas.get_attribute("role") == "img" and "digit" in canvas.get_attribute("aria-label").lower()
    described = page.locator(f"#{canvas.get_attribute('aria-describedby')}")
    assert "upload" in described.inner_text().lower() and "keyboard" in described.inner_text().lower()
    draw(page)
    settle(page)
    page.wait_for_timeout(500)
    for image in page.locator("#draw-seen img, #draw-looked img").all():
        assert image.get_attribute("alt"), "every image says what it shows"


def test_an_upload_is_read(desk, tmp_path):
    page = desk
    path = tmp_path / "three.png"
    layer = drawn_digit(3, np.random.default_rng(8), canvas=280)["composite"]
    Image.fromarray(layer).convert("RGB").save(path)
    page.locator("#draw-upload-box").get_by_text("upload").first.click()
    page.locator("#draw-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function("document.querySelector('#draw-label [data-testid=label-output-value]')?.innerText.trim() === '3'", timeout=15_000)
    # Clear takes the upload away too (and with nothing uploaded, leaves the upload alone: no reading of it).
    page.locator("#draw-clear").click()
    page.wait_for_function("!document.querySelector('#draw-upload img')", timeout=10_000)
    page.wait_for_function("document.querySelector('#draw-verdict').innerText.toLowerCase().includes('blank')", timeout=10_000)


def test_dark_theme_reads_the_same(browser, app_url):
    context, page, errors = open_page(browser, app_url, theme="dark")
    try:
        draw(page)
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "draw_seven_dark.png"))
        assert top(page) == "7"
        ink = page.evaluate("getComputedStyle(document.querySelector('#draw-canvas canvas')).color")
        assert sum(int(v) for v in re.findall(r"\d+", ink)[:3]) > 3 * 128, f"dark theme: light ink expected, got {ink}"
        assert not errors, errors
    finally:
        context.close()


def touch_draw(page, cdp, strokes) -> None:
    """Draw with a finger: Chromium's touch events (CDP), which the page sees as touch pointers."""
    box = canvas_box(page)
    for stroke in strokes:
        xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        dense = [xy[0]]
        for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:]):
            dense += [(x0 + (x1 - x0) * t / 6, y0 + (y1 - y0) * t / 6) for t in range(1, 7)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": dense[0][0], "y": dense[0][1]}]})
        for x, y in dense[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_touch_drawing_on_a_phone(browser, app_url):
    context, page, errors = open_page(browser, app_url, viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    try:
        cdp = context.new_cdp_session(page)
        scroll = page.evaluate("window.scrollY")
        touch_draw(page, cdp, SEVEN)
        seconds = settle(page)
        assert seconds is not None and top(page) == "7", f"a finger-drawn 7 reads {top(page)!r}"
        assert page.evaluate("window.scrollY") == scroll, "drawing must not scroll the page"
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshots(browser, app_url, device, locale):
    """The Draw tab after drawing a 7, in both languages, on a desktop and a phone."""
    options = {"viewport": DESKTOP} if device == "desktop" else {"viewport": PHONE, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
    context, page, errors = open_page(browser, app_url, locale=locale, **options)
    try:
        if device == "phone":
            touch_draw(page, context.new_cdp_session(page), SEVEN)
        else:
            draw(page)
        settle(page)
        page.wait_for_timeout(800)  # the images arrive after the label
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"draw_{device}_{locale}.png"), full_page=True)
        assert top(page) == "7"
        panel = page.locator("[role=tabpanel]:visible").first.inner_text()
        if locale == "zh-CN":
            assert "这是" in page.locator("#draw-verdict").inner_text()
            english = set(re.findall(r"[A-Za-z]{2,}", panel)) - {"CNN", "MNIST", "Digit", "Lab"}
            assert not english, f"English left on the Chinese Draw tab: {sorted(english)}"
        else:
            assert not re.search(r"[\u4e00-\u9fff]", panel), "Chinese on the English Draw tab"
        assert not errors, errors
    finally:
        context.close()


def _save(figures: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "draw_latency.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved.update(figures)
    path.write_text(json.dumps(saved, indent=2))


@pytest.mark.slow
@pytest.mark.measure
@pytest.mark.parametrize("variant", ["default", "png280"])
def test_bare_gradio_baseline(browser, variant):
    """The same 7 on a bare app whose Sketchpad handler does nothing, for comparison: seconds
    from the pointerup to the label's last change."""
    process, url = launch_app({"DRAW_BASELINE": variant}, script="tests/draw_baseline_app.py")
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(SPY)
    page = context.new_page()
    times = []
    try:
        page.goto(url)
        page.wait_for_selector("#baseline canvas")
        page.wait_for_timeout(1000)
        for _ in range(5):
            page.locator("#baseline button[aria-label='Clear canvas']").click()
            page.wait_for_timeout(300)
            page.locator("#baseline button[aria-label=Brush]").click()
            page.wait_for_timeout(1200)
            box = page.locator("#baseline canvas").first.bounding_box()
            side = min(box["width"], box["height"]) * 0.8
            left, top_ = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
            xy = [(left + x * side, top_ + y * side) for x, y in SEVEN[0]]
            page.mouse.move(*xy[0])
            page.mouse.down()
            for x, y in xy[1:]:
                page.mouse.move(x, y, steps=3)
            page.mouse.up()
            changes = []
            for _ in range(200):  # until the label has changed and then kept still for 1.5 s (20 s at most)
                page.wait_for_timeout(100)
                record = page.evaluate("window.__draw")
                changes = [t for t, _ in record["label"] if t >= record["up"][-1]]
                if changes and page.evaluate("performance.now()") - changes[-1] > 1500:
                    break
            assert changes, "the baseline label never changed"
            times.append((changes[-1] - record["up"][-1]) / 1000)
    finally:
        context.close()
        stop_app(process)
    figure = {f"bare_{variant}": {"seconds": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3)}}
    print(f"\nbare Gradio ({variant}): label settles {figure[f'bare_{variant}']['median_s']} s (median); trials {figure[f'bare_{variant}']['seconds']}")
    _save(figure)
