"""inference/preprocess.py: each MNIST step, the ways ink arrives (stroke layers in either theme,
transparent PNGs, RGB and grayscale uploads on light or dark paper), huge and tiny inputs, and a
fuzz over arbitrary arrays that must never raise; pictures far too large refused from their header,
before anything decodes them."""
import base64
import io
import json
import statistics
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pathlib import Path
from PIL import Image

from inference.preprocess import (BOX, FIELD, MAX_CANVAS_SIDE, MAX_SIDE, MAX_UPLOAD_SIDE, REASONS, centre_by_mass, fit_in_box,
                                  ink_box, prepare)
from tests.draw_digits import sketchpad_value
from tests.hostile_pictures import header_only_png, transparent_png

ROOT = Path(__file__).resolve().parent.parent


def layer_with_bar(side=200, rows=(40, 160), cols=(90, 110), colour=(0, 0, 0), alpha=255):
    layer = np.zeros((side, side, 4), np.uint8)
    layer[rows[0] : rows[1], cols[0] : cols[1], :3] = colour
    layer[rows[0] : rows[1], cols[0] : cols[1], 3] = alpha
    return layer


def centre_of_mass(image):
    total = image.sum()
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / total, (cols * image).sum() / total


# ---- the steps ---------------------------------------------------------------------------------


def test_ink_box_finds_the_ink_and_ignores_faint_fringe():
    ink = np.zeros((50, 60), np.float32)
    ink[10:20, 30:35] = 1.0
    ink[0, 0] = 0.05  # antialiasing dust, below the floor
    assert ink_box(ink) == (10, 30, 20, 35)
    assert ink_box(np.zeros((5, 5), np.float32)) is None


@pytest.mark.parametrize("shape", [(100, 20), (20, 100), (7, 7), (300, 300), (1, 1)])
def test_fit_in_box_keeps_aspect_ratio_and_the_longer_side_is_20(shape):
    fitted = fit_in_box(np.ones(shape, np.float32))
    assert max(fitted.shape) == BOX
    assert abs(fitted.shape[0] / fitted.shape[1] - shape[0] / shape[1]) < 0.35 * max(1, shape[0] / shape[1])
    assert 0 <= fitted.min() and fitted.max() <= 1


def test_fit_in_box_anti_aliases_a_thin_line_instead_of_dropping_it():
    cropped = np.zeros((200, 200), np.float32)
    cropped[:, 100] = 1.0  # a one-pixel line, 10x thinner than a 28x28 pixel after shrinking
    fitted = fit_in_box(cropped)
    assert 0.03 < fitted.max() < 0.5  # a faint grey line, not black nor full white


def test_centre_by_mass_lands_the_mass_on_the_field_centre():
    fitted = np.zeros((20, 12), np.float32)
    fitted[3:9] = 1.0  # mass in the upper half: the box must sit lower than a plain centring would
    image, (row, col) = centre_by_mass(fitted)
    com_row, com_col = centre_of_mass(image)
    assert abs(com_row - (FIELD - 1) / 2) <= 0.5 and abs(com_col - (FIELD - 1) / 2) <= 0.5
    assert row > (FIELD - 20) // 2
    assert image.shape == (FIELD, FIELD) and image.sum() == pytest.approx(fitted.sum())


def test_centre_by_mass_never_pushes_ink_out_of_the_field():
    fitted = np.zeros((20, 20), np.float32)
    fitted[0, 0] = 1.0  # all the mass in a corner
    fitted[19, 19] = 0.01
    image, _ = centre_by_mass(fitted)
    assert image.sum() == pytest.approx(fitted.sum())


