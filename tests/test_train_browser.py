"""The Train tab in Debian's Chromium, in English and Chinese: two short runs in one session end
overlaid on one chart (each epoch's point drawn), listed in the table and downloadable by name;
no server path on the page; screenshots at desktop and phone widths into artifacts/.

Runs are capped at a few steps (DIGIT_LAB_TRAIN_MAX_STEPS) so the file stays short on shared cores."""
import re
import time

import pytest

from conftest import ARTIFACTS
from test_browser import wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# What each language calls things on the page (the locales' words)
WORDS = {
    "en-US": {"tab": "Train", "start": "Start", "finished": r"CNN run finished", "off": "off",
              "augment": "Data augmentation"},
    "zh-CN": {"tab": "训练", "start": "开始训练", "finished": r"CNN 训练完成", "off": "关闭",
              "augment": "数据增强"},
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def finish_a_run(page, panel, words, count: int) -> None:
    """Press Start and wait until this session's table lists `count` runs."""
    panel.get_by_role("button", name=words["start"], exact=True).click()
    deadline = time.monotonic() + 240
    while page.locator("#train-runs-table table tbody tr").count() < count and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    wait_for_text(page, page.locator("#train-status"), words["finished"], 10)


@pytest.mark.parametrize("locale", WORDS)
def test_two_runs_are_overlaid_listed_and_downloadable_without_server_paths(browser, capped_app, locale):
    url, runs = capped_app
    words = WORDS[locale]
    context = browser.new_context(viewport=WIDTHS["desktop"], locale=locale, device_scale_factor=1)
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(url)
        page.wait_for_selector("text=Digit Lab")
        page.get_by_role("tab", name=words["tab"]).click()
        panel = page.locator(".tabitem:visible").first
        panel.wait_for(state="visible")
        finish_a_run(page, panel, words, 1)
        # The second run without augmentation: a keyboard-usable radio, chosen by its name
        page.locator("#train-augment").get_by_label(words["off"], exact=True).check()
        finish_a_run(page, panel, words, 2)
        overlay = page.locator("#train-compare-plot")
        assert overlay.locator(".mark-line path").count() == 2, overlay.inner_html()[:500]
        assert overlay.locator(".mark-point circle").count() == 2  # one epoch each: a dot each
        assert page.locator("#train-score-plot .mark-point circle").count() >= 1  # the held-out point
        text = panel.inner_text()
        assert str(runs) not in text and "/tmp/" not in text and "runs/" not in text, text
        names = text.replace("\n", "")  # Gradio's file list sets a name's extension apart
        assert "cnn.onnx" in names and "run.json" in names  # the downloads, by name
        if locale == "zh-CN":
            assert CJK.search(text)
        else:
            assert not CJK.search(text), CJK.findall(text)[:20]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"train-two-runs-desktop-{locale}.png"), full_page=True)
        page.set_viewport_size(WIDTHS["phone"])
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / f"train-two-runs-phone-{locale}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the Train tab is {overflow}px wider than a phone screen"
    finally:
        context.close()
    assert not errors, f"console errors: {errors}"
