"""The Generate tab draws in the visitor's browser while a slider is dragged (static/generate_web.js,
onnxruntime-web on the same gan.onnx): its image equals the server's /show image for the same
digit, seed, truncation and slider values (the shipped conditional generator, and an unconditional
one like the primer's); a drag asks the server nothing until release while the image changes with
each move; and with the browser's runtime made to fail the server draws, as before."""
import base64
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from inference import generator as gen
from tabs import generate as tab
from tests.test_browser import GENERATED_SRC, open_tab, wait_for
from tests.test_discriminator import write_unconditional_gan
from tests.test_generator import directions_dict

WEB = (ROOT / "static" / "generate_web.js").as_posix()
IMPORT = f"const web = await import(`${{window.gradio_config.root}}/gradio_api/file={WEB}`);"
# Grey levels out of 255: onnxruntime-web's WebAssembly kernels may round a little differently from
# the server's (on 30 random digits, seeds and slider values they matched exactly).
TOLERANCE = 1
DRAWN_HERE = "() => Number(document.querySelector('#generate-image img')?.dataset.drawnHere || 0)"
WAITING = "() => document.getElementById('generate-output').classList.contains('verdicts-wait')"
IMAGE_SRC = "() => document.querySelector('#generate-image img')?.src || ''"


def grey(source) -> np.ndarray:
    with Image.open(source) as image:
        return np.asarray(image.convert("L")).astype(int)


def from_data_url(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,"), url[:60]
    return grey(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def browser_grey(page, url: str, cases: list) -> list[np.ndarray]:
    """The page's own 28x28 grey levels for each (numbers, digit, truncation, sliders)."""
    made = page.evaluate(f"""async ([url, cases]) => {{ {IMPORT}
        const out = [];
        for (const [numbers, digit, truncation, sliders] of cases) out.push(Array.from(await web.grey(url, numbers, digit, truncation, sliders)));
        return out; }}""", [url, cases])
    return [np.asarray(m).reshape(28, 28) for m in made]


def generate_tab(page):
    panel = open_tab(page, "Generate")
    assert wait_for(page, lambda: panel.evaluate(GENERATED_SRC), bool, 30), "the Generate tab shows no image"
    return panel


def first_direction(panel):
    sliders = panel.locator("input[type=range]")
    for i in range(sliders.count()):
        if "Truncation" not in (sliders.nth(i).get_attribute("aria-label") or "") and sliders.nth(i).is_visible():
            return sliders.nth(i)
    raise AssertionError("no latent slider is shown")


def calls_to(page, *api_names) -> list:
    """The page's calls of these endpoints from now on, by their names (the queue's joins name the
    event by its index: the page's config maps the names to them)."""
    wanted = page.evaluate("names => window.gradio_config.dependencies.filter(d => names.includes(d.api_name)).map(d => d.id)", list(api_names))
    assert len(wanted) == len(api_names), f"not all of {api_names} are events of the page"
    sent = []

    def seen(request):
        if request.method == "POST" and "queue/join" in request.url and json.loads(request.post_data or "{}").get("fn_index") in wanted:
            sent.append(request.post_data)
    page.on("request", seen)
    return sent


@pytest.mark.browser
def test_the_browsers_image_is_the_servers(page, client, tmp_path):
    generate_tab(page)
    shipped = f"{page.evaluate('window.gradio_config.root')}/gradio_api/file={(ROOT / 'exports' / 'gan.onnx').as_posix()}"
    cases = [(7, 42, 1.0, [0.0] * 6), (3, 5, 0.7, [1.5, -2.0, 0.3, 0.0, 0.0, 3.0]), (0, 123456, 1.5, [-3.0] * 6),
             (9, 1, 0.0, [2.9, 0.1, -0.4, 1.0, -1.0, 0.5]), (4, 77, 99.0, [7.0, float("nan"), 0, 0, 0, 0])]  # clamped, NaN centred
    numbers = {seed: gen.page_numbers(seed) for _, seed, _, _ in cases}
    made = browser_grey(page, shipped, [(numbers[s], d, t, [v if v == v else None for v in sliders]) for d, s, t, sliders in cases])
    for (digit, seed, truncation, sliders), here in zip(cases, made):
        served = grey(client.predict(digit, seed, min(truncation, 1.5), *[min(v, 3.0) if v == v else 0.0 for v in sliders], api_name="/show")[0])
        assert served.shape == (280, 280) and served.max() > 100
        difference = np.abs(np.repeat(np.repeat(here, 10, 0), 10, 1) - served).max()
        assert difference <= TOLERANCE, f"digit {digit}, seed {seed}: the browser's image is {difference} grey levels off the server's"

    # An unconditional generator (the primer's kind: no `label` input), served to the page at a URL of its own.
    path = tmp_path / "unconditional.onnx"
    write_unconditional_gan(path, directions_dict(offered=(True, True)))
    page.route("**/unconditional-test.onnx", lambda route: route.fulfill(body=path.read_bytes(), content_type="application/octet-stream"))
    url = f"{page.evaluate('window.gradio_config.root')}/unconditional-test.onnx"
    values = [(11, 1.0, [0.0, 0.0]), (12, 0.5, [2.0, -3.0])]
    made = browser_grey(page, url, [(gen.page_numbers(seed, str(path)), None, t, s) for seed, t, s in values])
    for (seed, truncation, sliders), here in zip(values, made):
        served = gen.upscale(gen.sample(0, seed, truncation, sliders, str(path)), factor=1).astype(int)
        assert np.abs(here - served).max() <= TOLERANCE and served.std() > 10


@pytest.mark.browser
def test_a_drag_is_drawn_in_the_browser_and_asks_the_server_nothing_until_release(page):
    panel = generate_tab(page)
    slider = first_direction(panel)
    wait_for(page, lambda: page.evaluate("() => document.querySelector('#generate-image img')?.complete"), bool, 10)
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    sent, seen = calls_to(page, "show", "show_while_dragging", "previews"), []
    for step in range(1, 7):  # each move at least 0.3 sd along the direction
        drawn = page.evaluate(DRAWN_HERE)
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.06 * step), y, steps=2)
        assert wait_for(page, lambda: page.evaluate(DRAWN_HERE), lambda n, d=drawn: n > d, 15) > drawn, f"move {step} drew nothing"
        seen.append(page.evaluate(IMAGE_SRC))
    assert not sent, f"the page called /show or /previews while a slider was dragged: {sent[:3]}"
    assert len(set(seen)) == len(seen), "the image did not change with every move"
    assert page.evaluate(WAITING), "the verdicts of the value before the drag were not dimmed while it was drawn here"
    here = from_data_url(seen[-1])
    page.mouse.up()  # on release: the server's image (with the verdicts), then the strips
    served = wait_for(page, lambda: page.evaluate(IMAGE_SRC), lambda src: not src.startswith("data:"), 20)
    assert sent, "releasing the slider asked the server nothing"
    assert wait_for(page, lambda: not page.evaluate(WAITING), bool, 10), "the verdicts stayed dimmed after the server's image came"
    assert np.abs(here - grey(io.BytesIO(page.request.get(served).body()))).max() <= TOLERANCE, \
        "the image the browser drew differs from the server's for the released value"
    assert float(slider.input_value()) > 0.5
    # The arrow keys: drawn here while the key is down, and the key let go is a release (the server's image, verdicts).
    slider.focus()
    sent.clear()
    page.keyboard.press("ArrowRight")
    after = wait_for(page, lambda: page.evaluate(IMAGE_SRC), lambda src: not src.startswith("data:") and src != served, 20)
    assert sent and after != served, "letting go of an arrow key on a slider did not ask the server for its verdicts"
    # A value typed into the slider's number box and confirmed with Enter: a release too, while the box keeps the focus.
    name = slider.get_attribute("aria-label").removeprefix("range slider for ")
    typed = panel.locator(f'input[type=number][aria-label="number input for {name}"]')
    sent.clear()
    typed.fill("-1.5")
    typed.press("Enter")
    last = wait_for(page, lambda: page.evaluate(IMAGE_SRC), lambda src: not src.startswith("data:") and src != after, 20)
    assert sent and last != after, "a value typed and confirmed with Enter did not ask the server for its image and verdicts"
    assert wait_for(page, lambda: not page.evaluate(WAITING), bool, 10), "the verdicts stayed dimmed after Enter"
    assert page.evaluate("() => document.activeElement?.type") == "number", "the number box lost the focus: this was a blur, not Enter"


