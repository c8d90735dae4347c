"""The app as its visitors meet it: Debian's Chromium, driven by Playwright, on the launched app.
Draw with the mouse and read the label, steer the generator with a slider, run and stop a training
run while its plot grows, and screenshot every tab at desktop and phone widths into artifacts/.
A console error on any page fails its test (the `page` fixture; the screenshot test listens itself,
as it opens its own pages at two widths)."""
import re
import time

import pytest

from conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TABS = ("Draw", "Generate", "Train")
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def open_tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    panel = page.locator(".tabitem:visible")
    panel.first.wait_for(state="visible")
    return panel.first


IMAGES_LOADED = "panel => [...panel.querySelectorAll('img')].every(img => img.complete && img.naturalWidth > 0)"


# --- screenshots ----------------------------------------------------------------------------

@pytest.mark.parametrize("width", WIDTHS)
def test_every_tab_renders_without_console_errors(browser, app_url, width):
    context = browser.new_context(viewport=WIDTHS[width], device_scale_factor=1)
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(app_url)
        page.wait_for_selector("text=Digit Lab")
        ARTIFACTS.mkdir(exist_ok=True)
        for name in TABS:
            panel = open_tab(page, name)
            page.wait_for_timeout(1500)  # plots and canvases draw after the panel shows
            wait_for(page, lambda: panel.evaluate(IMAGES_LOADED), bool, 15)
            assert panel.is_visible()
            page.screenshot(path=str(ARTIFACTS / f"tab-{name.lower()}-{width}.png"), full_page=True)
            # Nothing wider than the screen: a phone should never need to scroll sideways.
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"the {name} tab is {overflow}px wider than a {width} screen"
    finally:
        context.close()
    assert not errors, f"console errors: {errors}"


# --- the Draw tab ---------------------------------------------------------------------------

# Digits as mouse strokes, in fractions of the canvas's square drawing area (y down).
STROKES = {
    "7": [[(0.3, 0.25), (0.5, 0.25), (0.7, 0.25), (0.6, 0.45), (0.5, 0.65), (0.42, 0.8)]],
    "1": [[(0.54, 0.2), (0.51, 0.5), (0.48, 0.82)]],  # MNIST's usual 1, a plain stroke
    "0": [[(0.5, 0.2), (0.36, 0.28), (0.3, 0.5), (0.36, 0.72), (0.5, 0.8), (0.64, 0.72), (0.7, 0.5), (0.64, 0.28), (0.5, 0.2), (0.45, 0.24)]],
}


def draw(page, strokes) -> None:
    """Draw with the mouse: press, move in small steps, release, one stroke after another."""
    box = page.locator("#draw-canvas canvas").first.bounding_box()
    side = min(box["width"], box["height"]) * 0.8  # the paper sits centred in a wider view
    left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    for stroke in strokes:
        page.mouse.move(left + stroke[0][0] * side, top + stroke[0][1] * side)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(left + x * side, top + y * side, steps=4)
        page.mouse.up()


def label_text(page) -> str:
    """The Label's headline (the digit read), or "" when it shows none; read in one step, as the
    Label re-renders on every answer."""
    return page.evaluate("() => document.querySelector('#draw-label [data-testid=label-output-value]')?.innerText.trim() || ''")


def pen_armed(page) -> bool:
    """The canvas is on screen and not asking the visitor to pick the draw tool first."""
    return page.locator("#draw-canvas canvas").count() > 0 and page.locator("#draw-canvas .empty.wrap").count() == 0


def test_drawn_digits_are_read_by_the_cnn(page):
    open_tab(page, "Draw")
    read = {}
    for index, (digit, strokes) in enumerate(STROKES.items()):
        if index:  # Clear wipes the canvas, so its reading goes too
            page.locator("#draw-clear").click()
            left = wait_for(page, lambda: label_text(page), lambda text: text == "", 10)
            page.screenshot(path=str(ARTIFACTS / f"draw-cleared-{index}-desktop.png"))
            assert left == "", f"Clear number {index} left the reading {left!r} (and the strokes: see the screenshot)"
        assert wait_for(page, lambda: pen_armed(page), bool, 15), "the canvas never became ready to draw"
        page.wait_for_timeout(1000)
        draw(page, strokes)
        read[digit] = wait_for(page, lambda: label_text(page), lambda text, d=digit: text == d, 20)
        page.screenshot(path=str(ARTIFACTS / f"draw-{digit}-desktop.png"))
    assert read == {d: d for d in STROKES}, f"drawn -> read: {read}"


# --- the Generate tab -----------------------------------------------------------------------

GENERATED_SRC = "panel => panel.querySelector('#generate-output img')?.getAttribute('src') || ''"


def test_moving_a_latent_slider_changes_the_image(page):
    panel = open_tab(page, "Generate")
    before = wait_for(page, lambda: panel.evaluate(GENERATED_SRC), bool, 30)
    text = panel.inner_text()
    assert before, "the Generate tab shows no image: " + text[max(0, text.find("No generator")):][:300]
    sliders = panel.locator("input[type=range]")
    names = [sliders.nth(i).get_attribute("aria-label") for i in range(sliders.count())]
    directions = [i for i, name in enumerate(names) if name and "Truncation" not in name and sliders.nth(i).is_visible()]
    assert directions, f"no latent sliders are shown (found {names})"
    box = sliders.nth(directions[0]).bounding_box()  # drag the first direction from 0 (the middle) rightwards
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, y, steps=8)
    page.mouse.up()
    after = wait_for(page, lambda: panel.evaluate(GENERATED_SRC), lambda src: src and src != before, 20)
    page.screenshot(path=str(ARTIFACTS / "generate-slider-moved-desktop.png"), full_page=True)
    # Gradio names an image's file by its content's hash: a new name is a new picture.
    assert after != before, f"moving {names[directions[0]]!r} did not change the image"
    assert float(sliders.nth(directions[0]).input_value()) > 0


