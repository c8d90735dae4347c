"""How long the browser takes to take in the pen: Playwright mouse moves over the Draw canvas, timed
one by one, with the readings answered (Digit Lab as served, and with Gradio's run history on, its
default) and with their requests held back (so the page never re-renders a reading), beside the
same moves over a blank page.

    python -m benchmarks.pen_input

On 2026-12-03 (2 cores, Chromium 156.0.8078.114), timed by hand in the morning, a move took 0.2 to
0.9 s while readings arrived and 70 to 250 ms without them (the ten mouse-drawn digits test took 145
to 177 s; 36 s the day before); this script, the same machine at 10:25: blank page 17 ms median, the
canvas 94 ms median and 439 ms worst with readings answered, 33 ms and 39 ms held back. A CDP
profile of the page then showed Gradio's run history (every reading's inputs and outputs
re-serialised into localStorage, up to 100 kept) as half the page's work while drawing; Digit Lab
turns it off (app.py). Figures with it off and on, side by side, are in the README.
"""
import re
import statistics
import time

from benchmarks.launch import Server
from tests.conftest import CHROMIUM
from tests.test_draw_browser import DESKTOP, canvas_box, digit_path

DIGITS = (2, 3, 8, 0, 5)


def moves(page, digits=DIGITS) -> list[float]:
    """Seconds each mouse move took, drawing `digits` (the test's stroke templates) one after another."""
    times = []
    for digit in digits:
        page.locator("#draw-clear").click()
        page.wait_for_timeout(1000)
        box = canvas_box(page)
        for stroke in digit_path(digit):
            xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
            page.mouse.move(*xy[0])
            page.mouse.down()
            for x, y in xy[1:]:
                started = time.perf_counter()
                page.mouse.move(x, y, steps=2)
                times.append(time.perf_counter() - started)
            page.mouse.up()
        page.wait_for_timeout(1000)
    return times


def blank(browser) -> list[float]:
    page = browser.new_page()
    page.set_content("<canvas id=c width=400 height=400></canvas><script>const c = document.getElementById('c')"
                     ".getContext('2d'); addEventListener('pointermove', e => c.fillRect(e.clientX, e.clientY, 3, 3))</script>")
    page.mouse.move(10, 10)
    page.mouse.down()
    times = []
    for i in range(200):
        started = time.perf_counter()
        page.mouse.move(10 + i, 10 + i)
        times.append(time.perf_counter() - started)
    page.close()
    return times


def main() -> None:
    from playwright.sync_api import sync_playwright

    server, with_history = Server(), Server(env_extra={"GRADIO_RUN_HISTORY": "True"})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            print(f"{browser.version}; a blank page: median {statistics.median(blank(browser)) * 1000:.0f} ms a move")
            cases = {"answered": server, "answered, Gradio's run history on": with_history, "held back": server}
            times = {case: [] for case in cases}
            for _ in range(2):  # each case twice, in turn, so a change in the machine's load falls on all
                for case, serving in cases.items():
                    page = browser.new_context(viewport=DESKTOP).new_page()
                    if case == "held back":  # the readings' requests are never answered: no reading to render
                        page.route(re.compile(r".*/run/.*"), lambda route: None)
                    page.goto(serving.url)
                    page.wait_for_selector("#draw-canvas canvas[data-ready=true]")
                    times[case] += moves(page)
                    page.context.close()
            for case, taken in times.items():
                print(f"the Draw canvas, readings {case}: median {statistics.median(taken) * 1000:.0f} ms, "
                      f"worst {max(taken) * 1000:.0f} ms a move ({len(taken)} moves)")
            browser.close()
    finally:
        server.stop()
        with_history.stop()


if __name__ == "__main__":
    main()