@pytest.mark.browser
def test_without_the_browsers_runtime_the_server_draws(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*.wasm", lambda route: route.abort())  # as if WebAssembly could not load
    try:
        page = context.new_page()
        failures = []
        page.on("pageerror", lambda error: failures.append(str(error)))
        page.goto(app_url)
        panel = generate_tab(page)
        slider = first_direction(panel)
        before = page.evaluate(IMAGE_SRC)
        box = slider.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        sent = calls_to(page, "show_while_dragging")
        page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=6)
        during = wait_for(page, lambda: page.evaluate(IMAGE_SRC), lambda src: src != before, 20)
        page.mouse.up()
        time.sleep(0.5)
        assert sent, "with no runtime in the browser, dragging did not call the server's /show"
        assert during != before and not during.startswith("data:"), "the server's path did not show a new image while dragging"
        assert panel.locator(".toast-body.error").count() == 0 and not failures, f"the fallback was not silent: {failures}"
    finally:
        context.close()


def test_the_page_gets_the_numbers_of_the_servers_latent(tmp_path):
    numbers = json.loads(json.dumps(tab.browser_numbers(42, None)))  # plain JSON, as the page receives it
    model = gen.load(None)
    assert numbers["seed"] == 42 and numbers["conditional"] is True
    np.testing.assert_array_equal(np.float32(numbers["z"]), gen.base_latent(42, model.z_dim))
    np.testing.assert_array_equal(np.float32(numbers["directions"]), np.stack([d.vector for d in model.directions]))
    assert tab.browser_model(None) == str(ROOT / "exports" / "gan.onnx")
    missing = str(tmp_path / "gone.onnx")
    assert tab.browser_numbers(-1, None) is None and tab.browser_numbers(1, missing) is None and tab.browser_model(missing) is None
