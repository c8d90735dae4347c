"""inference/strokes.py: the page's strokes -> the 28x28 the CNN reads. The JSON is checked and
bounded, the strokes are redrawn at a width in proportion to the digit (so any pen, any size reads
the same), digits drawn as the page draws them are read right and not doubted, junk is caught,
and nothing a client sends makes it raise."""
import json

import numpy as np
import pytest

from inference import strokes
from inference.classifier import read
from inference.preprocess import prepare
from inference.strokes import BadStrokes, parse, prepare_strokes, rasterise
from tests.draw_digits import JUNK_KINDS, PAGE_PENS, digit_strokes, page_digit, page_junk, sketchpad_value, _render_strokes


def test_parse_reads_the_pages_json_and_clips_to_the_canvas():
    size, lines, lifted = parse(json.dumps({"size": 280, "pen": 18, "up": False, "strokes": [[10, 20, 300, -5], [5, 5]]}))
    assert size == 280 and not lifted
    np.testing.assert_array_equal(lines[0], [[10, 20], [280, 0]])
    assert lines[1].shape == (1, 2)
    assert parse("") == (280.0, [], True) and parse(None) == (280.0, [], True)
    assert parse({"strokes": [[1, 2]]})[2]  # no "up" (an API client): a finished drawing


@pytest.mark.parametrize("value", [
    "{not json", "[1, 2]", json.dumps({"size": "big"}), json.dumps({"size": 1e9}), json.dumps({"strokes": [[1, 2, 3]]}),
    json.dumps({"strokes": [["a", "b"]]}), json.dumps({"strokes": [[1, True]]}), json.dumps({"strokes": "x"}),
    json.dumps({"strokes": [[0, 0]] * (strokes.MAX_STROKES + 1)}), json.dumps({"strokes": [[0, 0] * (strokes.MAX_POINTS + 1)]}),
    "[" * 100_000, "1e999", json.dumps({"strokes": [[float("nan"), 1]]}).replace("NaN", "1e999"),
    json.dumps({"size": 280, "strokes": [[0, 0, 280, 0] * (strokes.MAX_PATH // 2 + 1)]}),  # a path past MAX_PATH sides
])
def test_anything_else_is_refused_cleanly(value):
    with pytest.raises(BadStrokes):
        parse(value)
    steps = prepare_strokes(value)  # never raises
    assert steps.blank and steps.reason == "draw.reason.unreadable"
    reading, _ = read(steps)
    assert reading.not_sure and reading.reason == "draw.reason.unreadable"


def test_a_blank_canvas_is_blank():
    reading, _ = read(prepare_strokes(json.dumps({"size": 280, "strokes": []})))
    assert reading.reason == "blank" and reading.digit is None


def test_the_width_follows_the_digits_size_not_the_pen():
    """MNIST's strokes are about an eighth of the digit: a small digit gets a thin line, a big one a
    thick line, whatever pen drew it."""
    small = [np.array([[100.0, 100.0], [100.0, 160.0]])]
    big = [np.array([[100.0, 20.0], [100.0, 260.0]])]
    assert strokes.stroke_width(big) == pytest.approx(4 * strokes.stroke_width(small))
    ink_small, ink_big = rasterise(280, small), rasterise(280, big)
    assert ink_small.dtype == np.float32 and ink_small.shape == (280, 280) and 0 <= ink_small.min() and ink_small.max() <= 1
    width = lambda ink: (ink[140] > 0.5).sum()  # noqa: E731
    assert width(ink_big) > 3 * width(ink_small)
    thin, bold = (prepare_strokes(json.dumps({"size": 280, "pen": pen, "strokes": [[5, 5, 200, 250]]})) for pen in (PAGE_PENS[0], PAGE_PENS[-1]))
    np.testing.assert_array_equal(thin.image, bold.image)


def test_a_small_bold_five_keeps_its_holes():
    """A 5 at a third of the canvas drawn with a pen as wide as its bowls: from strokes it is
    redrawn at the digit's own width; from pixels its pen is measured and thinned to the same
    width (inference/pen.py), where before it read as a blob 7 times in 10."""
    rng = np.random.default_rng(3)
    fives = [digit_strokes(5, rng, 280, heights=(0.33, 0.33))[0] for _ in range(10)]
    from_strokes = [read(prepare_strokes(json.dumps({"size": 280, "strokes": [[v for p in s for v in p] for s in five]})))[0] for five in fives]
    from_pixels = [read(prepare(sketchpad_value(_render_strokes(five, 280, 28, (0, 0, 0)))))[0] for five in fives]
    right = lambda readings: sum(r.digit == 5 and not r.not_sure for r in readings)  # noqa: E731
    print(f"\nsmall fives, bold pen: {right(from_strokes)}/10 sure and right from strokes, {right(from_pixels)}/10 from pixels")
    assert right(from_strokes) >= 9
    assert right(from_pixels) >= 9


def test_page_digits_are_read_right_and_not_doubted_at_every_size_and_box():
    rng = np.random.default_rng(21)
    results = []
    for box in (None, 300):
        for height in (0.3, 0.6, 0.9):
            for digit in range(10):
                reading, _ = read(prepare_strokes(page_digit(digit, rng, height, box=box)), saliency=False)
                results.append((reading.digit == digit, reading.not_sure))
    right = np.mean([r for r, _ in results])
    doubted = np.mean([n for r, n in results if r])
    print(f"\npage digits: {right:.1%} read right, {doubted:.1%} of those flagged not sure (n={len(results)})")
    assert right >= 0.95 and doubted <= 0.05  # documented: 99.6% and 0.7% of 1,000


@pytest.mark.parametrize("kind", [k for k in JUNK_KINDS if k != "scribble"])
def test_junk_drawn_on_the_page_is_caught(kind):
    rng = np.random.default_rng(4)
    flagged = [read(prepare_strokes(page_junk(kind, rng)), saliency=False)[0].not_sure for _ in range(10)]
    assert all(flagged), kind


def test_most_scribbles_are_doubted():
    rng = np.random.default_rng(5)
    flagged = np.mean([read(prepare_strokes(page_junk("scribble", rng)), saliency=False)[0].not_sure for _ in range(50)])
    assert flagged >= 0.6  # documented: 82% of 100
