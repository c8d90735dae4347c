"""Your own digits, end to end in Chromium: a set of all ten digits through the upload button (the
guided drawing of a set, on a desktop and a phone, is tests/test_my_digits_browser.py's), then a
short "mine only" run fine-tuned from the served model on the Train tab (its status scores it on
mnist-5k's held-out digits and on yours), then the confusion matrix of the run's model on your held-out digits beside the shipped
model's, on the Draw tab. Screenshots at desktop (English) and phone (Chinese) widths.

Runs are capped at a few steps (DIGIT_LAB_TRAIN_MAX_STEPS) so the file stays short on shared cores."""
import time

import numpy as np
import pytest

from inference import my_digits
from tests.conftest import ARTIFACTS
from tests.test_draw_browser import DESKTOP, PHONE, open_page
from tests.test_my_digits_browser import open_box, wait_for_count

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WORDS = {
    "en-US": {"tab": "Train", "draw": "Draw", "start": "Start", "finished": "CNN run finished", "mine": "mine only",
              "yours": "your digits"},
    "zh-CN": {"tab": "训练", "draw": "手写", "start": "开始训练", "finished": "CNN 训练完成", "mine": "只用我的",
              "yours": "你的数字"},
}


def ten_digits() -> bytes:
    """A .npz of ten digits, 0 to 9, as the server reads strokes like the drawn ones."""
    from inference import strokes
    from tests.draw_digits import page_digit

    rng = np.random.default_rng(10)
    return my_digits.to_npz([(strokes.prepare_strokes(page_digit(d, rng, 0.8)).image, d) for d in range(10)])


@pytest.mark.parametrize("locale, viewport", [("en-US", DESKTOP), ("zh-CN", PHONE)])
def test_your_set_trains_a_run_whose_mistakes_show_beside_the_shipped_models(browser, capped_app, locale, viewport):
    words = WORDS[locale]
    context, page, errors = open_page(browser, capped_app[0], locale=locale, viewport=viewport)
    try:
        open_box(page, "mine-box")
        with page.expect_file_chooser() as chooser:
            page.locator("#mine-upload").click()
        chooser.value.set_files(files=[{"name": "mine.npz", "mimeType": "application/octet-stream", "buffer": ten_digits()}])
        wait_for_count(page, 10)
        with page.expect_download() as saving:
            page.locator("#mine-download").click()
        with np.load(saving.value.path(), allow_pickle=False) as file:
            mine = my_digits.from_arrays(file["images"], file["labels"])
        trained, held_out = my_digits.split(mine)
        assert len(mine) == 10 and trained

        page.get_by_role("tab", name=words["tab"]).click()
        page.locator("#train-mine-digits").get_by_label(words["mine"], exact=True).check()
        page.locator("#train-fine-tune input").check()  # from the served model: it keeps reading strangers' digits
        panel = page.locator(".tabitem:visible").first
        panel.get_by_role("button", name=words["start"], exact=True).click()
        deadline = time.monotonic() + 240
        while words["finished"] not in page.locator("#train-status").inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        status = page.locator("#train-status").inner_text()
        assert words["finished"] in status, status
        if held_out:  # scored on both held-out sets
            assert words["yours"] in status, status
        assert float(status.split("%")[0].rsplit(" ", 1)[-1]) >= 90, status  # fine-tuned, not started at random
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"train-mine-{locale}-{viewport['width']}.png"), full_page=True)

        page.get_by_role("tab", name=words["draw"]).click()
        open_box(page, "mistakes-box")
        page.locator("#mistakes-model-b label").nth(2).click()  # the shipped CNN, beside the run's
        page.locator("#mistakes-data label").nth(2 if not held_out else 1).click()  # your digits
        count = str(len(held_out) or len(mine))
        for side in "ab":
            page.wait_for_function(f"document.querySelector('#mistakes-words-{side}').innerText.includes('%')", timeout=30_000)
        assert count in page.locator("#mistakes-words-a").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"train-mine-mistakes-{locale}-{viewport['width']}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"console errors: {errors}"
