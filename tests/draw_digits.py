"""Test data for the Draw tab, made here so tests need no downloads: digits drawn as pen strokes
(rendered as the Sketchpad sends them: a transparent layer with coloured, anti-aliased strokes),
digits typed in ordinary fonts, and the junk a visitor scribbles instead of a digit.

Everything is seeded: the same seed gives the same set on every machine.
"""
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# ---- stroke templates: each digit as pen strokes in a box 0.6 wide and 1.0 tall (y down) ------


def arc(cx, cy, rx, ry, start_deg, end_deg, n=24):
    """Points along an ellipse from start to end angle (degrees, 0 = right, 90 = down)."""
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def bezier(*controls, n=24):
    """Points along the Bezier curve with these control points (de Casteljau)."""
    t = np.linspace(0, 1, n)[:, None]
    points = [np.asarray(c, float) for c in controls]
    while len(points) > 1:
        points = [(1 - t) * a + t * b for a, b in zip(points[:-1], points[1:])]
    return [tuple(p) for p in points[0]]


def _figure_eight(n=60):
    """One stroke, as most people write an 8: up the right of the top loop, down through the waist."""
    t = np.linspace(-math.pi / 2, 3 * math.pi / 2, n)
    return [(0.3 + 0.27 * math.sin(2 * a), 0.5 - 0.48 * math.sin(a)) for a in t]


TEMPLATES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [
        [arc(0.3, 0.5, 0.28, 0.48, -90, 270)],
        [arc(0.3, 0.5, 0.26, 0.49, -70, 300)],  # overshoots its start, as people do
    ],
    1: [
        [[(0.3, 0.0), (0.3, 1.0)]],
        [[(0.12, 0.22), (0.33, 0.0), (0.33, 1.0)]],  # with a flag
        [[(0.12, 0.22), (0.33, 0.0), (0.33, 1.0)], [(0.1, 1.0), (0.55, 1.0)]],  # flag and foot
    ],
    2: [
        [arc(0.3, 0.27, 0.26, 0.25, 200, 360) + bezier((0.56, 0.27), (0.5, 0.55), (0.02, 1.0)) + [(0.6, 1.0)]],
        [bezier((0.04, 0.2), (0.3, -0.1), (0.62, 0.15), (0.45, 0.5), (0.0, 1.0)) + bezier((0.0, 1.0), (0.3, 0.9), (0.6, 1.0))],
    ],
    3: [
        [arc(0.28, 0.26, 0.25, 0.24, 200, 450) + arc(0.28, 0.74, 0.28, 0.25, -90, 150)],
        [[(0.03, 0.0), (0.55, 0.0), (0.22, 0.42)] + arc(0.28, 0.7, 0.29, 0.29, -100, 150)],  # flat top
    ],
    4: [
        [[(0.42, 0.0), (0.0, 0.66), (0.6, 0.66)], [(0.46, 0.3), (0.46, 1.0)]],
        [[(0.05, 0.0), (0.03, 0.55), (0.6, 0.55)], [(0.47, 0.02), (0.47, 1.0)]],  # open top
    ],
    5: [
        [[(0.56, 0.0), (0.1, 0.0), (0.06, 0.43)] + arc(0.3, 0.68, 0.28, 0.3, -125, 150)],
        [[(0.1, 0.0), (0.06, 0.43)] + arc(0.3, 0.68, 0.28, 0.3, -125, 145), [(0.1, 0.0), (0.58, 0.0)]],  # bar apart
    ],
    6: [
        [bezier((0.5, 0.0), (0.1, 0.2), (0.0, 0.7)) + arc(0.3, 0.72, 0.28, 0.27, 180, 540)],
        [bezier((0.55, 0.02), (0.05, 0.25), (0.05, 0.75)) + arc(0.31, 0.74, 0.26, 0.25, 170, 520)],
    ],
    7: [
        [[(0.0, 0.0), (0.6, 0.0), (0.2, 1.0)]],
        [[(0.0, 0.0), (0.6, 0.0), (0.22, 1.0)], [(0.15, 0.5), (0.55, 0.5)]],  # crossed
        [[(0.0, 0.08), (0.6, 0.0)] + bezier((0.6, 0.0), (0.35, 0.45), (0.3, 1.0))],
    ],
    8: [
        [_figure_eight()],
        [arc(0.3, 0.25, 0.22, 0.24, 0, 360), arc(0.3, 0.74, 0.28, 0.26, -90, 270)],  # two loops
    ],
    9: [
        [arc(0.3, 0.28, 0.27, 0.27, 0, 360) + [(0.57, 0.28), (0.52, 1.0)]],
        [arc(0.3, 0.27, 0.26, 0.26, -10, 350) + bezier((0.56, 0.25), (0.6, 0.7), (0.25, 1.0))],
    ],
}

