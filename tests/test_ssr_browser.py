"""The page as a Space serves it: SSR on (GRADIO_SSR_MODE=true, Gradio's Node proxy on the public
port in front of Python), SYSTEM=spaces and a SPACE_ID. One page load through the Node proxy: the
server-rendered page hydrates, a drawn 7 is read, moving a latent slider makes a new digit, and a
training run (capped at 6 steps) plots its loss, is exported and says the device it ran on.

Only this test runs through SSR; the other browser tests talk to Python directly, as a local
`python app.py` serves (SSR off by default): what differs on a Space is the page's first load
and hydration through Node, which this covers, while the events after it are the same
websocket/HTTP calls to Python either way."""
import pytest

from benchmarks.launch import SPACE_ENV
from tests.conftest import launch_app, stop_app
from tests.test_browser import (GENERATED_SRC, STROKES, draw, label_text, line_lengths, open_tab, pen_armed,
                                wait_for, wait_for_text)

pytestmark = pytest.mark.browser


def test_a_space_page_through_the_node_proxy_draws_generates_and_trains(browser):
    process, url = launch_app(env_extra={**SPACE_ENV, "DIGIT_LAB_TRAIN_MAX_STEPS": "6", "DIGIT_LAB_TRAIN_THREADS": "1"})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(url)
        assert response.ok and "Digit Lab" in response.text()  # rendered by Node before any script ran
        page.wait_for_selector("#draw-canvas canvas[data-ready=true]", timeout=30_000)
        assert wait_for(page, lambda: pen_armed(page), bool, 15), "the canvas never became ready to draw"
        draw(page, STROKES["7"])
        assert wait_for(page, lambda: label_text(page), lambda text: text == "7", 20) == "7"

        panel = open_tab(page, "Generate")
        before = wait_for(page, lambda: panel.evaluate(GENERATED_SRC), bool, 20)
        slider = panel.locator("input[type=range]:visible").first
        box = slider.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.85, box["y"] + box["height"] / 2)
        after = wait_for(page, lambda: panel.evaluate(GENERATED_SRC), lambda src: src and src != before, 20)
        assert before and after != before, "moving a slider through the Node proxy made no new digit"

        panel = open_tab(page, "Train")
        panel.get_by_role("button", name="Start").click()
        done = wait_for_text(page, panel, r"run finished", 180)
        assert "on the CPU" in done, "the finished run does not say where it trained"
        assert line_lengths(panel) > 0, "the run's loss was not plotted through the Node proxy"
        assert not errors, f"page errors: {errors}"
    finally:
        context.close()
        stop_app(process)
