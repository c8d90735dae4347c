"""inference.generator on a tiny hand-built ONNX generator (no torch, no training): sampling,
determinism, sliders, strips, interpolation, the grid, input cleaning, upscaling, and what a
missing model or missing directions say."""
import json
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from inference import generator as gen
from inference.sessions import ModelUnavailable

Z = 6


def write_tiny_gan(path, directions: dict | None, z_dim: int = Z, seed: int = 0):
    """image = tanh(z @ W + E[label]) as [N,1,28,28]: the interface of exports/gan.onnx."""
    rng = np.random.default_rng(seed)
    weights = helper.make_tensor("W", TensorProto.FLOAT, [z_dim, 784], rng.normal(0, 0.8, (z_dim, 784)).astype(np.float32).ravel())
    embed = helper.make_tensor("E", TensorProto.FLOAT, [10, 784], rng.normal(0, 0.8, (10, 784)).astype(np.float32).ravel())
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 28, 28])
    nodes = [
        helper.make_node("MatMul", ["z", "W"], ["zw"]),
        helper.make_node("Gather", ["E", "label"], ["e"], axis=0),
        helper.make_node("Add", ["zw", "e"], ["h"]),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["image"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_gan",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", z_dim]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])],
        initializer=[weights, embed, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if directions is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = gen.METADATA_KEY, json.dumps(directions)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def directions_dict(offered=(True, True, False), z_dim: int = Z) -> dict:
    eye = np.eye(z_dim)
    return {
        "class_kept_min": 0.9,
        "directions": [
            {"name": f"d{k}", "description": f"does {k}", "vector": list(2.5 * eye[k]), "offered": o,
             "mean_pixel_change": 0.05, "class_kept": 0.95 if o else 0.5}
            for k, o in enumerate(offered)
        ],
    }


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_gan(tmp_path / "gan.onnx", directions_dict())


def test_load_reads_z_dim_and_only_the_offered_directions_as_unit_vectors(tiny):
    model = gen.load(tiny)
    assert model.z_dim == Z
    assert [d.name for d in model.directions] == ["d0", "d1"]
    assert model.directions_problem is None
    for k, d in enumerate(model.directions):
        np.testing.assert_allclose(d.vector, np.eye(Z)[k], atol=1e-6)  # stored with norm 2.5, served unit


def test_same_inputs_same_image_and_other_inputs_other_images(tiny):
    a = gen.sample(3, 11, 0.8, [0.5, -1.0], tiny)
    assert a.shape == (28, 28) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, gen.sample(3, 11, 0.8, [0.5, -1.0], tiny))
    assert not np.array_equal(a, gen.sample(3, 12, 0.8, [0.5, -1.0], tiny))  # seed
    assert not np.array_equal(a, gen.sample(4, 11, 0.8, [0.5, -1.0], tiny))  # digit
    assert not np.array_equal(a, gen.sample(3, 11, 0.8, [1.5, -1.0], tiny))  # slider


def test_seed_latent_is_standard_normal_and_seeded():
    np.testing.assert_array_equal(gen.base_latent(5, 1000), gen.base_latent(5, 1000))
    z = gen.base_latent(5, 20000)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_slider_moves_the_latent_that_many_standard_deviations_along_its_direction(tiny):
    model = gen.load(tiny)
    moved = gen.latent(model, 9, 1.0, [2.0, -0.5])
    still = gen.latent(model, 9, 1.0, [0.0, 0.0])
    np.testing.assert_allclose(moved - still, 2.0 * model.directions[0].vector - 0.5 * model.directions[1].vector, atol=1e-6)
    np.testing.assert_allclose(gen.latent(model, 9, 0.5), 0.5 * gen.base_latent(9, Z), atol=1e-7)


def test_truncation_zero_gives_every_seed_the_same_image(tiny):
    np.testing.assert_allclose(gen.sample(2, 1, 0.0, (), tiny), gen.sample(2, 999, 0.0, (), tiny), atol=1e-6)


def test_preview_strips_run_each_direction_from_minus_3_to_plus_3_around_the_current_image(tiny):
    strips = gen.preview_strips(5, 3, 1.0, [1.0, 0.0], tiny)
    assert strips.shape == (2, len(gen.STRIP_STEPS), 28, 28)
    current = gen.sample(5, 3, 1.0, [1.0, 0.0], tiny)
    np.testing.assert_allclose(strips[0, gen.STRIP_STEPS.index(1.0)], current, atol=1e-5)  # slider 0 sits at +1
    np.testing.assert_allclose(strips[1, gen.STRIP_STEPS.index(0.0)], current, atol=1e-5)  # slider 1 at 0
    np.testing.assert_allclose(strips[0, 0], gen.sample(5, 3, 1.0, [-3.0, 0.0], tiny), atol=1e-5)
    assert not np.allclose(strips[0, 0], strips[0, -1])


def test_interpolation_runs_from_one_seed_and_digit_to_the_other(tiny):
    frames = gen.interpolate((2, 10), (8, 20), 7, 1.0, tiny)
    assert frames.shape == (7, 28, 28)
    np.testing.assert_allclose(frames[0], gen.sample(2, 10, 1.0, (), tiny), atol=1e-5)
    np.testing.assert_allclose(frames[-1], gen.sample(8, 20, 1.0, (), tiny), atol=1e-5)
    steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    assert steps.max() < np.abs(frames[-1] - frames[0]).mean()  # gradual, not a jump cut


def test_slerp_keeps_the_latent_norm_between_equal_norm_endpoints():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    for t in np.linspace(0, 1, 5):
        assert math.isclose(np.linalg.norm(gen.slerp(a, b, t)), 3.0, rel_tol=1e-9)
    np.testing.assert_allclose(gen.slerp(a, b, 0), a)
    np.testing.assert_allclose(gen.slerp(a, b, 1), b, atol=1e-12)