PEN_COLOURS = [(0, 0, 0), (255, 255, 255), (204, 50, 50), (50, 112, 204), (30, 30, 30)]


def _render_strokes(strokes, canvas: int, pen: float, colour, supersample: int = 2) -> np.ndarray:
    """Strokes in canvas pixels -> an RGBA layer (transparent, anti-aliased, round caps and joins).

    Drawn as a mask at `supersample` times the size and box-averaged down; each block's share of
    ink then looked up in what Pillow's RGBA reduce makes of that many pixels of `colour`: the same
    layer, bit for bit, as drawing in RGBA and reducing that (ImageDraw paints whole pixels of one
    colour, so a block's result depends only on how many it painted), in a third of the time."""
    big = canvas * supersample
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    width = max(1, round(pen * supersample))
    for stroke in strokes:
        points = [(x * supersample, y * supersample) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=width, joint="curve")
        radius = width / 2
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    levels = np.asarray(mask.reduce(supersample))
    inked = np.nonzero(levels)  # a digit covers a small part of the canvas: the rest stays (0, 0, 0, 0)
    pixels = np.zeros((canvas, canvas), np.uint32)  # one RGBA pixel a uint32
    pixels[inked] = _reduced_pixels(tuple(colour), supersample).view(np.uint32)[levels[inked], 0]
    return pixels.view(np.uint8).reshape(canvas, canvas, 4)


_REDUCED: dict[tuple, np.ndarray] = {}


def _reduced_pixels(colour: tuple, supersample: int) -> np.ndarray:
    """[256, 4]: for each level a mask's reduce gives a block with n ink pixels (n = 0 to
    supersample**2), what Pillow's RGBA reduce gives a block with n opaque pixels of `colour` and
    the rest transparent."""
    key = (colour, supersample)
    if key not in _REDUCED:
        blocks = supersample * supersample + 1
        mask = np.zeros((supersample, supersample * blocks), np.uint8)
        strip = np.zeros((supersample, supersample * blocks, 4), np.uint8)
        for n in range(blocks):
            painted = np.arange(supersample * supersample).reshape(supersample, supersample) < n
            mask[:, n * supersample:(n + 1) * supersample] = painted * 255
            strip[:, n * supersample:(n + 1) * supersample][painted] = (*colour, 255)
        levels = np.asarray(Image.fromarray(mask, "L").reduce(supersample))[0]
        pixels = np.asarray(Image.fromarray(strip, "RGBA").reduce(supersample))[0]
        if len(set(levels.tolist())) != blocks:  # each count of ink pixels must have its own level
            raise RuntimeError(f"Pillow's reduce merges ink counts: {levels}")
        table = np.zeros((256, 4), np.uint8)
        table[levels] = pixels
        _REDUCED[key] = table
    return _REDUCED[key]


def sketchpad_value(layer: np.ndarray, background: str = "white") -> dict:
    """What the Sketchpad sends: an opaque background, the stroke layer, and their composite
    (alpha-blended in float32; blended only where the layer has ink, since elsewhere the blend gives
    exactly the background's colour, and where it is opaque exactly the layer's)."""
    side = layer.shape[:2]
    shade = {"white": 255, "dark": 32}[background]
    back = np.full(side, np.frombuffer(bytes((shade, shade, shade, 255)), np.uint32)[0]).view(np.uint8).reshape(*side, 4)
    composite = back.copy()
    inked = np.nonzero(layer[..., 3])
    ink, paper = layer[inked], back[inked]  # [k, 4] each
    alpha = ink[:, 3:4].astype(np.float32) / 255
    blended = (ink[:, :3] * alpha + paper[:, :3] * (1 - alpha)).astype(np.uint8)
    opaque = ink[:, 3] == 255
    blended[opaque] = ink[opaque, :3]
    composite[inked[0], inked[1], :3] = blended
    return {"background": back, "layers": [layer], "composite": composite}


