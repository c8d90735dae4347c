"""Accessibility as axe-core (Deque's engine, bundled by axe-playwright-python) sees it in Debian's
Chromium: no critical or serious violation on any tab beyond those a bare Gradio page with the same
Sketchpad and Label already shows (tests/draw_baseline_app.py), in English with the light mode and in
Chinese with the dark one, before and after a visitor uses the tab. And the keyboard alone reaches the
Generate tab and steers a slider."""
import io
import re
import time
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from conftest import ARTIFACTS, launch_app, stop_app
from test_browser import RUN_STEP, wait_for, wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERIOUS = ("critical", "serious")
TAB_NAMES = ("draw", "generate", "train")
# Each language once and each colour scheme once: axe's contrast rules follow the scheme, the words
# follow the language, and neither depends on the other.
SETTINGS = [("en-US", "light"), ("zh-CN", "dark")]


def serious_violations(page) -> list[tuple[str, str]]:
    """(rule, the node's opening tag with addresses and generated ids left out) of each critical or
    serious violation on the page: the same kind of node on two pages gives the same pair."""
    from axe_playwright_python.sync_playwright import Axe

    found = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in SERIOUS:
            found += [(violation["id"], _shape(node["html"])) for node in violation["nodes"]]
    return found


def _shape(html: str) -> str:
    tag = html.split(">", 1)[0] + ">"
    return re.sub(r'\s(src|href|id|for|aria-labelledby|aria-controls|style)="[^"]*"', "", tag)


def open_page(browser, url: str, locale: str, scheme: str):
    context = browser.new_context(locale=locale, color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("text=Digit Lab", timeout=30_000)
    settle(page)
    return context, page


def settle(page, quiet_ms: int = 600, seconds: float = 15) -> None:
    """Until the page's markup has not changed for `quiet_ms`: plots, canvases and images render
    after a panel shows, and a streamed update lands a moment after the click that asked for it."""
    deadline = time.monotonic() + seconds
    shape, since = page.evaluate(MARKUP), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(150)
        now = page.evaluate(MARKUP)
        if now != shape:
            shape, since = now, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms:
            return


MARKUP = "() => document.querySelector('.gradio-container')?.innerHTML.length + '/' + document.querySelector('.gradio-container')?.innerText"


def open_tab(page, index: int):
    page.locator("button[role=tab]").nth(index).click()
    panel = page.locator(".tabitem:visible").first
    panel.wait_for(state="visible", timeout=10_000)
    settle(page)  # plots, canvases and images render after the panel shows
    return panel


@pytest.fixture(scope="module")
def bare_violations(browser):
    """What axe finds on a do-nothing Gradio page with the same Sketchpad and Label: Gradio's own."""
    process, url = launch_app(script="tests/draw_baseline_app.py")
    try:
        found = Counter()
        for locale, scheme in SETTINGS:
            context, page = open_page(browser, url, locale, scheme)
            found |= Counter(serious_violations(page))  # the most of each kind in any setting
            context.close()
        return found
    finally:
        stop_app(process)


def digit_png() -> bytes:
    """A clear 7 on white paper, as a visitor might photograph one."""
    image = np.full((140, 140), 255, np.uint8)
    image[25:37, 30:110] = 0  # the bar
    for row in range(37, 120):  # the stem, slanting left as it falls
        col = int(105 - (row - 37) * 0.45)
        image[row, col - 6 : col + 6] = 0
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def use_draw(page, panel) -> None:
    """The keyboard way in: a picture through the upload box."""
    page.locator("#draw-upload-box").first.click()
    panel.locator("#draw-upload input[type=file]").set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": digit_png()}])
    wait_for(page, lambda: panel.locator("#draw-label").inner_text(), lambda text: "7" in text, 20)


def use_generate(page, panel) -> None:
    slider = panel.locator("input[type=range]").nth(1)
    slider.focus()
    shown = page.evaluate(GENERATED_SRC)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_for(page, lambda: page.evaluate(GENERATED_SRC), lambda src: src != shown, 20)  # the new digit
    settle(page)


def use_train(page, panel) -> None:
    panel.locator("button.primary").first.click()
    try:
        wait_for_text(page, panel, RUN_STEP, 120)
    finally:
        panel.locator("button.stop").first.click()
    wait_for(page, lambda: panel.locator("button.stop").first.is_visible(), bool, 5)
    settle(page, quiet_ms=1000)


USE = {"draw": use_draw, "generate": use_generate, "train": use_train}


@pytest.mark.parametrize("locale, scheme", SETTINGS)
def test_no_serious_violation_beyond_bare_gradio(browser, app_url, bare_violations, locale, scheme):
    """A kind of violating node counts against us unless the bare page shows the same kind (an
    empty gr.Label's box, say: Gradio's own markup, however many Labels a tab has)."""
    context, page = open_page(browser, app_url, locale, scheme)
    beyond = {}
    try:
        for index, name in enumerate(TAB_NAMES):
            panel = open_tab(page, index)
            for state in ("default", "used"):
                if state == "used":
                    USE[name](page, panel)
                extra = [v for v in serious_violations(page) if v not in bare_violations]
                if extra:
                    beyond[f"{name}/{state}"] = extra
                page.screenshot(path=str(ARTIFACTS / f"a11y-{name}-{state}-{locale}-{scheme}.png"), full_page=True)
    finally:
        context.close()
    assert not beyond, "axe finds, beyond a bare Gradio page:\n" + "\n".join(
        f"  {where}: {rule} on {node}" for where, found in beyond.items() for rule, node in found)


GENERATED_SRC = "() => document.querySelector('#generate-output img')?.getAttribute('src') || ''"


def test_the_keyboard_alone_reaches_the_generate_tab_and_steers_a_slider(browser, app_url):
    context, page = open_page(browser, app_url, "en-US", "light")
    try:
        def focus_on(test: str, presses: int = 80) -> bool:
            for _ in range(presses):
                page.keyboard.press("Tab")
                if page.evaluate(test):
                    return True
            return False

        on_generate_tab = "() => document.activeElement?.dataset?.tabId === 'generate'"
        assert focus_on(on_generate_tab, 20), "Tab never reaches the Generate tab"
        page.keyboard.press("Enter")
        before = wait_for(page, lambda: page.evaluate(GENERATED_SRC), bool, 30)
        assert before, "the Generate tab shows no image"
        on_direction = ("() => document.activeElement?.type === 'range' && "
                        "document.activeElement.closest('.tabitem')?.offsetParent !== null && "
                        "!/truncation|截断/i.test(document.activeElement.getAttribute('aria-label') || '')")
        assert focus_on(on_direction, 40), "Tab never reaches a latent slider"
        for _ in range(8):
            page.keyboard.press("ArrowRight")
        after = wait_for(page, lambda: page.evaluate(GENERATED_SRC), lambda src: src and src != before, 20)
        page.screenshot(path=str(ARTIFACTS / "keyboard-generate-slider.png"), full_page=True)
        assert after != before, "the arrow keys moved the slider but the image did not change"
    finally:
        context.close()
