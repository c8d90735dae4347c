"""The Draw tab in a real browser (Debian's Chromium through Playwright): the canvas is ready to
draw the moment the page opens, a drawn digit is read live, Clear re-arms the pen, and how long
the label takes to settle after the pen lifts (printed and saved to artifacts/draw_latency.json).

The latency is measured inside the page: from the pointerup event to the last change of the
label's value (watched by a MutationObserver, then 4 s of quiet). The optional comparison
(`-m slow`) runs the same stroke on bare Gradio apps whose handler does nothing: the default
Sketchpad and a 280x280 PNG one (tests/draw_baseline_app.py).
"""
import json
import statistics

import pytest

from tests.conftest import ARTIFACTS, launch_app, stop_app

pytestmark = pytest.mark.browser

WATCH = """
() => {
  window.__draw = {up: [], label: []};
  window.addEventListener('pointerup', () => window.__draw.up.push(performance.now()), true);
  const read = () => {
    // the top digit and every probability: a new reading changes some percentage
    const el = document.querySelector('#draw-label, #baseline-label');
    return el ? el.innerText.trim() : '';
  };
  window.__drawLast = read();
  new MutationObserver(() => {
    const now = read();
    if (now !== window.__drawLast) { window.__drawLast = now; window.__draw.label.push([performance.now(), now]); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""

# A "7" in one stroke, in fractions of the canvas's drawing area: along the top, then down-left.
SEVEN = [(0.3, 0.25), (0.5, 0.25), (0.7, 0.25), (0.6, 0.45), (0.5, 0.65), (0.42, 0.8)]


def drawing_area(page, selector: str):
    """The canvas's on-screen square where strokes land (the pixi view is wider than the paper)."""
    box = page.locator(f"{selector} canvas").first.bounding_box()
    side = min(box["width"], box["height"]) * 0.8
    return box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2, side


def draw(page, selector: str, points=SEVEN) -> None:
    left, top, side = drawing_area(page, selector)
    xy = [(left + x * side, top + y * side) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def top_label(text: str) -> str:
    """The top digit from the label's text (its first line after the component's title)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else ""


def settle_time(page, quiet_ms: int = 4000) -> tuple[float | None, str]:
    """Seconds from the last pointerup to the label's last change, and its top digit then."""
    page.wait_for_timeout(quiet_ms)
    record = page.evaluate("window.__draw")
    if not record["up"] or not record["label"]:
        return None, ""
    up = record["up"][-1]
    changes = [(t, text) for t, text in record["label"] if t >= up]
    if not changes:
        return None, top_label(record["label"][-1][1])
    return (changes[-1][0] - up) / 1000, top_label(changes[-1][1])


def measure(page, selector: str, clear, trials: int = 3) -> list[float]:
    page.evaluate(WATCH)
    times = []
    for _ in range(trials):
        clear()
        page.wait_for_timeout(1500)
        page.evaluate("window.__draw.up = []; window.__draw.label = []")
        draw(page, selector)
        seconds, text = settle_time(page)
        assert seconds is not None, f"the label never changed after the pen lifted (it reads {text!r})"
        times.append(seconds)
    return times


def test_canvas_is_ready_to_draw_and_reads_a_seven(page):
    canvas = "#draw-canvas"
    page.wait_for_selector(f"{canvas} canvas")
    page.wait_for_timeout(1000)
    assert page.locator("text=select the draw tool").count() == 0, "the canvas asks for the draw tool first"
    page.evaluate(WATCH)
    draw(page, canvas)
    seconds, text = settle_time(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw_seven.png"))
    assert text == "7", f"drew a 7, the label reads {text!r}"
    assert seconds is not None and seconds < 5
    # Clear wipes the strokes and leaves the pen armed: a second digit draws straight away.
    page.locator("#draw-clear").click()
    page.wait_for_timeout(1500)
    assert page.locator("text=select the draw tool").count() == 0
    draw(page, canvas)
    seconds, text = settle_time(page)
    assert text == "7", f"after Clear, drew a 7 again, the label reads {text!r}"


def test_dark_theme_reads_the_same(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(app_url + "?__theme=dark")
        page.wait_for_selector("#draw-canvas canvas")
        page.wait_for_timeout(1000)
        assert page.locator("text=select the draw tool").count() == 0
        page.evaluate(WATCH)
        draw(page, "#draw-canvas")
        seconds, text = settle_time(page)
        page.screenshot(path=str(ARTIFACTS / "draw_seven_dark.png"))
        assert text == "7", f"dark theme: drew a 7, the label reads {text!r}"
    finally:
        context.close()


def _save(figures: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "draw_latency.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved.update(figures)
    path.write_text(json.dumps(saved, indent=2))


def test_label_settles_soon_after_the_pen_lifts(page):
    times = measure(page, "#draw-canvas", lambda: page.locator("#draw-clear").click(), trials=5)
    figure = {"digit_lab": {"seconds": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3)}}
    print(f"\nDraw tab: label settles {figure['digit_lab']['median_s']} s (median) after the pen lifts; trials {figure['digit_lab']['seconds']}")
    _save(figure)
    assert statistics.median(times) < 5  # a loose sanity bound; the figure is the report


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["default", "png280"])
def test_bare_gradio_baseline(browser, variant):
    """The same stroke on a bare app whose handler does nothing, for comparison."""
    process, url = launch_app({"DRAW_BASELINE": variant}, script="tests/draw_baseline_app.py")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_selector("#baseline canvas")
        page.wait_for_timeout(1000)

        def clear():
            page.locator("#baseline button[aria-label='Clear canvas']").click()
            page.wait_for_timeout(300)
            page.locator("#baseline button[aria-label=Brush]").click()

        times = measure(page, "#baseline", clear, trials=5)
    finally:
        context.close()
        stop_app(process)
    figure = {f"bare_{variant}": {"seconds": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3)}}
    print(f"\nbare Gradio ({variant}): label settles {figure[f'bare_{variant}']['median_s']} s (median); trials {figure[f'bare_{variant}']['seconds']}")
    _save(figure)