def digit_strokes(digit: int, rng: np.random.Generator, canvas: int, heights=(0.3, 0.92)):
    """One digit's strokes as a person might draw it, in canvas pixels: any template, size (a
    fraction of the canvas in `heights`), place, slant, tilt and wobble. Returns (strokes, pen)."""
    strokes = TEMPLATES[digit][rng.integers(len(TEMPLATES[digit]))]
    height = rng.uniform(*heights) * canvas
    squeeze = rng.uniform(0.75, 1.3)  # narrow or wide hands
    slant = rng.uniform(-0.35, 0.25)  # most people lean right (negative shear here)
    tilt = math.radians(rng.uniform(-12, 12))
    wobble = rng.normal(0, 0.015, size=2)
    transformed = []
    for stroke in strokes:
        points = np.asarray(stroke, float) - (0.3, 0.5)
        points = points + rng.normal(0, 0.012, size=points.shape) * (len(points) < 10)  # shaky corners
        points = points + wobble * np.sin(np.linspace(0, math.pi * rng.uniform(1, 3), len(points)))[:, None]
        x = points[:, 0] * squeeze - slant * points[:, 1]
        y = points[:, 1]
        x, y = x * math.cos(tilt) - y * math.sin(tilt), x * math.sin(tilt) + y * math.cos(tilt)
        transformed.append(np.stack([x, y], 1) * height)
    every = np.concatenate(transformed)
    pen = rng.uniform(0.022, 0.09) * canvas
    low, high = every.min(0) - pen, every.max(0) + pen
    span = high - low
    if (span > canvas).any():  # too big for the canvas: shrink it to fit
        shrink = canvas / span.max()
        transformed = [s * shrink for s in transformed]
        low, high, pen = low * shrink, high * shrink, pen * shrink
    shift = -low + rng.random(2) * np.maximum(0.0, canvas - (high - low))  # anywhere it fits
    return [[tuple(p) for p in s + shift] for s in transformed], pen


def drawn_digit(digit: int, rng: np.random.Generator, canvas: int | None = None):
    """One digit as a person might draw it (digit_strokes), rendered as the Sketchpad sends it with
    any pen width and colour, on light or dark paper."""
    canvas = canvas or int(rng.choice([200, 280, 400, 800]))
    strokes_px, pen = digit_strokes(digit, rng, canvas)
    colour = PEN_COLOURS[rng.integers(len(PEN_COLOURS))]
    return sketchpad_value(_render_strokes(strokes_px, canvas, pen, colour), "dark" if colour == (255, 255, 255) else "white")


# ---- the Draw tab's own canvas: strokes as the page sends them ---------------------------------

PAGE_CANVAS = 280  # the page's canvas units (tabs/draw/canvas.py); the same on a phone's smaller box
PAGE_PENS = (10, 18, 28)  # the pens the page offers, in canvas units (tabs/draw/canvas.py)


def strokes_value(strokes, pen: float = PAGE_PENS[1], size: int = PAGE_CANVAS, box: int | None = None) -> str:
    """Strokes in canvas units -> the JSON the page sends. `box`: the canvas's side on screen in
    CSS pixels; the pointer lands on whole screen pixels, so on a small box (a phone) the points
    are coarser, and the page keeps a point only once the pen moved 2 units (as canvas.js does)."""
    import json

    out = []
    for stroke in strokes:
        points = np.asarray(stroke, float)
        if box:
            step = size / box
            points = np.round(points / step) * step
        kept = [points[0]]
        for p in points[1:]:
            if np.hypot(*(p - kept[-1])) >= 2:
                kept.append(p)
        if len(points) > 1 and len(kept) == 1:
            kept.append(points[-1])
        out.append([round(float(v), 1) for p in kept for v in p])
    return json.dumps({"size": size, "pen": pen, "up": True, "strokes": out})


