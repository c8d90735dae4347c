"""The inside views in a real browser (Debian's Chromium through Playwright): upload a digit on the
Draw tab (the keyboard way in, robust to canvas changes), open "Inside the CNN" and see the feature
maps of each stage with their one-line explanations, choose a feature map and see its filter; the
Generate tab shows the discriminator's verdict and names every preview strip. Screenshots at
desktop 1280x900 and phone 390x844, in en-US and zh-CN, land in artifacts/."""
import re

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ARTIFACTS
from tests.test_browser import wait_for
from tests.draw_digits import drawn_digit

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
OPEN = {"en-US": "Inside the CNN", "zh-CN": "CNN 内部"}
GENERATE = {"en-US": "Generate", "zh-CN": "生成"}
CRITIC = {"en-US": re.compile(r"Looks (real|generated)"), "zh-CN": re.compile(r"像(真的|生成的)")}


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("inside") / "seven.png"
    Image.fromarray(drawn_digit(7, np.random.default_rng(3), canvas=280)["composite"]).convert("RGB").save(path)
    return str(path)


def open_page(browser, app_url, locale, viewport):
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale=locale)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app_url)
    page.wait_for_selector("#draw-upload-box")
    return context, page, errors


def upload(page, digit_png):
    page.locator("#draw-upload-box button").first.click()  # the accordion's header
    page.locator("#draw-upload input[type=file]").set_input_files(digit_png)
    page.wait_for_function("() => (document.querySelector('#draw-label')?.innerText || '').match(/\\d+%/)", timeout=30_000)


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_inside_the_cnn_shows_every_stage_for_an_uploaded_digit(browser, app_url, digit_png, locale, viewport):
    context, page, errors = open_page(browser, app_url, locale, viewport)
    try:
        upload(page, digit_png)
        page.get_by_text(OPEN[locale], exact=True).first.click()
        stages = page.locator("#inside-stages")
        stages.locator("img").first.wait_for(timeout=30_000)
        images = stages.locator("img")
        count = images.count()
        assert count >= 20, f"only {count} stage pictures"  # the shipped CNN: input + 24 map stages + features
        alts = [images.nth(k).get_attribute("alt") for k in range(count)]
        assert all(alts), "a stage picture without alt text"
        assert all(images.nth(k).evaluate("img => img.naturalWidth > 0") for k in range(count)), "a picture did not load"
        text = stages.inner_text()
        assert ("ReLU max(0, x)" in text) and (("max pooling" in text) if locale == "en-US" else ("最大池化" in text))
        assert len(stages.locator("table tr").all()) == 11  # header + ten digits
        # the chosen feature map and the filter that made it
        page.locator("#inside-filter").scroll_into_view_if_needed()
        page.locator("#inside-filter img").wait_for(state="attached", timeout=60_000)  # lazy: "hidden" until in view
        assert page.locator("#inside-filter-line").inner_text().strip()
        page.locator("#inside").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"inside-{viewport}-{locale}.png"), full_page=False)
        stages.screenshot(path=str(ARTIFACTS / f"inside-stages-{viewport}-{locale}.png"))
        # the primer's CNN: shown when its export is there, else a clear sentence, never a crash
        page.locator("#inside-model label").nth(1).click()
        page.wait_for_timeout(1500)
        assert page.locator("#inside-stages").inner_text().strip()
    finally:
        context.close()
    assert not errors, errors


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_generate_tab_shows_the_discriminators_verdict_and_names_its_strips(browser, app_url, locale, viewport):
    context, page, errors = open_page(browser, app_url, locale, viewport)
    try:
        page.get_by_role("tab", name=GENERATE[locale]).click()
        critic = page.locator("#generate-critic")
        # the verdict, not Gradio's "processing" line that stands in its place while it is computed
        text = wait_for(page, critic.inner_text, lambda t: CRITIC[locale].search(t) or "gan.discriminator.onnx" in t, 30)
        import os
        from pathlib import Path

        exports = Path(os.environ.get("DIGIT_LAB_EXPORTS") or Path(__file__).resolve().parent.parent / "exports")
        if (exports / "gan.discriminator.onnx").is_file():
            assert CRITIC[locale].search(text), text
        else:
            assert "gan.discriminator.onnx" in text, text
        # every image on the tab is named; no button without a name
        page.wait_for_timeout(2000)
        unnamed = page.evaluate("""() => [...document.querySelectorAll('button')].filter(b => b.offsetParent !== null
              && !(b.innerText || '').trim() && !b.getAttribute('aria-label') && !b.getAttribute('title')
              && !b.querySelector('img[alt]:not([alt=""])')).map(b => b.outerHTML.slice(0, 200))""")
        assert not unnamed, unnamed
        strips = page.evaluate("() => [...document.querySelectorAll('img')].filter(i => i.offsetParent !== null).map(i => i.alt)")
        assert strips and all(alt.strip() for alt in strips), strips
        page.screenshot(path=str(ARTIFACTS / f"generate-{viewport}-{locale}.png"), full_page=False)
    finally:
        context.close()
    assert not errors, errors