def test_prepare_makes_an_mnist_style_digit_wherever_and_however_big_it_was():
    small_corner = prepare(sketchpad_value(layer_with_bar(rows=(5, 35), cols=(5, 10))))
    big_centre = prepare(sketchpad_value(layer_with_bar(rows=(10, 190), cols=(80, 120))))
    for steps in (small_corner, big_centre):
        assert steps.image.shape == (FIELD, FIELD) and steps.image.dtype == np.float32
        assert steps.image.max() == pytest.approx(1.0)
        rows = np.flatnonzero(steps.image.max(axis=1) > 0.1)
        assert rows[-1] - rows[0] + 1 in (BOX, BOX + 1)  # the longer side fills the 20 px box
        com = centre_of_mass(steps.image)
        assert abs(com[0] - 13.5) <= 1 and abs(com[1] - 13.5) <= 1
    assert small_corner.box == (5, 5, 35, 10)


# ---- where the ink comes from ------------------------------------------------------------------


@pytest.mark.parametrize("pen", [(0, 0, 0), (255, 255, 255), (204, 50, 50)])
@pytest.mark.parametrize("paper", ["white", "dark"])
def test_stroke_layer_alpha_is_the_ink_whatever_the_pen_colour_and_theme(pen, paper):
    steps = prepare(sketchpad_value(layer_with_bar(colour=pen), background=paper))
    reference = prepare(sketchpad_value(layer_with_bar()))
    np.testing.assert_allclose(steps.image, reference.image, atol=1e-6)


def test_without_strokes_the_composite_is_read_as_an_image():
    composite = np.full((100, 100, 4), 255, np.uint8)
    composite[20:80, 45:55, :3] = 0
    steps = prepare({"background": None, "layers": [], "composite": composite})
    assert steps.box == (20, 45, 80, 55)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA-opaque", "LA"])
@pytest.mark.parametrize("dark_paper", [False, True])
def test_uploads_without_transparency_read_ink_by_contrast_with_the_paper(mode, dark_paper):
    paper, ink = (20, 240) if dark_paper else (245, 10)
    gray = np.full((120, 90), paper, np.uint8)
    gray[30:90, 40:50] = ink
    if mode == "RGB":
        array = np.stack([gray] * 3, -1)
    elif mode == "L":
        array = gray
    elif mode == "RGBA-opaque":
        array = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    else:
        array = np.dstack([gray, np.full_like(gray, 255)])
    steps = prepare(array)
    assert steps.box == (30, 40, 90, 50)
    assert steps.image.max() == pytest.approx(1.0)


def test_a_transparent_png_reads_ink_from_its_alpha(tmp_path):
    path = tmp_path / "digit.png"
    Image.fromarray(layer_with_bar(colour=(255, 255, 255))).save(path)
    assert prepare(str(path)).box == (40, 90, 160, 110)
    assert prepare(Image.open(path)).box == (40, 90, 160, 110)


def test_float_and_channels_first_arrays_are_understood():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 4:24, 12:16] = 1.0  # an MNIST-style tensor, white on black
    assert prepare(image).box == (4, 12, 24, 16)
    assert prepare(image[0] * 255.0).box == (4, 12, 24, 16)


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, message",
    [
        (sketchpad_value(np.zeros((200, 200, 4), np.uint8)), "blank"),
        ({"background": None, "layers": [], "composite": None}, "blank"),
        (None, "No image"),
        (np.zeros((0, 5)), "empty"),
        (np.zeros(10), "not an image"),
        (np.array("text"), "not an image"),
        ("/no/such/file.png", "could not be read"),
        (np.full((50, 50, 3), 128, np.uint8), "blank"),  # uniform grey paper, nothing on it
    ],
)
def test_bad_or_empty_input_gets_a_message_not_an_exception(source, message):
    steps = prepare(source)
    assert steps.blank and message in steps.message
    assert steps.image.shape == (FIELD, FIELD) and not steps.image.any()


def test_a_huge_upload_is_downscaled_first_and_stays_fast():
    huge = np.zeros((4000, 4000, 4), np.uint8)
    huge[1000:3000, 1900:2100, 3] = 255
    start = time.perf_counter()
    steps = prepare(huge)
    assert time.perf_counter() - start < 10.0  # loose bound for a shared, loaded machine; typically ~0.1 s
    assert max(steps.ink.shape) <= MAX_SIDE and steps.box is not None
    assert steps.aspect == pytest.approx(0.1, abs=0.02)


