"""A visitor's work survives a reload of the page, in Chromium: the key lives in the browser's
localStorage (gr.BrowserState), the page's load gives back what the server keeps under it and
says so at the top; another browser (no key) starts afresh."""
import pytest

from tests.test_draw_browser import draw, open_page, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def correct(page, digit: str, said: str) -> None:
    draw(page)
    settle(page)
    page.locator("#draw-right-digit label", has_text=digit).click()
    page.locator("#draw-correct").click()
    page.wait_for_function(f"document.querySelector('#draw-corrections').innerText.includes({said!r})")


def test_a_reload_keeps_the_corrections_and_says_so(browser, app_url):
    context, page, errors = open_page(browser, app_url)
    assert not page.locator("#keep-news").is_visible()  # a first visit: nothing to say
    correct(page, "1", "1 correction ")
    page.locator("#draw-clear").click()
    correct(page, "2", "2 corrections")
    page.reload()
    page.wait_for_selector("#draw-canvas canvas[data-ready=true]")
    errors.clear()  # the old page's requests, cut short by the reload
    page.wait_for_function("document.querySelector('#keep-news')?.innerText.includes('2 correction(s)')")
    assert "the shipped one" in page.locator("#keep-news").inner_text()  # which models it now uses
    correct(page, "3", "3 corrections")

    other, other_page, other_errors = open_page(browser, app_url)  # another browser: its own key, nothing kept
    correct(other_page, "4", "1 correction ")
    assert not other_page.locator("#keep-news").is_visible()
    other.close()
    context.close()
    assert not errors and not other_errors, errors + other_errors
