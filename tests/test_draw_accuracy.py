"""The Draw tab's accuracy on digits as visitors make them, through tabs.draw.tab.classify (the
function behind /classify): 1,000 drawn-stroke digits (any place, size, slant, tilt, wobble, pen
width and colour, light or dark paper) must be read right at least 98% of the time, and 500 digits
typed in ordinary fonts (tests/draw_digits.py) at least 95%, as sketches and as uploaded pictures.
The typed digits come from fonts the CNN never trained on (it learns matplotlib's; these are
Debian's Liberation fonts). The figures, per digit and with the commonest confusions, are printed
(run with -s) and saved to artifacts/draw_accuracy.json.
"""
import json
from collections import Counter

import numpy as np
import pytest

from tabs.draw.tab import classify
from tests.conftest import ARTIFACTS
from tests.draw_digits import PEN_COLOURS, _render_strokes, digit_strokes, drawn_set, font_paths, sketchpad_value, typed_set

pytestmark = pytest.mark.slow


def top_digit(value) -> int | None:
    label = classify(value)[0]
    return int(max(label, key=label.get)) if label else None


def score(name: str, items: list) -> float:
    predictions = [top_digit(value) for value, _ in items]
    truth = [digit for _, digit in items]
    right = np.array([p == t for p, t in zip(predictions, truth)])
    per_digit = {d: float(right[[t == d for t in truth]].mean()) for d in range(10)}
    confusions = Counter((t, p) for t, p in zip(truth, predictions) if t != p).most_common(6)
    accuracy = float(right.mean())
    print(f"\n{name}: {accuracy:.1%} of {len(items)} read right")
    print("  per digit: " + ", ".join(f"{d}: {a:.0%}" for d, a in per_digit.items()))
    print("  commonest misreadings (true -> read, count): " + ", ".join(f"{t}->{p} x{n}" for (t, p), n in confusions))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "draw_accuracy.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[name] = {"accuracy": accuracy, "n": len(items), "per_digit": per_digit,
                   "misreadings": [{"true": t, "read": p, "count": n} for (t, p), n in confusions]}
    path.write_text(json.dumps(saved, indent=2))
    return accuracy


def test_the_drawn_digits_are_pillows_rgba_strokes_box_averaged_and_blended():
    """tests/draw_digits.py draws a mask and looks each block's ink count up, and blends only where
    the layer is partly transparent: the layer must be, bit for bit, Pillow's own RGBA strokes
    reduced, and the composite the float32 blend of all of it, on any canvas, pen and colour."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    for digit, colour, canvas in zip(range(10), PEN_COLOURS * 2, (200, 280, 400, 800, 224) * 2):
        strokes, pen = digit_strokes(digit, rng, canvas)
        big = Image.new("RGBA", (canvas * 2, canvas * 2), (0, 0, 0, 0))
        draw, width = ImageDraw.Draw(big), max(1, round(pen * 2))
        for stroke in strokes:
            points = [(x * 2, y * 2) for x, y in stroke]
            if len(points) > 1:
                draw.line(points, fill=(*colour, 255), width=width, joint="curve")
            for x, y in (points[0], points[-1]):
                draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=(*colour, 255))
        layer = _render_strokes(strokes, canvas, pen, colour)
        np.testing.assert_array_equal(layer, np.asarray(big.reduce(2)))
        value = sketchpad_value(layer, ("white", "dark")[digit % 2])
        alpha = layer[..., 3:4].astype(np.float32) / 255
        blend = value["background"].astype(np.float32)
        blend[..., :3] = layer[..., :3] * alpha + value["background"][..., :3] * (1 - alpha)
        np.testing.assert_array_equal(value["composite"], blend.astype(np.uint8))


def test_drawn_digits_are_read_right_98_percent_of_the_time():
    accuracy = score("drawn", drawn_set(100, seed=2024))
    assert accuracy >= 0.98, f"drawn digits: {accuracy:.1%} read right (see artifacts/draw_accuracy.json)"


needs_fonts = pytest.mark.skipif(not font_paths(), reason="no fonts under /usr/share/fonts the CNN has not trained on (apt install fonts-liberation)")


@needs_fonts
def test_typed_digits_are_read_right_95_percent_of_the_time():
    accuracy = score("typed", typed_set(50, seed=2024))
    assert accuracy >= 0.95, f"typed digits: {accuracy:.1%} read right (see artifacts/draw_accuracy.json)"


@needs_fonts
def test_typed_digits_uploaded_as_pictures_95_percent():
    """The same fonts as opaque RGB uploads (dark on light or light on dark)."""
    accuracy = score("typed-upload", typed_set(30, seed=2025, as_layer=False))
    assert accuracy >= 0.95, f"typed uploads: {accuracy:.1%} read right (see artifacts/draw_accuracy.json)"