def test_tiny_images_still_make_a_field():
    diagonal = np.eye(3, dtype=np.uint8) * 255
    steps = prepare(np.dstack([np.zeros_like(diagonal)] * 3 + [diagonal]))  # 3x3, ink in the alpha
    assert steps.image.shape == (FIELD, FIELD) and steps.image.max() == pytest.approx(1.0)
    speck = np.full((8, 8, 3), 250, np.uint8)
    speck[4, 4] = 0  # 8x8 RGB, one dark pixel on light paper
    assert prepare(speck).box == (4, 4, 5, 5)
    assert prepare(np.zeros((1, 1, 3), np.uint8)).blank  # a lone pixel is all paper: nothing to read


dtypes = st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_])
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(dtypes, shapes, elements=None))
def test_prepare_never_raises_on_any_array(array):
    steps = prepare(array)
    assert steps.image.shape == (FIELD, FIELD)
    assert np.isfinite(steps.image).all() and steps.image.min() >= 0 and steps.image.max() <= 1
    assert steps.blank == (steps.message is not None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["background", "layers", "composite"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                 hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=12)),
                                 st.lists(st.one_of(st.none(), hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=3, max_side=12))), max_size=3))))
def test_prepare_never_raises_on_any_editor_dict(value):
    steps = prepare(value)
    assert steps.image.shape == (FIELD, FIELD)


# ---- pictures far too large: refused from the header -------------------------------------------


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    """A decompression bomb: 12,000 x 12,000 transparent pixels in about 548 KiB."""
    return transparent_png(tmp_path_factory.mktemp("hostile") / "huge.png", 12_000)


def _median_seconds(call, times: int = 5) -> float:
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


@pytest.mark.parametrize("form", ["path", "file dict", "bytes", "editor layer", "editor composite", "editor blobs", "lazy PIL"])
def test_a_huge_picture_is_refused_from_its_header_at_once(huge_png, form):
    source = {
        "path": lambda: str(huge_png),
        "file dict": lambda: {"path": str(huge_png), "meta": {"_type": "gradio.FileData"}},
        "bytes": lambda: huge_png.read_bytes(),
        "editor layer": lambda: {"background": None, "layers": [str(huge_png)], "composite": None},
        "editor composite": lambda: {"background": str(huge_png), "layers": [], "composite": str(huge_png)},
        "editor blobs": lambda: {"background": None, "layers": [huge_png.read_bytes()], "composite": None},
        "lazy PIL": lambda: Image.open(huge_png),
    }[form]
    steps = prepare(source())
    assert steps.blank and steps.reason == "serving.too_large", steps.message
    assert "12000 x 12000" in steps.message
    seconds = _median_seconds(lambda: prepare(source()))
    print(f"{form}: refused in {seconds * 1e3:.1f} ms (median of 5; decoding it took ~10 s)")
    assert seconds < 0.25  # well under 50 ms on an idle machine; generous for a shared one


def test_a_picture_past_pils_own_bomb_limit_is_refused_not_raised(tmp_path):
    steps = prepare(str(header_only_png(tmp_path / "bomb.png", 20_000)))  # 400 MP: PIL itself raises
    assert steps.reason == "serving.too_large" and "400,000,000" in steps.message


def test_the_canvas_limit_is_tighter_than_the_upload_limit(tmp_path):
    side = MAX_CANVAS_SIDE + 1  # larger than any canvas, yet a fine photo
    picture = transparent_png(tmp_path / "big.png", side)
    assert prepare({"background": None, "layers": [str(picture)], "composite": None}).reason == "serving.too_large"
    assert prepare(str(picture)).reason == "serving.blank"  # read (it is empty), not refused
    assert prepare(str(header_only_png(tmp_path / "over.png", MAX_UPLOAD_SIDE + 1))).reason == "serving.too_large"


