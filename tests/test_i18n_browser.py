"""The page in the visitor's language: Chromium set to zh-CN sees Chinese on every tab and no
English words beyond names and units, before and after using each tab (a digit uploaded, a not-sure
reading, a slider moved, a run started, a second visitor waiting in the queue and leaving it, and
the run stopped); set to en-US it sees no Chinese, on each tab as it opens and after the same uses
(the English visitor queues behind the Chinese visitor's run: an English run, running and stopped,
is checked in tests/test_browser.py). Screenshots of each tab in both languages land in artifacts/."""
import re
import time

import numpy as np
import pytest

from conftest import ARTIFACTS
from test_accessibility import GENERATED_SRC, digit_png
from test_browser import RUN_STEP, wait_for, wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Names and units a Chinese page may show as they are (names of things, with Gradio's own name,
# the data sets' identifiers, and the formulas' function names).
ALLOWED = {
    "cnn", "gan", "onnx", "pca", "relu", "sigmoid", "tanh", "mnist", "digit", "lab", "gradio", "api",
    "adam", "bce", "max", "exp", "log", "fashion", "ms", "px", "sd", "kib", "mib", "pytorch",
    "cpu", "gpu", "zerogpu",
}
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
GRADIO_STATUS = re.compile(r"processing \||queue: \d+/\d* \|")  # Gradio 6.31's status tracker, English only
# The page's visible text, less what is not words to translate: commands and file names shown as
# code, the list of a finished run's downloads (file names and their sizes in Gradio's own units:
# whether it is on the page when the test reads depends only on how fast the run was), and Gradio's
# own footer (its links, and a "Runs" counter Gradio leaves untranslated).
VISIBLE_TEXT = """() => {
  let text = document.querySelector('.gradio-container').innerText;
  const apart = '.gradio-container code, .gradio-container pre, .gradio-container .file-preview, footer';
  for (const code of document.querySelectorAll(apart)) {
    const shown = code.innerText.trim();
    if (shown) text = text.split(shown).join(' ');
  }
  return text;
}"""


def english_words(text: str) -> list[str]:
    return sorted({w for w in ENGLISH_WORD.findall(text) if w.lower() not in ALLOWED})


def new_page(browser, url: str, locale: str, width: int = 1280, height: int = 900):
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("button[role=tab]", timeout=30_000)
    settled_text(page)
    return context, page, errors


def settled_text(page, quiet_ms: int = 600, seconds: float = 15) -> str:
    """The page's visible text once it has stopped changing for `quiet_ms` (plots, canvases and
    images render after a panel shows, and Gradio's "processing |" and "queue: 1/2 |" lines, its
    own untranslated words while an event waits or runs, come and go)."""
    deadline = time.monotonic() + seconds
    text, since = page.evaluate(VISIBLE_TEXT), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(150)
        now = page.evaluate(VISIBLE_TEXT)
        if now != text:
            text, since = now, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms and not GRADIO_STATUS.search(text):
            break
    return text


def open_tab(page, index: int):
    page.locator("button[role=tab]").nth(index).click()
    panel = page.locator(".tabitem:visible").first
    panel.wait_for(state="visible", timeout=10_000)
    settled_text(page)
    return panel


def noise_png() -> bytes:
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray((rng.random((120, 120)) > 0.5).astype(np.uint8) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(page, panel, name: str, data: bytes) -> None:
    box = page.locator("#draw-upload-box").first
    if not panel.locator("#draw-upload input[type=file]").count() or not panel.locator("#draw-upload").is_visible():
        box.click()
    before = page.locator("#draw-label").first.inner_text()
    panel.locator("#draw-upload input[type=file]").set_input_files(files=[{"name": name, "mimeType": "image/png", "buffer": data}])
    wait_for(page, lambda: page.locator("#draw-label").first.inner_text(), lambda text: text != before, 20)
    settled_text(page)


def check(text: str, locale: str, where: str) -> None:
    if locale == "zh-CN":
        assert CHINESE.search(text), f"{where}: no Chinese on the page"
        assert not english_words(text), f"{where}: English words on the Chinese page: {english_words(text)}"
    else:
        assert not CHINESE.search(text), f"{where}: Chinese on the English page: {CHINESE.findall(text)[:20]}"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_every_tab_speaks_the_visitors_language(browser, app_url, locale):
    """Each tab as it opens, on a desktop and a phone."""
    context, page, errors = new_page(browser, app_url, locale)
    try:
        for width, height in ((1280, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            for index, name in enumerate(("draw", "generate", "train")):
                open_tab(page, index)
                check(page.evaluate(VISIBLE_TEXT), locale, f"{name} tab")
                page.screenshot(path=str(ARTIFACTS / f"i18n-{name}-{locale}-{width}px.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"page errors: {errors}"


def use_draw_and_generate(page, locale: str) -> None:
    """Draw: a clear digit read, then noise (not sure); Generate: a slider moved with the keyboard.
    Each state's words checked in `locale`."""
    panel = open_tab(page, 0)
    upload(page, panel, "seven.png", digit_png())
    wait_for(page, lambda: panel.locator("#draw-label").inner_text(), lambda text: "7" in text, 20)
    check(page.evaluate(VISIBLE_TEXT), locale, "draw tab, a digit read")
    upload(page, panel, "noise.png", noise_png())
    page.screenshot(path=str(ARTIFACTS / f"i18n-draw-not-sure-{locale}.png"), full_page=True)
    check(page.evaluate(VISIBLE_TEXT), locale, "draw tab, not sure")

    panel = open_tab(page, 1)
    slider = panel.locator("input[type=range]").nth(1)
    shown = page.evaluate(GENERATED_SRC)
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_for(page, lambda: page.evaluate(GENERATED_SRC), lambda src: src != shown, 20)  # the new digit
    settled_text(page)
    # On a busy machine the slider's images can take longer: until they arrive, Gradio's own
    # status line ("processing | 0.1/0.2s") is on the page, which is not ours to translate.
    wait_for(page, lambda: page.evaluate(VISIBLE_TEXT), lambda shown: "processing |" not in shown, 30)
    check(page.evaluate(VISIBLE_TEXT), locale, "generate tab, a slider moved")


def queue_and_leave(browser, url: str, locale: str):
    """Another visitor presses Start while a run trains: waiting in the queue, then out of it."""
    context, page, errors = new_page(browser, url, locale)
    panel = open_tab(page, 2)
    panel.locator("button.primary").first.click()
    wait_for_text(page, panel, r"waiting its turn|正在排队", 30)
    page.screenshot(path=str(ARTIFACTS / f"i18n-train-queued-{locale}.png"), full_page=True)
    check(page.evaluate(VISIBLE_TEXT), locale, "train tab, waiting in the queue")
    panel.locator("button.stop").first.click()
    return context, page, panel, errors


def test_each_tab_keeps_the_visitors_language_once_used(browser, app_url):
    """Each tab after it is used, in Chinese and in English: a digit read and a not-sure one, a
    slider moved; a Chinese visitor's run started, a second Chinese and an English visitor queued
    behind it and taken out of the queue, and the run stopped. (An English page's run, running and
    stopped, is tests/test_browser.py's, which checks it for Chinese words.)"""
    context, page, errors = new_page(browser, app_url, "zh-CN")
    others = []
    try:
        use_draw_and_generate(page, "zh-CN")
        english = new_page(browser, app_url, "en-US")
        others.append(english)
        use_draw_and_generate(english[1], "en-US")

        panel = open_tab(page, 2)  # Train: start; two more visitors queue, then leave the queue; stop
        # A run long enough that the others are still queued when they leave (it is stopped below).
        panel.locator("#train-epochs input").fill("20")
        panel.locator("button.primary").first.click()
        wait_for_text(page, panel, RUN_STEP, 120)
        check(page.evaluate(VISIBLE_TEXT), "zh-CN", "train tab, running")
        queued = [queue_and_leave(browser, app_url, locale) for locale in ("zh-CN", "en-US")]
        others += [(c, p, []) for c, p, _, _ in queued]  # as before: their page errors are not this test's
        for (_, other_page, other_panel, _), locale in zip(queued, ("zh-CN", "en-US")):
            wait_for_text(other_page, other_panel, r"(?i)left the queue|已离开队列", 60)  # the Stop's answer or the stream's next update, whichever is last
            check(other_page.evaluate(VISIBLE_TEXT), locale, "train tab, the queue left")
        panel.locator("button.stop").first.click()
        wait_for(page, lambda: panel.locator("button.primary").first.is_enabled(), bool, 10)
        # the export after a stop: done when the run's downloads are listed
        wait_for(page, lambda: panel.locator(".file-preview").count(), bool, 120)
        page.screenshot(path=str(ARTIFACTS / "i18n-train-stopped-zh-CN.png"), full_page=True)
        check(page.evaluate(VISIBLE_TEXT), "zh-CN", "train tab, stopped")
    finally:
        for other, _, _ in others:
            other.close()
        context.close()
    errors += [error for _, _, other_errors in others for error in other_errors]
    assert not errors, f"page errors: {errors}"
