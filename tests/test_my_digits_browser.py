"""My digits and the mistakes in Chromium: a guided drawing of a few digits with the mouse (the page
asks for the next digit and counts each), a correction joining the set, its download, the confusion matrix of
the visitor's own digits on the page, and a cell opened to show its digits; screenshots kept."""
import numpy as np
import pytest

from tests.conftest import ARTIFACTS
from tests.test_draw_browser import DESKTOP, PHONE, digit_path, draw, open_page, settle

pytestmark = pytest.mark.browser


def counts(page) -> list[int]:
    """The count row of the panel's table, digits 0 to 9."""
    cells = page.locator("#mine-counts tbody tr").first.locator("td").all_inner_texts()
    return [int(c) for c in cells]


def wait_for_count(page, count: int) -> None:
    """Until the panel's counts add up to `count`."""
    page.wait_for_function("""(count) => {
      const row = document.querySelector('#mine-counts tbody tr');
      return row && [...row.querySelectorAll('td')].reduce((sum, td) => sum + Number(td.innerText), 0) === count;
    }""", arg=count, timeout=15_000)


def keep(page, before: int) -> None:
    page.locator("#mine-keep").click()
    wait_for_count(page, before + 1)
    page.wait_for_timeout(300)


def open_box(page, box: str) -> None:
    page.locator(f"#{box} > button, #{box} .label-wrap").first.click()
    page.wait_for_timeout(300)


@pytest.mark.parametrize("locale, viewport", [("en-US", DESKTOP), ("zh-CN", PHONE)])
def test_a_guided_set_then_its_mistakes_on_the_page(browser, app_url, locale, viewport):
    context, page, errors = open_page(browser, app_url, locale=locale, viewport=viewport)
    try:
        open_box(page, "mine-box")
        for made, digit in enumerate([0, 1, 2]):
            asked = page.locator("#mine-prompt").inner_text()
            assert str(digit) in asked, asked  # the page asks for the digit with fewest drawings
            assert page.locator("#mine-digit input:checked").get_attribute("value") == str(digit)
            draw(page, digit_path(digit))
            settle(page)
            keep(page, made)
        assert counts(page) == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]

        # A correction joins the set: draw a 7, say it's a 7.
        draw(page, digit_path(7))
        settle(page)
        page.locator("#draw-right-digit label", has_text="7").first.click()
        page.locator("#draw-correct").click()
        wait_for_count(page, 4)
        assert counts(page)[7] == 1
        with page.expect_download() as saving:
            page.locator("#mine-download").click()
        with np.load(saving.value.path(), allow_pickle=False) as file:
            assert file["labels"].tolist() == [0, 1, 2, 7] and file["images"].shape == (4, 28, 28)

        open_box(page, "mistakes-box")
        page.locator("#mistakes-data label").nth(2).click()  # my digits, all of them
        page.wait_for_function("document.querySelector('#mistakes-words-a').innerText.includes('4')", timeout=20_000)
        words = page.locator("#mistakes-words-a").inner_text()
        assert "%" in words, words
        page.locator("#mistakes-data label").first.click()  # mnist-5k's held-out
        page.wait_for_function("document.querySelector('#mistakes-words-b').innerText.includes('500')", timeout=20_000)
        page.locator("#mistakes-matrix-b [data-testid=cell-1-8]").click()  # the primer reads two 1s as 7s
        page.wait_for_selector("#mistakes-digits figure img", timeout=15_000)
        assert page.locator("#mistakes-digits figure").count() >= 1
        assert page.locator("#mistakes-digits figcaption").first.inner_text().strip()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"my-digits-{locale}-{viewport['width']}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"console errors: {errors}"
