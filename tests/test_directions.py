"""training.export.directions: the shape measures, naming, the PCA-to-latent mapping on a small generator
with a planted direction, and find()'s offer rule; plus (slow) the export carrying them into the
.onnx where inference.generator reads them."""
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from models.gan import Generator
from training.export import directions


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def bar(width: int = 2, shear: float = 0.0, height: int = 16, x: int = 14, size: int = 28) -> np.ndarray:
    """A vertical white bar on black; shear > 0 moves its top to the right (a right lean)."""
    image = np.zeros((size, size))
    top = (size - height) // 2
    for row in range(top, top + height):
        centre = x + shear * ((size - 1) / 2 - row)
        left = int(round(centre - width / 2))
        image[row, max(left, 0):max(left + width, 0)] = 1.0
    return image


def test_measures_read_thickness_slant_width_height_and_position():
    base = directions.image_measures(bar()[None])
    def delta(image, measure):
        return float(directions.image_measures(image[None])[measure][0] - base[measure][0])
    assert delta(bar(width=4), "ink") > 0 and delta(bar(width=4), "width") > 0
    assert delta(bar(shear=0.4), "slant") > 0.3 and delta(bar(shear=-0.4), "slant") < -0.3
    assert abs(base["slant"][0]) < 1e-9
    assert delta(bar(height=24), "height") > 1
    assert delta(bar(x=18), "x") == pytest.approx(4, abs=0.6) and abs(delta(bar(x=18), "y")) < 1e-9


def test_a_clearly_dominant_measure_names_the_direction_and_sets_its_sign():
    assert directions.name_direction({"ink": 1.2, "slant": 0.1, "width": 0.3, "height": 0, "x": 0, "y": 0}, 0)[::2] == ("thickness", 1)
    name, _, sign = directions.name_direction({"ink": 0.1, "slant": -0.9, "width": 0.2, "height": 0, "x": 0, "y": 0}, 0)
    assert (name, sign) == ("slant", -1)  # flipped so that + leans right
    name, description, sign = directions.name_direction({"ink": 0.6, "slant": 0.5, "width": 0, "height": 0, "x": 0, "y": 0}, 3)
    assert (name, sign) == ("style 4", 1) and description == "a mix, mostly bolder and leans right"
    assert directions.name_direction({"ink": 0.2, "slant": 0.1, "width": 0, "height": 0, "x": 0, "y": -0.3}, 0)[:2] == ("style 1", "a mix, mostly moves up and bolder")


def small_generator(z_dim: int = 6, width: int = 8, planted: int | None = None) -> Generator:
    torch.manual_seed(0)
    generator = Generator(z_dim=z_dim, width=width).eval()
    if planted is not None:
        with torch.no_grad():  # latent axis `planted` drives the first layer ten times harder than the others
            generator.project.weight[:, planted] *= 10
    return generator


def test_the_first_direction_recovers_a_planted_dominant_latent_axis():
    generator = small_generator(planted=2)
    z = torch.randn(1000, 6, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(10).repeat_interleave(100)
    found, explained = directions.latent_directions(generator, z, labels, 3)
    assert found.shape == (3, 6)
    torch.testing.assert_close(found.norm(dim=1), torch.ones(3))
    assert abs(found[0, 2]) > 0.95  # the planted axis, up to sign
    assert explained[0] > explained[1] >= explained[2] > 0 and explained.sum() <= 1


class ReadsEverythingAsZero:
    """A stand-in CNN: every image is a 0, so only the 0s count and all of them keep their class."""

    def read(self, images):
        logits = np.zeros((len(images), 10), np.float32)
        logits[:, 0] = 1
        return logits, np.zeros((len(images), 4), np.float32)


class ReadsNoise:
    """A stand-in CNN whose reading flips with tiny pixel changes: moves rarely keep the class."""

    def read(self, images):
        codes = (np.asarray(images).reshape(len(images), -1).sum(1) * 1000).astype(np.int64)
        return np.eye(10, dtype=np.float32)[codes % 10], np.zeros((len(images), 4), np.float32)


def test_find_offers_only_directions_that_keep_the_class_and_is_json_and_repeatable():
    generator = small_generator()
    kept = directions.find(generator, ReadsEverythingAsZero(), samples=400, measured=40, candidates=4)
    assert json.loads(json.dumps(kept)) == kept
    assert kept["z_dim"] == 6 and len(kept["directions"]) == 4
    for d in kept["directions"]:
        assert np.linalg.norm(d["vector"]) == pytest.approx(1, abs=1e-4)
        assert d["class_kept"] == 1.0 and d["offered"] and d["mean_pixel_change"] > 0
        assert set(d["effects"]) == set(directions.MEANINGS)
    assert kept == directions.find(generator, ReadsEverythingAsZero(), samples=400, measured=40, candidates=4)
    names = [d["name"] for d in kept["directions"] if d["offered"]]
    assert len(names) == len(set(names))

    flaky = directions.find(generator, ReadsNoise(), samples=400, measured=40, candidates=4)
    for d in flaky["directions"]:
        assert d["offered"] == (d["class_kept"] >= directions.CLASS_KEPT_MIN)
    assert not all(d["offered"] for d in flaky["directions"])

    unjudged = directions.find(generator, None, samples=400, measured=40, candidates=4)
    assert not unjudged["judged"] and not any(d["offered"] for d in unjudged["directions"])
    assert "vector" not in directions.summary(kept)[0]


def test_named_directions_are_signed_so_positive_increases_their_measure():
    found = directions.find(small_generator(), ReadsEverythingAsZero(), samples=400, measured=40, candidates=4)
    measure_of = {name: measure for measure, (name, _) in directions.MEANINGS.items()}
    for d in found["directions"]:
        measure = measure_of.get(d["name"].rstrip(" 0123456789"))
        if measure:
            assert d["effects"][measure] > 0


@pytest.mark.slow
def test_export_stores_the_directions_in_the_onnx_file_for_the_server(tmp_path):
    from inference import generator as served
    from training.export.onnx_export import export
    from training.train_gan import GANConfig, build_generator

    config = asdict(GANConfig(z_dim=8, g_width=8, d_width=8, max_steps=1))
    generator = build_generator(config)
    checkpoint = {"kind": "gan", "model": generator.state_dict(), "config": config, "step": 0}
    card = export(checkpoint, tmp_path / "gan.onnx")
    model = served.load(str(tmp_path / "gan.onnx"))
    assert model.z_dim == 8
    assert card["metrics"]["directions"]["offered"] == len(model.directions)
    assert len(card["metrics"]["directions"]["candidates"]) == 8
    assert served.sample(3, 1, 1.0, [1.0] * len(model.directions), str(tmp_path / "gan.onnx")).shape == (28, 28)


def test_offered_sliders_prefer_new_names_and_skip_directions_that_lose_the_class():
    found = [{"name": n, "class_kept": k, "offered": False} for n, k in [
        ("thickness", 0.95), ("thickness", 0.97), ("slant", 0.99), ("width", 0.5), ("style 5", 0.93),
        ("thickness", 0.96), ("height", 0.91), ("horizontal shift", 0.92), ("slant", 0.94),
    ]]
    directions._choose_offered(found)
    offered = [d for d in found if d["offered"]]
    assert [d["name"] for d in offered] == ["thickness", "thickness", "slant", "style 5", "height", "horizontal shift"]
    assert found[1]["offered"] and not found[5]["offered"]  # one repeat fills the sixth slot, in PCA order
    directions._disambiguate(offered)
    assert [d["name"] for d in offered][:2] == ["thickness", "thickness 2"]
