"""Backprop on your digit, a filter of the first layer: its gradient dL/dw beside
its weights, as numbers (the JSON, a table, the pictures' text alternatives) and as two small
pictures; a filter beyond the first layer's is refused in words."""
import html
import re

import numpy as np
import pytest
import torch

import locales
from tabs.draw import backprop as tab
from tests.test_backprop import MODELS, drawn
from tests.draw_digits import page_digit
from training import backprop

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("which", list(MODELS))
def test_the_chosen_filter_is_the_first_layers_weights_and_their_gradient(which):
    image, digit = drawn(3, seed=3), 5
    found = backprop.descend(MODELS[which], image, digit, 0.01, 1, filter_index=7)
    model = backprop.rebuild(MODELS[which])
    x = torch.from_numpy(image)[None, None]
    backprop.loss_of(model, x, digit)[0].backward()
    weight = model.features[0].weight
    chosen = found.filter
    assert (chosen["layer"], chosen["index"], chosen["count"]) == ("features.0", 7, weight.shape[0])
    assert np.array_equal(chosen["weights"], weight.detach()[7].numpy())  # before the step, as the file has them
    assert np.allclose(chosen["gradient"], weight.grad[7].numpy(), rtol=1e-5, atol=1e-9) and np.abs(chosen["gradient"]).max() > 0
    summary = found.summary()["filter"]
    assert np.asarray(summary["weights"]).shape == np.asarray(summary["gradient"]).shape == tuple(weight.shape[1:])
    with pytest.raises(backprop.NoSuchFilter) as refused:
        backprop.descend(MODELS[which], image, digit, 0.01, 0, filter_index=weight.shape[0])
    assert f"from 0 to {weight.shape[0] - 1}" in str(refused.value)


def test_the_filter_view_shows_both_in_pictures_and_numbers_in_either_language():
    strokes = page_digit(7, np.random.default_rng(1), 0.6)
    said, _, _, _, shown = tab.step(strokes, "1", 0.05, 1, "lab", None, None, 4)
    page = html.unescape(shown)
    assert page.count("<img") == 2 and page.count("<table") == 2 and "Filter 4 of the 32 in the first layer (features.0)" in page
    alts = re.findall(r'alt="([^"]+)"', page)
    assert alts[0].startswith("The weights of filter 4 of features.0, row by row: ") and "gradient dL/dw" in alts[1]
    numbers = [float(v) for v in re.findall(r"<td>([-0-9.e]+)</td>", page)]
    assert len(numbers) == 18 and any(numbers[9:])  # 3x3 weights, then 3x3 gradient
    assert "Filter 4 of the 32" in html.unescape(tab.look(strokes, "1", 0.05, "lab", None, None, 4)[3])  # opening the view
    chinese = tab.filter_html(backprop.descend(MODELS["lab"], drawn(7), 1, 0.05, 0, filter_index=4), "zh-CN")
    assert "32 个卷积核中的第 4 个" in chinese and "梯度 dL/dw" in chinese
    said, _, _, _, shown = tab.step(strokes, "1", 0.05, 1, "lab", None, None, 99)
    assert "from 0 to 31" in said and shown == ""
    said, _, _, _, _ = tab.step(strokes, "1", 0.05, 1, "lab", None, None, -1)
    assert said == f"**{locales.text('backprop.error.filter', 'en', value='-1', most=31)}**"


def test_backprop_step_returns_the_filter_it_is_asked_for():
    said, result = tab.backprop_step(page_digit(7, np.random.default_rng(1), 0.6), 7, 0.1, 1, "lab", 3)
    assert result["filter"]["index"] == 3 and len(result["filter"]["gradient"][0]) == 3
