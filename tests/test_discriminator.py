"""The discriminator companion and its verdict, and the unconditional generator path:
write_discriminator's parity and metadata (conditional and not, hinge and bce), the served
scores, the shipped discriminator scoring real digits above noise, what a missing companion says,
and a z-only gan.onnx on the Generate tab (no digit choice, the CNN reads what it drew)."""
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from inference import discriminator as critic
from inference import generator as gen
from inference.sessions import ModelUnavailable
from tabs import generate as tab
from tests.test_generator import directions_dict
from training.export import views as export_views

EXPORTS_GAN_CRITIC = critic.companion_path(None)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class TinyConditionalCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 14 * 14, 8))
        self.score = nn.utils.parametrizations.spectral_norm(nn.Linear(8, 1))
        self.embed = nn.Embedding(10, 8)

    def forward(self, image, label):
        h = self.body(image)
        return self.score(h).squeeze(1) + (self.embed(label) * h).sum(1)


class TinyPrimerCritic(nn.Module):
    """Unconditional and ending in a sigmoid, as the primer's discriminator does."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 14 * 14, 1), nn.Sigmoid())

    def forward(self, image):
        return self.net(image)


def batches(count=32, seed=0):
    rng = np.random.default_rng(seed)
    images = lambda: (rng.random((count, 1, 28, 28)) * 2 - 1).astype(np.float32)  # noqa: E731
    labels = lambda: rng.integers(0, 10, count).astype(np.int64)  # noqa: E731
    return (images(), labels()), (images(), labels())


@pytest.mark.parametrize("module, config, conditional, loss", [
    (TinyConditionalCritic, {"arch": "lab"}, True, "hinge"),
    (TinyPrimerCritic, {"arch": "seed", "loss": "bce"}, False, "bce"),
])
def test_a_discriminator_is_exported_with_parity_and_says_what_its_score_means(tmp_path, module, config, conditional, loss):
    torch.manual_seed(0)
    d = module().eval()
    real, fake = batches()
    figures = export_views.write_discriminator(d, config, tmp_path / "gan.discriminator.onnx", real, fake)
    assert figures["parity_max_relative_difference"] < 1e-3 and figures["size_bytes"] < 10 * 2**20
    model = onnx.load(str(tmp_path / "gan.discriminator.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["loss"] == loss and meta["conditional"] == str(conditional).lower()
    assert [i.name for i in model.graph.input] == (["image", "label"] if conditional else ["image"])
    assert [o.name for o in model.graph.output] == ["score"]
    # served: the same numbers as torch, through inference.discriminator (images in [0,1])
    images01 = (real[0][:, 0] + 1) / 2
    served = critic.scores(images01, real[1], tmp_path / "gan.onnx")
    with torch.no_grad():
        expected = (d(torch.as_tensor(real[0]), torch.as_tensor(real[1])) if conditional else d(torch.as_tensor(real[0]))).reshape(-1).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-3, atol=1e-4)
    found = critic.opinion(images01[0], int(real[1][0]), tmp_path / "gan.onnx")
    assert found.loss == loss and found.threshold == (0.5 if loss == "bce" else 0.0)
    if loss == "bce":
        assert 0 <= found.score <= 1  # a probability: the sigmoid is not applied twice


@pytest.mark.skipif(not EXPORTS_GAN_CRITIC.is_file(), reason="no discriminator companion beside the shipped gan.onnx")
def test_the_shipped_discriminator_scores_held_out_real_digits_above_the_generators():
    """What a discriminator is trained for: real digits against this generator's. (Not against
    noise: it never saw any, and the shipped one scores uniform noise above real digits; the
    README gives the figures.) The tab's line between the two lies between their measured means."""
    from training import data

    held_out = data.load("mnist-5k")[1]
    labels = held_out.labels[:500].numpy()
    real = critic.scores(held_out.images[:500, 0].numpy(), labels)
    model = gen.load(None)
    generated = np.stack([gen.sample(int(digit), 10_000 + k) for k, digit in enumerate(labels)])
    made = critic.scores(generated, labels)
    assert real.mean() > made.mean()
    found = critic.opinion(held_out.images[0, 0].numpy(), int(labels[0]))
    assert model.conditional and made.mean() < found.boundary < real.mean() + 0.1


