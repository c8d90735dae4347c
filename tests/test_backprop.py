"""Backprop on your digit (training/backprop.py, tabs/draw/backprop.py) and /backprop_step: the torch copy
rebuilt from an ONNX file reads as onnxruntime does, its gradients match finite differences, a
small step of gradient descent lowers the loss, the served model is untouched, out-of-range and
blank inputs are answered in words, and serving still starts without torch."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import locales
from inference.classifier import logits
from inference.sessions import PRIMER_CNN, shipped
from inference.strokes import prepare_strokes
from tabs.draw import backprop as tab
from tests.draw_digits import page_digit, page_junk
from training import backprop

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"lab": shipped("cnn"), "seed": shipped(PRIMER_CNN)}


def drawn(digit: int, seed: int = 1) -> np.ndarray:
    """The 28x28 the served model sees for a digit drawn on the page's canvas."""
    return prepare_strokes(page_digit(digit, np.random.default_rng(seed), 0.6)).image


def softmax(values: np.ndarray) -> np.ndarray:
    e = np.exp(values - values.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("which", list(MODELS))
def test_the_rebuilt_copy_reads_as_onnxruntime_does(which):
    images = np.stack([drawn(d, seed=d) for d in (0, 3, 7, 9)])
    expected = softmax(logits(images, str(MODELS[which])).astype(np.float64))
    with torch.no_grad():
        got = torch.softmax(backprop.rebuild(MODELS[which])(torch.from_numpy(images)[:, None]), 1).double().numpy()
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("which", list(MODELS))
def test_gradients_match_finite_differences(which):
    """Three weights (first layer, a middle one, the output layer) and two pixels, in float64."""
    image, digit = drawn(3, seed=3), 5  # a target it does not read: large, informative gradients
    model = backprop.rebuild(MODELS[which]).double()
    x = torch.from_numpy(image.astype(np.float64))[None, None].requires_grad_(True)
    loss, _ = backprop.loss_of(model, x, digit)
    loss.backward()
    layers = backprop.layers(model)
    weights = dict(model.named_parameters())
    chosen = [f"{layers[i].name}.weight" for i in (0, len(layers) // 2, -1)]
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in chosen:
        w = weights[name]
        for _ in range(2):
            index = tuple(int(rng.integers(n)) for n in w.shape)
            with torch.no_grad():
                original = w[index].item()
                w[index] = original + eps
                up = backprop.loss_of(model, x.detach(), digit)[0].item()
                w[index] = original - eps
                down = backprop.loss_of(model, x.detach(), digit)[0].item()
                w[index] = original
            numeric = (up - down) / (2 * eps)
            assert w.grad[index].item() == pytest.approx(numeric, rel=1e-4, abs=1e-8), (name, index)
    ink = np.argwhere(image > 0.5)
    for r, c in ink[[0, len(ink) // 2]]:
        with torch.no_grad():
            bumped = x.detach().clone()
            bumped[0, 0, r, c] += eps
            up = backprop.loss_of(model, bumped, digit)[0].item()
            bumped[0, 0, r, c] -= 2 * eps
            down = backprop.loss_of(model, bumped, digit)[0].item()
        assert x.grad[0, 0, r, c].item() == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)


def test_what_descend_reports_is_the_real_gradient_and_update():
    """The weight shown: its gradient matches a finite difference of the primer's loss, and one
    step moves it by exactly -lr * gradient; the layer list runs input side to output side and
    names the file's own weights."""
    image, lr = drawn(7), 0.05
    found = backprop.descend(MODELS["lab"], image, 2, lr, 1)
    w = found.weight
    assert w["after"] == pytest.approx(w["before"] - lr * w["gradient"], abs=1e-6)
    model = backprop.rebuild(MODELS["lab"]).double()
    x = torch.from_numpy(image.astype(np.float64))[None, None]
    param = dict(model.named_parameters())[w["name"]]
    index, eps = tuple(w["index"]), 1e-6
    with torch.no_grad():
        param[index] += eps
        up = backprop.loss_of(model, x, 2)[0].item()
        param[index] -= 2 * eps
        down = backprop.loss_of(model, x, 2)[0].item()
    assert w["gradient"] == pytest.approx((up - down) / (2 * eps), rel=1e-3)
    assert found.loss_before == pytest.approx(-np.log(found.probability_before), rel=1e-5)
    import onnx

    names = {t.name for t in onnx.load(str(MODELS["lab"])).graph.initializer}
    summary = found.summary()
    assert [layer["name"] for layer in summary["layers"]][0] == "features.0" and summary["layers"][-1]["name"] == "head.1"
    assert all(f"cnn.{layer['name']}.weight" in names and layer["gradient_norm"] > 0 for layer in summary["layers"])
    assert np.asarray(summary["input_gradient"]).shape == (28, 28)
    json.dumps(summary)  # plain JSON


@pytest.mark.parametrize("which", list(MODELS))
@pytest.mark.parametrize("digit", [7, 1])  # the digit it reads, and one it does not
def test_one_small_step_lowers_the_loss(which, digit):
    found = backprop.descend(MODELS[which], drawn(7), digit, 0.01, 1)
    assert found.loss_after < found.loss_before
    assert found.probability_after > found.probability_before
    assert found.losses == [found.loss_before, found.loss_after]


def test_steps_go_on_from_a_copy_and_never_touch_the_served_model():
    path, image = MODELS["lab"], drawn(4, seed=4)
    before_bytes, before_reading = digest(path), logits(image[None], str(path))
    first = backprop.descend(path, image, 9, 1.0, 20)  # a big push toward the wrong digit
    assert first.probability_after > 0.9 > first.probability_before
    again = backprop.descend(path, image, 9, 0.01, 1, start=first.weights)
    assert again.loss_before == pytest.approx(first.loss_after, rel=1e-5)  # stepping on from the copy
    fresh = backprop.descend(path, image, 9, 0.01, 1)
    assert fresh.loss_before == first.loss_before  # the cached copy was not stepped
    assert digest(path) == before_bytes
    assert np.array_equal(logits(image[None], str(path)), before_reading)


def test_a_visitors_export_is_rebuilt_from_its_card_or_its_metadata(tmp_path):
    """A run's folder holds cnn.onnx and cnn.json: the card names the arch. Without a card the
    file's `arch` metadata does; a card that names another architecture, or another activation,
    is refused in words."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(MODELS["seed"], run / "cnn.onnx")
    shutil.copy(MODELS["seed"].with_suffix(".json"), run / "cnn.json")
    image = drawn(2, seed=2)
    expected = backprop.descend(MODELS["seed"], image, 2, 0.1, 1)
    assert backprop.descend(run / "cnn.onnx", image, 2, 0.1, 1).loss_after == pytest.approx(expected.loss_after)
    (run / "cnn.json").unlink()
    assert backprop.descend(run / "cnn.onnx", image, 2, 0.1, 1).loss_after == pytest.approx(expected.loss_after)
    (run / "cnn.json").write_text(json.dumps({"arch": "lab"}))
    with pytest.raises(backprop.CopyRefused) as refused:
        backprop.descend(run / "cnn.onnx", image, 2, 0.1, 1)
    assert "cnn.onnx" in refused.value.say("en") and "cnn.onnx" in refused.value.say("zh-CN")
    # the right weights under the wrong activation: every name fits, the readings do not
    (run / "cnn.json").write_text(json.dumps({"arch": "seed", "knobs": {"activation": "sigmoid"}}))
    with pytest.raises(backprop.CopyRefused) as refused:
        backprop.descend(run / "cnn.onnx", image, 2, 0.1, 1)
    assert refused.value.key == "backprop.error.parity"


@pytest.mark.parametrize("digit, rate, steps, key", [
    (10, 0.1, 1, "backprop.error.digit"), (-1, 0.1, 1, "backprop.error.digit"), ("seven", 0.1, 1, "backprop.error.digit"),
    (7, 0, 1, "backprop.error.rate"), (7, 1.5, 1, "backprop.error.rate"), (7, float("nan"), 1, "backprop.error.rate"),
    (7, "fast", 1, "backprop.error.rate"), (7, 0.1, 0, "backprop.error.steps"), (7, 0.1, 21, "backprop.error.steps"),
    (7, 0.1, 2.5, "backprop.error.steps"), (7, 0.1, None, "backprop.error.steps"),
])
def test_out_of_range_inputs_are_refused_in_words(digit, rate, steps, key):
    with pytest.raises(tab.Refused) as refused:
        tab.check(digit, rate, steps, "lab")
    assert refused.value.key == key
    assert refused.value.say("zh-CN") != refused.value.say("en") and str(tab.MAX_STEPS) in locales.text(
        "backprop.error.steps", "zh-CN", value=0, most=tab.MAX_STEPS)


def test_the_reading_is_the_default_target_and_blank_canvases_get_a_sentence():
    assert tab.check("read", 0.1, 1, None) == (None, 0.1, 1, "lab")
    assert tab.check("7", "0.5", 3.0, "seed") == (7, 0.5, 3, "seed")
    said, result = tab.backprop_step(page_digit(7, np.random.default_rng(1), 0.6), "read", 0.1, 1)
    assert result["digit"] == 7 and "−log p(7)" in said
    for blank in (page_junk("blank", np.random.default_rng(0)), "", None):
        said, result = tab.backprop_step(blank, 7, 0.1, 1)
        assert said == result["message"] == locales.text("backprop.empty", "en")
    said, result = tab.backprop_step("{nonsense", 7, 0.1, 1)
    assert said == locales.text("draw.reason.unreadable", "en")


def test_the_page_view_keeps_stepping_its_copy_until_reset():
    strokes = page_digit(7, np.random.default_rng(1), 0.6)
    said, bars, picture, state, _ = tab.step(strokes, "1", 0.05, 2, "lab", None, None)
    assert state["count"] == 2 and picture.shape == (tab.VIEW, tab.VIEW, 3) and bars.count("<tr>") == 13
    said_again, _, _, state_again, _ = tab.step(strokes, "1", 0.05, 1, "lab", None, state)
    assert state_again["count"] == 3 and "3" in said_again
    looked, *_ = tab.look(strokes, "1", 0.05, "lab", None, state_again)
    assert locales.text("backprop.copy", "en", count=3) in looked
    looked, *_ = tab.look(strokes, "1", 0.05, "seed", None, state_again)  # another model: not this copy
    assert locales.text("backprop.served", "en") in looked


def test_serving_starts_without_torch():
    """The whole app's Blocks, the backprop view among them, built without importing torch."""
    code = "import sys, app; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


@pytest.mark.slow
def test_backprop_step_through_the_api(client, app_url):
    """/backprop_step against the launched app: the JSON's keys and values, a blank canvas, refusals
    in the client's language, and the served model's file and readings unchanged afterwards."""
    from gradio_client import Client

    strokes = page_digit(7, np.random.default_rng(1), 0.6)
    reading = client.predict(strokes, api_name="/classify_strokes")[0]
    before = digest(MODELS["lab"])
    said, result = client.predict(strokes, 7, 0.1, 1, "lab", api_name="/backprop_step")
    assert result["loss_after"] < result["loss_before"] and result["probability_after"] > result["probability_before"]
    assert [layer["name"] for layer in result["layers"]][0] == "features.0" and all(layer["gradient_norm"] > 0 for layer in result["layers"])
    assert "−log p(7)" in said
    said, result = client.predict(strokes, 3, 1.0, 20, "seed", api_name="/backprop_step")
    assert result["probability_after"] > result["probability_before"] and len(result["layers"]) == 4
    said, result = client.predict(page_junk("blank", np.random.default_rng(0)), 7, 0.1, 1, "lab", api_name="/backprop_step")
    assert result == {"message": locales.text("backprop.empty", "en")}
    with pytest.raises(Exception, match="from 1 to 20"):
        client.predict(strokes, 7, 0.1, 50, "lab", api_name="/backprop_step")
    chinese = Client(app_url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    with pytest.raises(Exception, match="学习率"):
        chinese.predict(strokes, 7, 5, 1, "lab", api_name="/backprop_step")
    assert digest(MODELS["lab"]) == before
    assert client.predict(strokes, api_name="/classify_strokes")[0] == reading
