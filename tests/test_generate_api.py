"""The Generate tab through its API (gradio_client against a launched app.py, the shipped
gan.onnx) and its plain functions without a server: /sample is deterministic, bad input gets a
clear message or a clamp, and a missing generator is explained while the tab still builds."""
import json
import math

import gradio as gr
import httpx
import numpy as np
import pytest
from PIL import Image

from inference import discriminator as critic
from inference import generator as gen
from tabs import generate as tab


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def raw_call(app_url: str, api_name: str, data: list) -> tuple[str, dict | list]:
    """Call an endpoint over Gradio's REST API with a body gradio_client refuses to send (NaN,
    text for numbers); returns (the final event's name, its data)."""
    body = json.dumps({"data": data})  # Python's json writes NaN and Infinity, as a careless client might
    started = httpx.post(f"{app_url}gradio_api/call/{api_name}", content=body, headers={"Content-Type": "application/json"}, timeout=60)
    started.raise_for_status()
    with httpx.stream("GET", f"{app_url}gradio_api/call/{api_name}/{started.json()['event_id']}", timeout=60) as stream:
        lines = [line for line in stream.iter_lines() if line]
    event = [line.split(": ", 1)[1] for line in lines if line.startswith("event:")][-1]
    payload = [line.split(": ", 1)[1] for line in lines if line.startswith("data:")][-1]
    return event, json.loads(payload)


def test_sample_same_inputs_same_image(client):
    first = pixels(client.predict(3, 7, api_name="/sample"))
    assert first.shape == (28, 28) and first.max() > 100  # a digit: some bright ink on black
    np.testing.assert_array_equal(first, pixels(client.predict(3, 7, api_name="/sample")))
    assert not np.array_equal(first, pixels(client.predict(3, 8, api_name="/sample")))
    assert not np.array_equal(first, pixels(client.predict(4, 7, api_name="/sample")))


def test_sample_is_what_the_server_side_function_makes(client):
    expected = np.rint(gen.sample(5, 123) * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels(client.predict(5, 123, api_name="/sample")), expected)


@pytest.mark.parametrize("digit, seed, message", [
    (12, 0, "digit must be a whole number from 0 to 9"), (-1, 0, "digit must be"), (3, -5, "seed must be a whole number >= 0"),
])
def test_sample_rejects_bad_input_with_a_clear_message(client, digit, seed, message):
    with pytest.raises(Exception, match=message):
        client.predict(digit, seed, api_name="/sample")
    assert pixels(client.predict(1, 1, api_name="/sample")).shape == (28, 28)  # still serving


@pytest.mark.parametrize("digit, seed, message", [
    (3, float("nan"), "seed must be"), (3, float("inf"), "seed must be"), (3, 2.5, "seed must be"),
    (float("nan"), 1, "digit must be"), ("seven", 1, "digit must be"),
])
def test_sample_explains_nan_infinite_fractional_and_text_input(app_url, digit, seed, message):
    event, payload = raw_call(app_url, "sample", [digit, seed])
    assert event == "error" and message in payload["error"]


def test_sample_takes_huge_seeds(client):
    huge = 10**15
    np.testing.assert_array_equal(pixels(client.predict(2, huge, api_name="/sample")),
                                  pixels(client.predict(2, huge, api_name="/sample")))


def test_show_reports_the_image_the_cnns_verdict_and_the_discriminators(client):
    image, label, sentence, critic_text = client.predict(6, 3, 1.0, *[0.0] * gen.MAX_SLIDERS, api_name="/show")
    assert pixels(image).shape == (280, 280)
    assert label["label"] in [str(d) for d in range(10)] and f"**{label['label']}**" in sentence
    if critic.companion_path(None).is_file():
        assert ("Looks real" in critic_text or "Looks generated" in critic_text) and "score" in critic_text
        score = float(critic_text.split("score **")[1].split("**")[0])
        expected = critic.opinion(gen.sample(6, 3), 6).score
        assert abs(score - expected) < 0.01
    else:
        assert "gan.discriminator.onnx" in critic_text


def test_show_treats_nan_sliders_as_centred_and_clamps_out_of_range_ones(app_url, client):
    centred = pixels(client.predict(6, 3, 1.0, *[0.0] * gen.MAX_SLIDERS, api_name="/show")[0])
    event, payload = raw_call(app_url, "show", [6, 3, float("nan"), *[float("nan")] * gen.MAX_SLIDERS])
    assert event == "complete"
    np.testing.assert_array_equal(pixels(payload[0]["path"]), centred)
    edge = pixels(client.predict(6, 3, 1.0, 3.0, -3.0, *[0.0] * (gen.MAX_SLIDERS - 2), api_name="/show")[0])
    event, payload = raw_call(app_url, "show", [6, 3, 1.0, 99.0, -1e9, *[0.0] * (gen.MAX_SLIDERS - 2)])
    assert event == "complete"
    np.testing.assert_array_equal(pixels(payload[0]["path"]), edge)


def test_interpolate_returns_a_strip_and_an_animation(client):
    strip, animation = client.predict(2, 1, 5, 2, 7, 1.0, api_name="/interpolate")
    assert pixels(strip).shape == (3 * 28, 7 * 3 * 28 + 6 * gen.GAP)
    with Image.open(animation) as gif:
        assert gif.format == "GIF" and gif.n_frames == 7 + 5


def test_previews_give_a_strip_per_offered_slider_and_the_grid(client):
    *strips, grid = client.predict(0, 9, 1.0, *[0.0] * gen.MAX_SLIDERS, api_name="/previews")
    offered = len(gen.load().directions)
    assert all(s is not None for s in strips[:offered]) and all(s is None for s in strips[offered:])
    assert pixels(grid).shape == (4 * 28, 10 * 4 * 28 + 9 * gen.GAP)


def test_a_missing_generator_is_explained_and_the_functions_do_not_crash(tmp_path):
    missing = str(tmp_path / "gan.onnx")
    problem, specs, table = tab.slider_specs(missing)
    assert "gan.onnx is missing" in problem and "python -m training" in problem and specs == []
    assert tab.show(3, 1, 1.0, *[0.0] * gen.MAX_SLIDERS, missing, None) == (None, None, "", "")
    assert tab.previews(3, 1, 1.0, *[0.0] * gen.MAX_SLIDERS, missing) == [None] * (gen.MAX_SLIDERS + 1)
    status, *_ = tab.controls(missing)
    assert status.visible and "missing" in status.value


def test_the_shipped_sliders_have_names_and_their_figures_meet_the_bar():
    problem, specs, table = tab.slider_specs(None)
    assert problem == "" and 1 <= len(specs) <= gen.MAX_SLIDERS
    for d in gen.load().directions:
        assert d.class_kept >= 0.9 and d.mean_pixel_change > 0.01 and math.isfinite(d.mean_pixel_change)
    assert len({name for name, _ in specs}) == len(specs)


def test_the_sliders_keep_their_place_on_page_load_and_go_back_to_0_when_the_generator_is_swapped():
    """A visitor who moves a slider before the page's load event answers keeps it there (the load
    names the sliders only); a swapped generator's sliders are another model's directions: all 0."""
    offered = len(gen.load().directions)
    first_slider = 2 + gen.MAX_SLIDERS  # after the status line, the digit radio and the rows
    loaded = tab.controls(None)[first_slider:first_slider + offered]
    swapped = tab.controls(None, event=gr.EventData(gr.State(), None))[first_slider:first_slider + offered]
    assert all("value" not in s.constructor_args and s.constructor_args["label"] for s in loaded)
    assert all(s.constructor_args["value"] == 0 for s in swapped)