def test_a_missing_discriminator_is_explained_with_the_commands(tmp_path):
    with pytest.raises(ModelUnavailable) as caught:
        critic.load(tmp_path / "gan.onnx")
    assert caught.value.key == "generate.critic.missing" and "training.export" in caught.value.values["export"]
    words = tab.critic_words(np.zeros((28, 28), np.float32), 3, str(tmp_path / "gan.onnx"), "en")
    assert "gan.discriminator.onnx" in words and "missing" in words
    assert "gan.discriminator.onnx" in tab.critic_words(np.zeros((28, 28), np.float32), 3, str(tmp_path / "gan.onnx"), "zh-CN")


def write_unconditional_gan(path, directions=None, z_dim=6, seed=0):
    """image = tanh(z @ W) as [N,1,28,28]: the primer's interface, z alone."""
    rng = np.random.default_rng(seed)
    weights = helper.make_tensor("W", TensorProto.FLOAT, [z_dim, 784], rng.normal(0, 0.8, (z_dim, 784)).astype(np.float32).ravel())
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 28, 28])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["z", "W"], ["zw"]), helper.make_node("Tanh", ["zw"], ["t"]), helper.make_node("Reshape", ["t", "shape"], ["image"])],
        "tiny_unconditional", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", z_dim])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])], initializer=[weights, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if directions is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = gen.METADATA_KEY, json.dumps(directions)
    onnx.save(model, str(path))
    return str(path)


def test_an_unconditional_generator_draws_without_a_digit_and_the_tab_says_so(tmp_path):
    path = write_unconditional_gan(tmp_path / "gan.onnx", directions_dict())
    model = gen.load(path)
    assert not model.conditional and len(model.directions) == 2
    np.testing.assert_array_equal(gen.sample(3, 5, gan_path=path), gen.sample(8, 5, gan_path=path))  # the digit does not apply
    grid = gen.digit_grid(5, gan_path=path)
    np.testing.assert_allclose(grid[1], gen.sample(0, 6, gan_path=path), atol=1e-6)  # ten seeds, not ten digits
    problem, specs, _ = tab.slider_specs(path, "en")
    assert "unconditional" in problem and "does not apply" in problem and len(specs) == 2
    assert "无条件" in tab.slider_specs(path, "zh-CN")[0]
    image, label, sentence, critic_text = tab.show(3, 5, 1.0, *[0.0] * gen.MAX_SLIDERS, path, None)
    assert "no digit was asked for" in sentence and "asked for**" not in sentence
    assert "gan.discriminator.onnx" in critic_text  # no companion written here: said, not crashed
    status, digit_radio, *_ = tab.controls(path)
    assert status.visible and digit_radio.interactive is False
    assert gen.interpolate((1, 1), (2, 2), 4, 1.0, path).shape == (4, 28, 28)


def test_the_directions_of_an_unconditional_torch_generator_are_found():
    from training.export import directions

    class Unconditional(nn.Module):
        z_dim = 4

        def __init__(self):
            super().__init__()
            self.first = nn.Linear(4, 16 * 7 * 7)
            self.up = nn.Sequential(nn.Upsample(scale_factor=4), nn.Conv2d(16, 1, 3, padding=1), nn.Tanh())

        def forward(self, z):
            return self.up(self.first(z).view(-1, 16, 7, 7))

    class Judge:
        def read(self, images):
            reads = (np.asarray(images).mean(axis=(1, 2, 3)) * 1000).astype(int) % 10
            return np.eye(10)[reads], None

    torch.manual_seed(0)
    found = directions.find(Unconditional().eval(), Judge(), samples=200, measured=40, candidates=3)
    assert len(found["directions"]) == 3 and all(len(d["vector"]) == 4 for d in found["directions"])
    assert all("measure" in d for d in found["directions"])
