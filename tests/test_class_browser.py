"""A lesson by link and a class board in Chromium: each tab's Copy link opens the same state in a
fresh browser (on Generate the same image as /sample), a lesson link fixes and hides, and a
teacher's page sees three students' runs (each in a browser context of its own) arrive on the board."""
import base64
import io
import time

import numpy as np
import pytest
from PIL import Image

from tests.test_browser import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def class_app(capped_app):
    """The suite's capped app (tests/conftest.py): a lesson's short runs end within its cap, and
    each class on its board is reached with its own code."""
    return capped_app[0]


OPEN = []  # this test's browser contexts, closed when it ends (an open page keeps rendering and asking)


@pytest.fixture(autouse=True)
def closed_after():
    yield
    while OPEN:
        OPEN.pop().close()


def visit(browser, url: str, query: str = ""):
    """A fresh browser context (no storage shared with any other) on the app with `query`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    OPEN.append(context)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + query)
    page.wait_for_selector("text=Digit Lab")
    page.errors = errors
    return page


def selected_tab(page) -> str:
    return page.evaluate("() => document.querySelector('[role=tab][aria-selected=true]')?.innerText || ''")


def copied(page, tab: str) -> str:
    page.locator(f"#link-copy-{tab}").click()
    box = page.locator(f"#link-{tab} textarea, #link-{tab} input").first
    return wait_for(page, lambda: box.input_value() if box.count() else "", lambda v: v.startswith("http"), 15)


def checked(page, elem_id: str) -> str | None:
    found = page.locator(f"#{elem_id} input:checked")
    return found.first.get_attribute("value") if found.count() else None


def shown_image(page) -> np.ndarray:
    src = page.evaluate("() => document.querySelector('#generate-image img')?.src || ''")
    if not src:
        return np.full((28, 28), -255)  # no image yet
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        data = page.request.get(src).body()
    with Image.open(io.BytesIO(data)) as image:
        big = np.asarray(image.convert("L")).astype(int)
    step = big.shape[0] // 28
    return big[step // 2::step, step // 2::step][:28, :28]


def test_a_generate_link_opens_the_same_state_and_the_image_of_sample(browser, class_app):
    from gradio_client import Client

    page = visit(browser, class_app, "?tab=generate&digit=3&seed=7")
    assert wait_for(page, lambda: selected_tab(page), lambda t: t == "Generate", 20) == "Generate"
    expected = np.asarray(Image.open(Client(class_app, verbose=False).predict(3, 7, api_name="/sample")).convert("L")).astype(int)
    here = wait_for(page, lambda: shown_image(page), lambda img: np.abs(img - expected).max() <= 1, 30)
    assert np.abs(here - expected).max() <= 1, "the linked page's image is not /sample's"

    steered = visit(browser, class_app, "?tab=generate&digit=3&seed=7&slant=1.5")
    wait_for(steered, lambda: shown_image(steered), lambda img: np.abs(img - expected).max() > 1, 30)
    link = copied(steered, "generate")
    assert link.endswith("?tab=generate&digit=3&seed=7&slant=1.5")
    again = visit(browser, link.split("?")[0], "?" + link.split("?", 1)[1])
    wait_for(again, lambda: checked(again, "generate-controls"), lambda v: v == "3", 20)
    assert again.locator("#generate-controls input[type=number]").first.input_value() == "7"
    assert again.locator("#generate-controls input[type=range]").nth(1).input_value() == "1.5"
    image = shown_image(steered)
    assert np.abs(wait_for(again, lambda: shown_image(again), lambda img: np.abs(img - image).max() <= 1, 30) - image).max() <= 1
    assert page.errors == [] and steered.errors == [] and again.errors == []


def test_a_draw_link_and_a_bad_link(browser, class_app):
    page = visit(browser, class_app, "?tab=draw&pen=bold&cnn=seed&digit=42&colour=red")
    notes = page.locator("#link-notes")
    notes.wait_for(state="visible", timeout=20000)
    said = notes.inner_text()
    assert "“colour” is not something a link can set" in said and "digit=42 is not a whole number from 0 to 9" in said
    assert checked(page, "draw-pen") == "28"
    assert copied(page, "draw").endswith("?tab=draw&pen=bold&cnn=seed")  # the CNN of Inside the CNN, closed


def test_a_lesson_link_fixes_hides_and_shows_its_task(browser, class_app):
    query = "?tab=train&kind=cnn&activation=sigmoid&digits=500&fix=activation,digits&hide=arch,epochs&task=sigmoid"
    page = visit(browser, class_app, query)
    task = page.locator("#lesson-task")
    task.wait_for(state="visible", timeout=20000)
    assert "Sigmoid" in task.inner_text()
    panel = page.locator(".tabitem:visible").first
    sigmoid = panel.locator("input[value=sigmoid]")
    assert wait_for(page, lambda: sigmoid.is_checked(), bool, 10) and sigmoid.is_disabled()
    assert panel.locator("input[value='500']").is_checked() and panel.locator("input[value='500']").is_disabled()
    assert not page.locator("#train-epochs").is_visible() and panel.locator("input[value=seed]").count() == 0
    link = copied(page, "train")
    assert "fix=activation,digits" in link and "hide=arch,epochs" in link and "task=sigmoid" in link


@pytest.mark.slow
def test_a_teacher_sees_three_students_runs_arrive(browser, class_app):
    teacher = visit(browser, class_app, "?tab=class")
    teacher.locator("#class-open").click()
    code_box = teacher.locator("#class-code input, #class-code textarea").first
    code = wait_for(teacher, lambda: code_box.input_value(), lambda v: len(v) == 6, 20)
    assert len(code) == 6
    students = []
    for name in ("Ann", "Bo", "<b>Cy</b>"):
        page = visit(browser, class_app, f"?tab=class&class={code}")
        box = page.locator("#class-code input, #class-code textarea").first
        assert wait_for(page, lambda: box.input_value(), lambda v: v == code, 20) == code  # the student link's code
        page.locator("#class-nickname input, #class-nickname textarea").first.fill(name)
        page.locator("#class-join").click()
        page.locator("#class-joined").get_by_text(name).wait_for(timeout=20000)
        students.append(page)
    started = time.monotonic()
    for page in students:  # the lesson's short run, set by a link, started in each student's page
        page.goto(class_app + "?tab=train&kind=cnn&epochs=1&digits=100&batch=256")
        page.wait_for_selector("text=Digit Lab")
        epochs, digits = page.locator("#train-epochs input").first, page.locator(".tabitem:visible input[value='100']").first
        assert wait_for(page, lambda: (epochs.input_value(), digits.is_checked()) if epochs.count() and digits.count() else (),
                        lambda values: values == ("1", True), 30) == ("1", True)  # the link's settings are in place
        page.get_by_role("button", name="Start", exact=True).click()
    table = teacher.locator("#class-table")
    rows = wait_for(teacher, lambda: table.locator("tbody tr").count(), lambda n: n >= 3, 240)
    print(f"three runs on the teacher's board {time.monotonic() - started:.0f} s after the first Start")
    assert rows == 3, teacher.locator("#class-summary").inner_text()
    shown = table.inner_text()
    assert "Ann" in shown and "Bo" in shown and "<b>Cy</b>" in shown  # the nickname as text, not markup
    assert teacher.locator("#class-chart path").count() >= 3
    assert all(not page.errors for page in [teacher, *students])


def test_a_teacher_link_opens_on_the_board_and_its_tools(browser, class_app):
    """The link /class_open gives the teacher: its code and key reach the page by different paths
    (the query, the fragment), in either order, and the board shows once both have."""
    from gradio_client import Client

    code, key, _ = Client(class_app, verbose=False).predict("activation", False, api_name="/class_open")
    page = visit(browser, class_app, f"?tab=class&class={code}#key={key}")
    summary = page.locator("#class-summary")
    summary.get_by_text(code).wait_for(timeout=30000)
    assert "0 runs" in summary.inner_text()
    assert page.locator("#class-close").is_visible() and page.errors == []