def test_a_phone_photo_is_read_upright_and_cheaply(tmp_path):
    """A 12 MP JPEG taken sideways (EXIF orientation 6): decoded at a reduced scale, turned upright."""
    pixels = np.full((3000, 4000, 3), 235, np.uint8)
    pixels[500:2500, 1900:2100] = 20  # a dark bar, upright as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show it rotated by 90 degrees
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, quality=90, exif=exif.tobytes())
    steps = prepare(str(path))
    assert steps.aspect > 5  # the bar lies across once turned upright
    assert max(steps.ink.shape) <= MAX_SIDE
    seconds = _median_seconds(lambda: prepare(str(path)), times=3)
    print(f"12 MP photo read in {seconds * 1e3:.0f} ms (median of 3)")
    assert seconds < 3.0


def test_what_a_browser_or_api_client_hands_over_undecoded_is_read(tmp_path):
    layer = layer_with_bar()
    encoded = io.BytesIO()
    Image.fromarray(layer).save(encoded, "PNG")
    path = tmp_path / "layer.png"
    path.write_bytes(encoded.getvalue())
    expected = prepare(sketchpad_value(layer)).image
    for value in ({"background": None, "layers": [encoded.getvalue()], "composite": None},  # a browser's blobs
                  {"background": None, "layers": [str(path)], "composite": None},  # an API client's upload
                  {"path": str(path)},  # an upload, as Gradio's file dict
                  {"path": None, "url": "data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode()}):
        np.testing.assert_allclose(prepare(value).image, expected, atol=1e-6)
    assert prepare({"path": None, "url": "https://example.com/x.png"}).reason == "serving.no_image"  # never fetched


def test_every_reason_has_words_in_every_language():
    for path in sorted((ROOT / "locales").glob("*.json")):
        strings = json.loads(path.read_text(encoding="utf-8"))
        assert set(REASONS) <= set(strings), f"{path.name} lacks {set(REASONS) - set(strings)}"


def test_the_draw_tabs_sketchpad_hands_over_paths_and_blobs_undecoded(tmp_path, huge_png):
    """tabs/raw_pictures.Sketchpad: an API client's files arrive as paths, a browser's blobs as
    bytes, both read here; the huge picture is refused either way; waiting blobs are bounded."""
    from gradio.components.image_editor import AcceptBlobs, EditorData
    from gradio.data_classes import FileData

    from tabs.draw import raw_pictures

    layer = io.BytesIO()
    Image.fromarray(layer_with_bar()).save(layer, "PNG")
    path = tmp_path / "layer.png"
    path.write_bytes(layer.getvalue())
    expected = prepare(sketchpad_value(layer_with_bar())).image
    pad = raw_pictures.Sketchpad()
    assert pad.get_block_name() == "imageeditor"
    value = pad.preprocess(EditorData(background=None, layers=[FileData(path=str(path))], composite=None))
    assert value["layers"] == [str(path)]
    np.testing.assert_allclose(prepare(value).image, expected, atol=1e-6)

    def send_blob(blob_id, data):  # as the composite: Gradio 6.31's accept_blobs drops a layer at index 0
        pad.accept_blobs(AcceptBlobs(data={"type": "composite", "index": None, "id": blob_id, "file": b""}, files=[("file", data)]))

    send_blob("stroke", layer.getvalue())
    value = pad.preprocess(EditorData(id="stroke"))
    np.testing.assert_allclose(prepare(value).image, expected, atol=1e-6)
    assert "stroke" not in pad.blob_storage
    send_blob("hostile", huge_png.read_bytes())
    assert prepare(pad.preprocess(EditorData(id="hostile"))).reason == "serving.too_large"
    for n in range(raw_pictures.MAX_WAITING_BLOBS + 10):  # events that never came for them
        send_blob(f"dropped-{n}", b"png")
    assert len(pad.blob_storage) == raw_pictures.MAX_WAITING_BLOBS