# --- the Train tab --------------------------------------------------------------------------

def line_lengths(panel) -> int:
    """How much line the Train tab's plots have drawn: the total length of their SVG path data,
    which grows as points arrive."""
    return panel.evaluate("""panel => [...panel.querySelectorAll('svg .mark-line path')]
                                 .reduce((n, p) => n + (p.getAttribute('d') || '').length, 0)""")


# The run's own plots (the overlay of past runs, #train-compare-plot, gains a line when a run ends).
RUN_PLOTS = "#train-loss-plot, #train-score-plot, #train-game-plot"


def line_colours(panel) -> list:
    return panel.evaluate(f"""panel => [...panel.querySelectorAll('{RUN_PLOTS}')]
                                 .flatMap(plot => [...plot.querySelectorAll('svg .mark-line path')])
                                 .map(p => p.getAttribute('stroke'))""")


def all_coloured(colours: list) -> bool:
    return bool(colours) and all(c not in (None, "none", "transparent") for c in colours)


def wait_for(page, read, ok, seconds: float):
    """Read until ok(value) or the time is up; the last value either way."""
    deadline = time.monotonic() + seconds
    value = read()
    while not ok(value) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        value = read()
    return value


# A run's progress line in either language ("step 3 of 100", "第 3 步，共 100 步").
RUN_STEP = r"step \d+ of \d+|第 \d+ 步，共 \d+ 步"


def wait_for_text(page, panel, pattern: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = panel.inner_text()
        if re.search(pattern, text):
            return text
        page.wait_for_timeout(250)
    raise AssertionError(f"no {pattern!r} within {seconds} s; the tab shows: ...{panel.inner_text()[-700:]}")


def test_a_training_run_plots_its_progress_and_stops(page):
    panel = open_tab(page, "Train")
    panel.get_by_role("button", name="Start").click()
    try:
        wait_for_text(page, panel, r"step [1-9]\d* of", 120)
        first = wait_for(page, lambda: line_lengths(panel), lambda n: n > 0, 60)
        grown = wait_for(page, lambda: line_lengths(panel), lambda n: n > first, 60)  # more points arrive
        colours = wait_for(page, lambda: line_colours(panel), all_coloured, 10)  # a redraw may be under way
        page.screenshot(path=str(ARTIFACTS / "train-running-desktop.png"), full_page=True)
        no_chinese(page, "train tab, running")
    finally:  # stop the run whatever happened, so it does not hold the shared server
        panel.get_by_role("button", name="Stop").click()
    assert grown > first > 0, f"the plots did not grow ({first} -> {grown} characters of line)"
    # A line without a stroke colour is in the page but invisible (seen when a plot streamed from an
    # empty frame: its colour domain stayed empty).
    assert all_coloured(colours), f"lines drawn without a colour: {colours}"
    text = wait_for_text(page, panel, r"run stopped", 120)  # stopped, exported and swapped in
    assert "stopped by the visitor" in text, text
    page.screenshot(path=str(ARTIFACTS / "train-stopped-desktop.png"), full_page=True)
    no_chinese(page, "train tab, stopped")


def no_chinese(page, where: str) -> None:
    """The English page's words (as tests/test_i18n_browser.py reads them) hold no Chinese."""
    from test_i18n_browser import VISIBLE_TEXT, check

    check(page.evaluate(VISIBLE_TEXT), "en-US", where)


# Each plot's lines once the first epoch's held-out figures have joined: training in blue, held-out
# in orange; the GAN's players in green and red, its label fidelity in purple (tabs/train/tab.py COLORS).
LINES_AFTER_AN_EPOCH = {"CNN: reads digits": ["#1f77b4", "#1f77b4", "#1f77b4", "#ff7f0e", "#ff7f0e"],
                        "GAN: draws digits": ["#17becf", "#2ca02c", "#9467bd", "#d62728", "#e377c2"]}


@pytest.mark.parametrize("model", LINES_AFTER_AN_EPOCH)
def test_held_out_figures_join_the_plots_in_their_own_colour(browser, capped_app, model):
    """A series that first appears at an epoch's end is drawn, in its own colour, beside the others
    (and the redraw that takes raises no console error). The capped app's runs end after a few
    steps, their last step also their epoch's end: the held-out figures come after seconds."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(capped_app[0])
    panel = open_tab(page, "Train")
    panel.get_by_label(model).check()
    panel.get_by_role("button", name="Start").click()
    expected = LINES_AFTER_AN_EPOCH[model]
    wait_for_text(page, panel, r"run finished", 180)  # its last step ended its epoch: figures and export
    colours = wait_for(page, lambda: line_colours(panel), lambda c: len(c) == len(expected) and all_coloured(c), 20)
    context.close()
    assert sorted(str(c).lower() for c in colours) == expected, colours
    assert not errors, f"console errors: {errors}"
