"""The inside view of a CNN: the layers companion written from an exported graph (shipped CNN, a
primer-shaped CNN, a freshly trained one), parity of every stage with PyTorch, the stages and
filters inference.inside serves, the words of tabs/draw/inside.py, and a missing companion explained."""
import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inference import classifier, inside
from inference.sessions import ModelUnavailable
from tabs.draw import inside as tab
from training.export import views as export_views


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class PrimerShapedCNN(nn.Module):
    """The primer's listing's shape (conv-ReLU-pool-conv-ReLU-pool-fc-ReLU-dropout-fc), written the
    way it is written there: functional ReLUs, one pooling module used twice."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc2(self.dropout(F.relu(self.fc1(x.flatten(1)))))


@pytest.fixture(scope="module")
def digits():
    from training import data

    held_out = data.load("mnist-5k")[1]
    return held_out.images[:16].numpy(), held_out.labels[:16].numpy()


@pytest.fixture(scope="module")
def primer_cnn(tmp_path_factory, digits):
    from training.export.onnx_export import _to_onnx

    torch.manual_seed(0)
    model = PrimerShapedCNN().eval()
    path = tmp_path_factory.mktemp("primer") / "seed_cnn.onnx"
    _to_onnx(model, (torch.as_tensor(digits[0][:2]),), ["image"], ["logits"], path)
    figures = export_views.write_layers(path, module=model, images=digits[0])
    return path, model, figures


def test_the_shipped_cnn_has_every_stage_and_its_logits_are_the_served_ones(digits):
    image = digits[0][0, 0]
    layers, values = inside.run(image)
    kinds = [s.kind for s in layers.stages]
    assert kinds[0] == "conv" and kinds[-2:] == ["features", "logits"]
    assert {"depthwise", "pointwise", "activation", "pool"} <= set(kinds)
    for stage in layers.stages:
        assert values[stage.name].shape == stage.shape
    np.testing.assert_allclose(values[layers.stages[-1].name], classifier.logits(image[None])[0], atol=1e-5)
    # ReLU's stage is max(0, x) of the stage it follows; max pooling halves the maps
    for stage in layers.stages:
        if stage.kind == "activation" and stage.function == "relu":
            np.testing.assert_allclose(values[stage.name], np.maximum(values[stage.of], 0), atol=1e-6)
    pools = [s for s in layers.stages if s.kind == "pool"]
    assert [s.shape[1] for s in pools] == [14, 7]


def test_a_primer_shaped_cnn_gets_its_stages_from_its_own_graph_with_torch_parity(primer_cnn, digits):
    path, model, figures = primer_cnn
    assert figures["parity_max_relative_difference"] < 1e-4 and figures["logit_parity"] < 1e-5
    layers, values = inside.run(digits[0][3, 0], path)
    assert [s.kind for s in layers.stages] == ["conv", "activation", "pool", "conv", "activation", "pool", "dense", "features", "logits"]
    assert [s.shape for s in layers.stages][:6] == [(32, 28, 28)] * 2 + [(32, 14, 14), (64, 14, 14), (64, 14, 14), (64, 7, 7)]
    assert layers.stage(layers.stages[7].name).function == "relu"  # the features are the 128 after fc1's ReLU
    with torch.no_grad():
        hidden = F.relu(model.fc1(model.pool(F.relu(model.conv2(model.pool(F.relu(model.conv1(torch.as_tensor(digits[0][3:4]))))))).flatten(1)))
        conv1 = model.conv1(torch.as_tensor(digits[0][3:4]))
    np.testing.assert_allclose(values[layers.stages[7].name], hidden[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(values[layers.stages[0].name], conv1[0].numpy(), rtol=1e-4, atol=1e-5)
    # the filter of conv 2's map 5: 32 kernels of 3x3, the torch weights
    found = inside.filter_of(layers.stages[3], 5)
    np.testing.assert_allclose(found.kernels, model.conv2.weight[5].detach().numpy(), atol=1e-6)


def test_parity_check_catches_a_companion_that_is_not_the_model(primer_cnn, digits):
    path, model, _ = primer_cnn
    other = PrimerShapedCNN().eval()  # other weights: no stage matches
    companion, stages = export_views.layers_model(onnx.load(str(path)))
    with pytest.raises(export_views.CompanionError, match="parity failed"):
        export_views.check_layers_against_torch(companion, stages, "image", other, digits[0])


def test_the_companion_metadata_describes_each_stage(primer_cnn):
    path, _, _ = primer_cnn
    model = onnx.load(str(export_views.layers_path(path)))
    described = json.loads(next(p.value for p in model.metadata_props if p.key == export_views.STAGES_KEY))
    assert [o.name for o in model.graph.output] == [s["name"] for s in described["stages"]]
    for stage in described["stages"]:
        assert stage["kind"] and stage["shape"] and stage["does"]
    assert described["stages"][0]["weight"]["shape"] == [32, 1, 3, 3]


def test_a_freshly_trained_cnn_gets_its_companion_from_the_export(tmp_path, digits):
    from training import train_cnn
    from training.export import onnx_export as export

    cfg = train_cnn.CNNConfig(epochs=1, max_steps=2, batch_size=32, device="cpu", typed_digits=False)
    *_, last = train_cnn.train(cfg)
    card = export.export(last.snapshot(), tmp_path / "cnn.onnx")
    assert (tmp_path / "cnn.layers.onnx").is_file()
    layers_figures = card["companions"]["layers"]
    assert layers_figures["parity_max_relative_difference"] < 1e-4
    layers, values = inside.run(digits[0][0, 0], tmp_path / "cnn.onnx")
    assert layers.stages[-1].kind == "logits" and values[layers.stages[-1].name].shape == (10,)


def test_depthwise_and_pointwise_filters_come_with_their_kernel_and_mix():
    layers = inside.load()
    depthwise = next(s for s in layers.stages if s.kind == "depthwise")
    pointwise = next(s for s in layers.stages if s.kind == "pointwise")
    d = inside.filter_of(depthwise, 4)
    assert d.kernels.shape == (1, 3, 3)
    p = inside.filter_of(pointwise, 2)
    assert p.mix.shape == (pointwise.in_channels,) and len(p.strongest) == 3
    assert abs(p.mix[p.strongest[0]]) == np.abs(p.mix).max()


def test_a_missing_companion_is_explained_with_the_command_that_makes_it(tmp_path):
    model = tmp_path / "cnn.onnx"
    model.write_bytes(b"not read")
    with pytest.raises(ModelUnavailable) as caught:
        inside.load(model)
    assert caught.value.key == "inside.unavailable.missing" and "export.views layers" in caught.value.values["command"]
    html, *_ = tab.view(np.zeros((28, 28), np.float32), "lab", str(model))
    assert "cnn.layers.onnx" in html and "python -m training.export.views layers" in html
    with pytest.raises(ModelUnavailable) as caught:
        inside.load(tmp_path / "nowhere.onnx")
    assert caught.value.key == "inside.unavailable.no_model"


def test_the_view_in_both_languages(digits):
    image = digits[0][2, 0]
    for lang, words in (("en", ["ReLU max(0, x)", "max pooling keeps the strongest response in each 2x2", "softmax"]),
                        ("zh-CN", ["ReLU max(0, x)", "最大池化", "归一化指数函数"])):
        request = type("Request", (), {"headers": {"accept-language": lang}})()
        html, stages, channel, chosen, weights, line = tab.view(image, "lab", None, request)
        for word in words:
            assert word in html, (lang, word)
        assert html.count("<img") == len(inside.load().stages)  # the input and every stage but the logits (a table)
        assert 'alt=""' not in html and chosen is not None and weights is not None and line
    # nothing read yet
    assert "Draw or upload" in tab.view(None, "lab", None)[0]


def test_benchmark_model_work_is_within_budget():
    from benchmarks import inside as bench

    figures = bench.view_cost(repeats=20)
    assert figures["stages"] >= 20 and figures["model_ms_median"] < 200  # the budget is 30 ms; the machine is shared