def _dense(stroke, spacing: float = 1.5):
    """A stroke resampled every `spacing` units, as a pointer reports a moving pen."""
    points = np.asarray(stroke, float)
    out = [points[0]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.hypot(*(b - a)) / spacing))
        out += [a + (b - a) * t for t in np.linspace(0, 1, n + 1)[1:]]
    return [tuple(p) for p in out]


def page_digit(digit: int, rng: np.random.Generator, height: float, pen: float = PAGE_PENS[1], box: int | None = None) -> str:
    """A digit drawn on the page's canvas at `height` (a fraction of the canvas), as the page sends it."""
    strokes, _ = digit_strokes(digit, rng, PAGE_CANVAS, heights=(height, height))
    return strokes_value([_dense(s) for s in strokes], pen, box=box)


def page_junk(kind: str, rng: np.random.Generator, pen: float = PAGE_PENS[1], box: int | None = None) -> str:
    """What a visitor draws on the page that is not one digit, as the page sends it."""
    c = PAGE_CANVAS
    if kind == "blank":
        return strokes_value([], pen)
    if kind == "dot":
        x, y = rng.uniform(10, c - 10, size=2)
        return strokes_value([[(x, y)]] if rng.random() < 0.5 else [[(x, y), (x + rng.uniform(0, 4), y + rng.uniform(0, 4))]], pen, box=box)
    if kind == "scribble":
        size = rng.uniform(0.3, 0.85) * c
        corner = rng.uniform(0, c - size, size=2)
        anchors = corner + rng.random((int(rng.integers(6, 16)), 2)) * size
        points = [p for a, b, d in zip(anchors[:-2], anchors[1:-1], anchors[2:]) for p in bezier((a + b) / 2, b, (b + d) / 2, n=12)]
        return strokes_value([_dense(points)], pen, box=box)
    if kind == "two digits":
        half = c // 2
        left, right = (int(d) for d in rng.integers(0, 10, size=2))
        a, _ = digit_strokes(left, rng, half, heights=(0.6, 0.92))
        b, _ = digit_strokes(right, rng, half, heights=(0.6, 0.92))
        strokes = [[(x, y + c / 4) for x, y in s] for s in a] + [[(x + half, y + c / 4) for x, y in s] for s in b]
        return strokes_value([_dense(s) for s in strokes], pen, box=box)
    if kind == "noise":  # dabs and short flicks all over
        strokes = []
        for _ in range(int(rng.integers(30, 120))):
            x, y = rng.uniform(0, c, size=2)
            dx, dy = rng.normal(0, 6, size=2)
            strokes.append([(x, y), (x + dx, y + dy)])
        return strokes_value(strokes, pen, box=box)
    if kind == "full":  # the canvas coloured in: back and forth from edge to edge
        rows = np.arange(rng.uniform(0, 12), c, rng.uniform(6, 14))
        zigzag = [(0.0 if k % 2 == 0 else c, y) for k, y in enumerate(rows)]
        return strokes_value([_dense(zigzag, 4)], pen, box=box)
    raise ValueError(kind)


# ---- typed digits ------------------------------------------------------------------------------

# Symbol and math fonts hold other glyphs or old-style figures where the digits should be.
_NOT_TEXT_FONTS = ("STIXNonUni", "STIXSiz", "cmex", "cmsy", "cmmi", "LastResort", "MathTeX")
# The CNN trains on digits typed in matplotlib's fonts (training/fonts.py): these families, in any
# cut, are left out, so the typed figure is on typefaces it has never seen.
TRAINED_FAMILIES = ("DejaVu", "STIX", "cm")


def font_paths() -> list[Path]:
    """Ordinary text fonts with all ten digits under /usr/share/fonts (Debian's Liberation fonts,
    the metric twins of Arial, Times and Courier, come with Chromium), one file per name, none of
    a family the CNN trained on."""
    by_name = {}
    for path in sorted(Path("/usr/share/fonts").rglob("*")):
        if path.suffix.lower() in (".ttf", ".otf") and not path.name.startswith(_NOT_TEXT_FONTS + TRAINED_FAMILIES):
            by_name.setdefault(path.name, path)
    return [p for _, p in sorted(by_name.items()) if _has_digits(p)]


