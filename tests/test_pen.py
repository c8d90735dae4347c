"""inference/pen.py: a picture's pen measured and brought to MNIST's width, so that a small digit drawn
as a picture with a broad pen (the Sketchpad /classify takes) is read as the strokes path reads it:
the distance transform, the pen's measure, each case of the change, and the bound on a seeded set of
pictures at every height of the page, with junk still flagged."""
import numpy as np
import pytest

from inference import pen
from inference.classifier import judge, probabilities
from inference.pen import HIGH, LOW, WIDTH_SHARE, WORK, distance_to, repen, pen_width
from inference.preprocess import prepare
from tests.draw_calibrate import PAGE_HEIGHTS, PICTURE_BOUNDS, SKETCHPAD_CANVAS, SKETCHPAD_PEN, picture_groups
from tests.draw_digits import _render_strokes, digit_strokes, junk


def test_the_distance_transform_is_exact():
    rng = np.random.default_rng(5)
    for _ in range(30):
        mask = rng.random(tuple(rng.integers(1, 24, size=2))) < rng.uniform(0.02, 0.8)
        if not mask.any():
            continue
        rows, cols = np.indices(mask.shape)
        points = np.argwhere(mask)
        brute = np.hypot(rows[..., None] - points[:, 0], cols[..., None] - points[:, 1]).min(axis=-1)
        np.testing.assert_allclose(distance_to(mask), brute, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("width", [4, 8, 16, 24])
def test_the_pen_is_measured_from_the_picture(width):
    """Digits drawn with a known pen: four times the mean depth of the ink is that pen."""
    rng = np.random.default_rng(width)
    measured = [pen_width(_render_strokes(digit_strokes(d, rng, 252, heights=(0.6, 0.6))[0], 252, width, (0, 0, 0))[..., 3] >= 128)
                for d in range(10)]
    assert np.allclose(np.array(measured) / width, 1.0, atol=0.1), np.round(np.array(measured) / width, 2)


def _bar(long: int, wide: int) -> np.ndarray:
    """An upright bar filling its crop, as a "1" is cropped."""
    return np.ones((long, wide), np.float32)


def _width(ink: np.ndarray) -> float:
    return float(ink[ink.shape[0] // 2].sum())


def test_a_bold_bar_is_thinned_to_the_band_and_a_hairline_thickened():
    for wide, bound in ((40, HIGH), (2, LOW)):
        strokes, box = repen(_bar(200, wide))
        scale = WORK / 200
        target = WIDTH_SHARE * (WORK - pen_width(np.pad(_bar(WORK, max(1, round(wide * scale))) > 0, 4)))
        assert max(strokes.shape) - WORK == pytest.approx(_width(strokes) - wide * scale, abs=2)  # the ends move as the edges do
        assert _width(strokes) == pytest.approx(bound * target, rel=0.15), (wide, _width(strokes), bound * target)
        centre = (box[1] + box[3]) / 2
        assert centre == pytest.approx(wide / 2, abs=1.5)  # the centre line stays where it was
        if bound == HIGH:
            assert 0 < box[1] and box[3] < wide  # the edges moved in
        else:
            assert box[1] < 0 and box[3] > wide  # and out


def test_pens_that_need_no_change_and_ink_that_is_not_strokes_are_left_as_they_are():
    within = _bar(100, 13)  # its pen is about WIDTH_SHARE of its centre line
    filled = _bar(100, 100)  # a canvas coloured in: no pen to speak of
    mnist_sized = _bar(20, 8)  # an MNIST digit's crop: its pen is too few pixels to measure to the band
    for cropped in (within, filled, mnist_sized):
        strokes, box = repen(cropped)
        assert strokes is cropped and box == (0, 0, *cropped.shape)


def test_whatever_the_pen_and_size_the_strokes_never_vanish():
    rng = np.random.default_rng(9)
    for _ in range(40):
        canvas = int(rng.choice([60, 252, 400]))
        strokes, _ = digit_strokes(int(rng.integers(10)), rng, canvas, heights=(0.1, 0.95))
        layer = _render_strokes(strokes, canvas, rng.uniform(1, 0.25 * canvas), (0, 0, 0))
        alpha = layer[..., 3].astype(np.float32) / 255
        rows, cols = np.flatnonzero(alpha.max(axis=1) > 0), np.flatnonzero(alpha.max(axis=0) > 0)
        cropped = alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        ink, (top, left, bottom, right) = repen(cropped)
        assert ink.max() > 0.5 and bottom > top and right > left


def test_the_box_follows_the_thinned_strokes():
    """A bold digit's box shrinks by the shaved edge, so the rule's shape features see the ink read."""
    rng = np.random.default_rng(4)
    strokes, _ = digit_strokes(7, rng, SKETCHPAD_CANVAS, heights=(0.3, 0.3))
    layer = _render_strokes(strokes, SKETCHPAD_CANVAS, 1.5 * SKETCHPAD_PEN, (0, 0, 0))
    value = {"background": None, "layers": [layer], "composite": None}
    steps = prepare(value)
    alpha = layer[..., 3] >= 26
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    assert rows[0] < steps.box[0] and steps.box[2] < rows[-1] + 1
    assert cols[0] < steps.box[1] and steps.box[3] < cols[-1] + 1


def _flagged(values) -> np.ndarray:
    steps = [prepare(v) for v in values]
    readable = [s for s in steps if not s.blank]
    probs = iter(probabilities(np.stack([s.image for s in readable]))) if readable else iter(())
    return np.array([judge(s, None if s.blank else next(probs))[0] for s in steps])


@pytest.mark.slow
def test_clear_digits_drawn_as_pictures_are_flagged_within_the_bound_at_every_height():
    """tests/draw_calibrate.py's picture groups, differently seeded: at most PICTURE_BOUNDS[0] flagged
    not sure at any height and PICTURE_BOUNDS[1] in all (with the pen left as drawn, 8 of these 100
    at 30% were flagged, 1.8% of all 500; with it brought to MNIST's, 1 and 0.4%)."""
    groups = picture_groups(100, seed=3)
    rates = {name: float(_flagged([v for v, _ in items]).mean()) for name, items in groups.items()}
    whole = float(np.mean(list(rates.values())))
    print(f"\npictures ({SKETCHPAD_PEN} px pen on {SKETCHPAD_CANVAS} px), flagged not sure: "
          + ", ".join(f"{name}: {rate:.0%}" for name, rate in rates.items()) + f"; in all {whole:.1%}")
    assert len(rates) == len(PAGE_HEIGHTS)
    assert max(rates.values()) <= PICTURE_BOUNDS[0], rates
    assert whole <= PICTURE_BOUNDS[1], whole


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dot", "two digits", "noise", "full"])
def test_junk_drawn_as_pictures_is_still_flagged(kind):
    rng = np.random.default_rng(12)
    flagged = _flagged([junk(kind, rng) for _ in range(30)])
    assert flagged.mean() >= 0.9, f"{kind}: {flagged.mean():.0%} flagged"


def test_the_width_is_the_strokes_paths():
    from inference import strokes

    assert pen.WIDTH_SHARE == strokes.WIDTH_SHARE