def test_grid_draws_one_latent_as_all_ten_digits(tiny):
    grid = gen.digit_grid(4, 1.0, [0.3], tiny)
    assert grid.shape == (10, 28, 28)
    for d in (0, 6, 9):
        np.testing.assert_allclose(grid[d], gen.sample(d, 4, 1.0, [0.3], tiny), atol=1e-5)


@pytest.mark.parametrize("bad", [10, -1, 3.5, float("nan"), float("inf"), "seven", None])
def test_bad_digits_get_a_clear_message(bad):
    with pytest.raises(ValueError, match="digit must be a whole number from 0 to 9"):
        gen.clean_digit(bad)


@pytest.mark.parametrize("bad", [-1, -0.5, 2.5, float("nan"), float("inf"), "x", None])
def test_bad_seeds_get_a_clear_message(bad):
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        gen.clean_seed(bad)


def test_huge_seeds_work_and_stay_distinct(tiny):
    huge = 10**30
    assert gen.clean_seed(huge) == huge and gen.clean_seed(7.0) == 7
    np.testing.assert_array_equal(gen.sample(1, huge, gan_path=tiny), gen.sample(1, huge, gan_path=tiny))
    assert not np.array_equal(gen.base_latent(huge, Z), gen.base_latent(huge + 1, Z))


def test_sliders_and_truncation_clamp_and_treat_nan_as_default(tiny):
    assert gen.clean_slider(float("nan")) == 0.0 and gen.clean_slider(99) == 3.0 and gen.clean_slider(-1e9) == -3.0
    assert gen.clean_slider(None) == 0.0 and gen.clean_slider(1.25) == 1.25
    assert gen.clean_truncation(float("nan")) == gen.DEFAULT_TRUNCATION and gen.clean_truncation(9) == gen.TRUNCATION_RANGE[1]
    np.testing.assert_array_equal(gen.sample(0, 1, 1.0, [float("nan"), 50.0], tiny), gen.sample(0, 1, 1.0, [0.0, 3.0], tiny))


def test_upscale_is_crisp_pixel_repetition():
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    big = gen.upscale(image, 10)
    assert big.shape == (280, 280) and big.dtype == np.uint8
    blocks = big.reshape(28, 10, 28, 10)
    assert (blocks == blocks[:, :1, :, :1]).all()  # every 10x10 block is one flat colour: no blur
    np.testing.assert_array_equal(blocks[:, 0, :, 0], np.rint(image * 255).astype(np.uint8))


def test_strip_tiles_images_with_gaps():
    row = gen.strip(np.zeros((7, 28, 28)), factor=3)
    assert row.shape == (84, 7 * 84 + 6 * gen.GAP)
    assert (row[:, 84:84 + gen.GAP] == gen.GAP_SHADE).all()


def test_gif_animates_forward_and_back(tiny):
    frames = gen.interpolate((1, 1), (1, 2), 5, 1.0, tiny)
    path = gen.gif(frames, factor=2)
    with Image.open(path) as animation:
        assert animation.format == "GIF" and animation.size == (56, 56)
        assert animation.n_frames == 5 + 3
    assert gen.gif(frames, factor=2) == path  # same frames, same file


def test_a_missing_generator_says_how_to_make_it(tmp_path):
    with pytest.raises(ModelUnavailable, match="python -m training.export"):
        gen.load(str(tmp_path / "nowhere.onnx"))


def test_a_generator_without_directions_still_samples_and_says_to_re_export(tmp_path):
    path = write_tiny_gan(tmp_path / "gan.onnx", None)
    model = gen.load(path)
    assert model.directions == () and model.directions_problem == "no_directions"
    assert "python -m training.export" in dict(model.problem_values)["command"]
    assert gen.sample(7, 1, gan_path=path).shape == (28, 28)
    assert gen.preview_strips(7, 1, gan_path=path).shape == (0, len(gen.STRIP_STEPS), 28, 28)


def test_no_offered_directions_and_broken_directions_are_explained(tmp_path):
    none_offered = gen.load(write_tiny_gan(tmp_path / "a.onnx", directions_dict((False, False))))
    assert none_offered.directions == () and none_offered.directions_problem == "none_kept"
    assert dict(none_offered.problem_values) == {"count": 2, "kept": 0.9}
    broken = directions_dict()
    broken["directions"][0]["vector"] = [1.0, 2.0]  # wrong length
    unreadable = gen.load(write_tiny_gan(tmp_path / "b.onnx", broken))
    assert unreadable.directions == () and unreadable.directions_problem == "unreadable"


def test_verdict_reports_the_cnns_probabilities_and_agreement():
    blank = np.zeros((28, 28), np.float32)
    found = gen.verdict(blank, 3)
    assert sorted(found.probabilities) == [str(d) for d in range(10)]
    assert math.isclose(sum(found.probabilities.values()), 1.0, rel_tol=1e-4)
    assert str(found.read) == max(found.probabilities, key=found.probabilities.get)
    assert found.agrees == (found.read == 3) and gen.verdict(blank, None).agrees


def test_a_slider_means_what_it_measurably_does_whatever_its_english_name():
    d = directions_dict()
    d["directions"][0] |= {"name": "slant 2", "effects": {"slant": 2.0, "ink": 0.3}}
    d["directions"][1] |= {"name": "style 5", "effects": {"ink": -1.5, "width": -1.2, "slant": 0.3}}
    first, second = gen.load(write_tiny_gan(__import__("tempfile").mkdtemp() + "/g.onnx", d)).directions
    assert (first.measure, first.number) == ("slant", 2)
    assert (second.measure, second.number, second.mix) == (None, 5, (("ink", False), ("width", False)))