def _has_digits(path: Path) -> bool:
    """Some fonts (DejaVu's Display cuts) leave the digits out: they render nothing."""
    try:
        face = ImageFont.truetype(str(path), 32)
    except OSError:
        return False
    return all(face.getmask(str(d)).getbbox() is not None for d in range(10))


def typed_digit(digit: int, font: Path, rng: np.random.Generator, as_layer: bool = True):
    """The digit typed in `font` at some size and place; as a Sketchpad value (glyph coverage as the
    layer's alpha) or as an opaque RGB image (dark on light or light on dark), as an upload is."""
    canvas = int(rng.choice([200, 280, 400]))
    size = int(rng.uniform(0.3, 0.85) * canvas)
    face = ImageFont.truetype(str(font), size)
    coverage = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(coverage)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=face)
    x = rng.uniform(-left, max(-left + 1, canvas - right))
    y = rng.uniform(-top, max(-top + 1, canvas - bottom))
    draw.text((x, y), str(digit), fill=255, font=face)
    coverage = coverage.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR)
    alpha = np.asarray(coverage)
    if as_layer:
        layer = np.zeros((canvas, canvas, 4), np.uint8)
        layer[..., 3] = alpha
        return sketchpad_value(layer)
    ink, paper = (20, 20, 20), (250, 248, 240)
    if rng.random() < 0.3:
        ink, paper = paper, (15, 15, 25)
    a = alpha[..., None].astype(np.float32) / 255
    return (np.float32(ink) * a + np.float32(paper) * (1 - a)).astype(np.uint8)


# ---- junk: what a visitor draws that is not one digit -------------------------------------------


def junk(kind: str, rng: np.random.Generator, canvas: int = 280):
    if kind == "blank":
        return sketchpad_value(np.zeros((canvas, canvas, 4), np.uint8))
    if kind == "dot":
        r = rng.uniform(0.005, 0.025) * canvas
        cx, cy = rng.uniform(r, canvas - r, size=2)
        return sketchpad_value(_render_strokes([[(cx, cy), (cx + 0.5, cy)]], canvas, 2 * r, (0, 0, 0)))
    if kind == "scribble":  # a scrawl: a smooth line through random points in a region
        size = rng.uniform(0.3, 0.85) * canvas
        corner = rng.uniform(0, canvas - size, size=2)
        anchors = corner + rng.random((int(rng.integers(6, 16)), 2)) * size
        points = [p for a, b, c in zip(anchors[:-2], anchors[1:-1], anchors[2:]) for p in bezier((a + b) / 2, b, (b + c) / 2, n=12)]
        return sketchpad_value(_render_strokes([points], canvas, rng.uniform(0.02, 0.07) * canvas, (0, 0, 0)))
    if kind == "two digits":
        left, right = (int(d) for d in rng.integers(0, 10, size=2))
        half = canvas // 2
        a = drawn_digit(left, rng, canvas=half)["layers"][0]
        b = drawn_digit(right, rng, canvas=half)["layers"][0]
        layer = np.zeros((canvas, canvas, 4), np.uint8)
        top = canvas // 4
        layer[top : top + half, :half] = a
        layer[top : top + half, half : 2 * half] = np.maximum(layer[top : top + half, half : 2 * half], b)
        return sketchpad_value(layer)
    if kind == "noise":
        layer = np.zeros((canvas, canvas, 4), np.uint8)
        layer[..., 3] = (rng.random((canvas, canvas)) < rng.uniform(0.05, 0.6)) * 255
        return sketchpad_value(layer)
    if kind == "full":
        layer = np.zeros((canvas, canvas, 4), np.uint8)
        layer[..., 3] = 255
        return sketchpad_value(layer)
    raise ValueError(kind)


JUNK_KINDS = ("blank", "dot", "scribble", "two digits", "noise", "full")


def drawn_set(per_digit: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(drawn_digit(d, rng), d) for d in range(10) for _ in range(per_digit)]


def typed_set(per_digit: int, seed: int = 0, as_layer: bool = True):
    rng = np.random.default_rng(seed)
    fonts = font_paths()
    return [(typed_digit(d, fonts[rng.integers(len(fonts))], rng, as_layer), d) for d in range(10) for _ in range(per_digit)]


def junk_set(per_kind: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(junk(kind, rng), kind) for kind in JUNK_KINDS for _ in range(per_kind)]
