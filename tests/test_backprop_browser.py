"""Backprop on your digit in a real browser (Debian's Chromium through Playwright): draw a 7 with
the mouse, open the view, see the loss in the primer's formula, a bar for each layer's gradient and
the gradient drawn over the 28x28 (with its text alternative); press the gradient-descent button
twice and see the copy's probability of the 7 rise while the reading on the canvas stays as it
was. Desktop in English, phone in Chinese; screenshots land in artifacts/."""
import re

import pytest

from tests.conftest import ARTIFACTS
from tests.test_draw_browser import DESKTOP, PHONE, draw, open_page, settle, top

pytestmark = pytest.mark.browser

TITLE = {"en-US": "Backprop on your digit", "zh-CN": "反向传播：在你的数字上"}
STEP = {"en-US": "One step of gradient descent", "zh-CN": "梯度下降一步"}
# "p(7) 97.90% → 98.10%" in the words after a step, in either language
AFTER = re.compile(r"p\(7\) ([\d.]+)% → \*?\*?([\d.]+)%")
TAKEN = {"en-US": "taken {n} step", "zh-CN": "走了 {n} 步"}


@pytest.mark.parametrize("locale, viewport", [("en-US", DESKTOP), ("zh-CN", PHONE)], ids=["desktop-en-US", "phone-zh-CN"])
def test_backprop_on_a_drawn_seven_steps_a_copy_and_leaves_the_reading(browser, app_url, locale, viewport):
    context, page, errors = open_page(browser, app_url, locale=locale, viewport=viewport)
    try:
        draw(page)
        assert settle(page) is not None and top(page) == "7"
        reading = page.locator("#draw-label").inner_text()
        page.get_by_text(TITLE[locale], exact=True).first.click()
        words = page.locator("#backprop-words")
        words.get_by_text("L = −log p(7)").wait_for(timeout=60_000)  # the first opening imports torch
        rows = page.locator("#backprop-layers tr th[scope=row]")
        assert rows.count() >= 5, "a bar for each layer with weights"
        picture = page.locator("#backprop-input-gradient img")
        assert picture.get_attribute("alt"), "the gradient picture has a text alternative"
        button = page.get_by_role("button", name=STEP[locale])
        for n in (1, 2):
            button.click()
            words.get_by_text(TAKEN[locale].format(n=n)).wait_for(timeout=30_000)
        before, after = map(float, AFTER.search(words.inner_text().replace("*", "")).groups())
        assert after > before, f"a step toward the 7 raised p(7) from {before}% to {after}%? {words.inner_text()}"
        assert page.locator("#draw-label").inner_text() == reading, "the served model's reading is unchanged"
        page.locator("#backprop").screenshot(path=str(ARTIFACTS / f"backprop-{'desktop' if viewport is DESKTOP else 'phone'}-{locale}.png"))
    finally:
        context.close()
    assert not errors, errors
