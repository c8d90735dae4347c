"""Each layer's gradient norm during a CNN run: read every few steps from the step's own backward,
carried as plain data (across a ZeroGPU worker's pipe too), kept by the run and drawn by the Train
tab as one line a layer."""
import html
import pickle

import pytest
import torch

from training import layer_gradients, train_cnn
from runs import jobs, worker
from training.settings import TrainSettings

PRIMER_LAYERS = [("features.0", "conv", [32, 1, 3, 3]), ("features.3", "conv", [64, 32, 3, 3]),
                 ("features.7", "dense", [128, 3136]), ("head.1", "dense", [10, 128])]


def test_the_norms_are_those_of_each_layers_own_gradients():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 26 * 26, 3))
    model(torch.rand(4, 1, 28, 28)).square().sum().backward()
    read = layer_gradients.GradientNorms(model, total_steps=10).read()
    assert [(g["name"], g["kind"], g["shape"]) for g in read] == [("0", "conv", [2, 1, 3, 3]), ("2", "dense", [3, 1352])]
    for g, layer in zip(read, (model[0], model[2])):
        expected = torch.cat([layer.weight.grad.flatten(), layer.bias.grad.flatten()]).norm().item()
        assert g["gradient_norm"] == pytest.approx(expected, rel=1e-5)


def test_reads_are_every_few_steps_and_at_most_about_a_hundred_a_run():
    few, many = layer_gradients.GradientNorms(torch.nn.Linear(2, 2), 12), layer_gradients.GradientNorms(torch.nn.Linear(2, 2), 4380)
    assert [s for s in range(1, 13) if few.due(s)] == [1, 5, 10, 12]
    assert 90 <= sum(many.due(s) for s in range(1, 4381)) <= 102


@pytest.mark.slow
def test_a_cnn_run_records_a_positive_norm_a_layer_and_the_tab_draws_them(tmp_path):
    events = list(train_cnn.train(train_cnn.CNNConfig(arch="seed", max_steps=6, batch_size=16, device="cpu")))
    read = [e for e in events if e.gradients]
    assert [e.step for e in read] == [1, 5, 6]
    for event in read:  # input side to output side, each layer with weights once
        assert [(g["name"], g["kind"], g["shape"]) for g in event.gradients] == PRIMER_LAYERS
        assert all(g["gradient_norm"] > 0 for g in event.gradients)
    crossed = pickle.loads(pickle.dumps(worker.plain(read[0], "cpu")))  # what a ZeroGPU worker sends
    assert crossed["gradients"] == read[0].gradients
    assert all(type(g["gradient_norm"]) is float and type(g["shape"]) is list for g in crossed["gradients"])

    caps = TrainSettings(runs_dir=tmp_path)
    run = jobs.Run(jobs.validate("cnn", "mnist-5k", 1, None, 16, 0, caps, arch="seed"), "me", caps, [])
    for event in events:
        run.record(event)
    view = run.view()
    assert [layer["name"] for layer in view.gradient_layers] == [name for name, _, _ in PRIMER_LAYERS]
    assert [step for step, _ in view.gradients] == [1, 5, 6] and all(len(norms) == 4 for _, norms in view.gradients)

    from tabs.train import tab

    svg = html.unescape(tab.gradient_chart(view.gradient_layers, view.gradients, "en"))
    assert svg.count('class="mark-line"') == 4 and 'role="img"' in svg
    assert "1. Convolution (32x1x3x3)" in svg and "4. Fully connected layer (10x128)" in svg
    first = view.gradients[-1][1][0]
    assert f"1. Convolution (32x1x3x3): {tab.train_plots._last(first)}" in svg  # the text alternative: each layer's last norm
    chinese = tab.gradient_chart(view.gradient_layers, view.gradients, "zh-CN")
    assert "每层的梯度" in chinese and "1. 卷积（32x1x3x3）" in chinese
