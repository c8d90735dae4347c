"""One writer's handwriting, made from a font: each digit's glyph thinned to its centre line (the
path a pen would take), then drawn again and again as the Draw tab's canvas sends strokes, with the
small differences one person's drawings have (size, place, a slant about the writer's own, a little
tilt and wobble, any of the page's pens), and read into the 28x28 the CNN sees by the page's own
strokes path (inference/strokes.py). The font fixes the writer's shapes, as a person's habits do;
the draws vary them as a person's hand does. Numpy and Pillow only.

    images, labels = handwriting.digits(per_digit=50, seed=0)
"""
import functools
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inference import strokes as page_strokes

# A font the shipped CNN never trained on (it learned typed digits from matplotlib's DejaVu, STIX and
# Computer Modern: training/fonts.py), drawn as a pen would: a plain hand whose 1 has a long flag, as
# many people write it, and which the shipped CNN reads as a 7 (the Liberation fonts' centre lines it
# read all but perfectly: a writer it already reads leaves fine-tuning nothing to show). The browser
# tests' Chinese font, which .ci/run installs (fonts-wqy-microhei).
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
GLYPH_HEIGHT = 72  # pixels the glyph is thinned at: fine enough for its curves, few points a stroke
CANVAS = 280  # the page's canvas units
PENS = (10, 18, 28)  # the pens the page offers, in canvas units
SLANT, SLANT_SPREAD = 0.12, 0.05  # this writer leans right a little, about the same each time


def thinned(mask: np.ndarray) -> np.ndarray:
    """Zhang and Suen's thinning: a one-pixel-wide centre line of a boolean mask, its shape kept."""
    skeleton = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for first in (True, False):
            p = skeleton
            # neighbours P2..P9, clockwise from above
            n = [np.roll(p, shift, (0, 1)) for shift in ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))]
            count = sum(x.astype(np.int8) for x in n)
            turns = sum((~a & b).astype(np.int8) for a, b in zip(n, n[1:] + n[:1]))
            if first:
                side = ~(n[0] & n[2] & n[4]) & ~(n[2] & n[4] & n[6])
            else:
                side = ~(n[0] & n[2] & n[6]) & ~(n[0] & n[4] & n[6])
            remove = p & (count >= 2) & (count <= 6) & (turns == 1) & side
            if remove.any():
                skeleton = p & ~remove
                changed = True
        if not changed:
            return skeleton[1:-1, 1:-1]


def traced(skeleton: np.ndarray) -> list[list[tuple[float, float]]]:
    """The centre line as pen strokes: polylines (x, y) through neighbouring pixels, each
    neighbour link used once, as few strokes as a greedy walk finds."""
    points = {(int(r), int(c)) for r, c in zip(*np.nonzero(skeleton))}
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]
    links = {p: {(p[0] + dr, p[1] + dc) for dr, dc in steps if (p[0] + dr, p[1] + dc) in points} for p in points}
    used = set()

    def walk(start):
        path, here = [start], start
        while True:
            ahead = sorted(q for q in links[here] if frozenset((here, q)) not in used)
            if not ahead:
                return path
            # straight on where it can: a 4-neighbour before a diagonal keeps the line smooth
            here_next = min(ahead, key=lambda q: abs(q[0] - here[0]) + abs(q[1] - here[1]))
            used.add(frozenset((here, here_next)))
            path.append(here_next)
            here = here_next

    order = sorted(points, key=lambda p: (len(links[p]) % 2 == 0, p))  # line ends first
    lines = []
    for start in order:
        while any(frozenset((start, q)) not in used for q in links[start]):
            lines.append(walk(start))
    lines += [[p] for p in points if not links[p]]
    return [[(c, r) for r, c in line] for line in lines]


@functools.lru_cache(maxsize=None)
def centre_line(digit: int, font: Path = FONT) -> tuple:
    """The digit's centre line in the font, as strokes in a box 1 unit tall (x, y down), y from 0."""
    face = ImageFont.truetype(str(font), GLYPH_HEIGHT * 2)
    sheet = Image.new("L", (GLYPH_HEIGHT * 4, GLYPH_HEIGHT * 4))
    ImageDraw.Draw(sheet).text((GLYPH_HEIGHT, GLYPH_HEIGHT // 2), str(digit), fill=255, font=face)
    glyph = sheet.crop(sheet.getbbox())
    scale = GLYPH_HEIGHT / glyph.height
    glyph = glyph.resize((max(1, round(glyph.width * scale)), GLYPH_HEIGHT), Image.Resampling.LANCZOS)
    lines = traced(thinned(np.asarray(glyph) > 127))
    return tuple(tuple((x / GLYPH_HEIGHT, y / GLYPH_HEIGHT) for x, y in line) for line in lines)


def drawing(digit: int, rng: np.random.Generator, font: Path = FONT) -> str:
    """One drawing of the digit by this writer, as the page's canvas sends it (its JSON)."""
    height = rng.uniform(0.45, 0.85) * CANVAS
    slant = rng.normal(SLANT, SLANT_SPREAD)
    tilt = math.radians(rng.normal(0, 3))
    squeeze = rng.uniform(0.9, 1.1)
    wobble = rng.normal(0, 0.01, size=2)
    lines = [np.asarray(line, float) - 0.5 for line in centre_line(digit, font)]
    drawn = []
    for line in lines:
        bend = np.sin(np.linspace(0, math.pi * rng.uniform(1, 2), len(line)))[:, None]
        x, y = (line[:, 0] - slant * line[:, 1]) * squeeze, line[:, 1]
        x, y = x * math.cos(tilt) - y * math.sin(tilt), x * math.sin(tilt) + y * math.cos(tilt)
        drawn.append((np.stack([x, y], 1) + wobble * bend) * height)
    every = np.concatenate(drawn)
    low, high = every.min(0), every.max(0)
    shift = -low + rng.random(2) * np.maximum(0.0, CANVAS - (high - low))
    strokes = [[round(float(v), 1) for point in np.clip(line + shift, 0, CANVAS) for v in point] for line in drawn]
    return json.dumps({"size": CANVAS, "pen": int(rng.choice(PENS)), "up": True, "strokes": strokes})


def digits(per_digit: int, seed: int = 0, font: Path = FONT) -> tuple[np.ndarray, np.ndarray]:
    """`per_digit` drawings of each digit, as the CNN sees them: images float32 [N,28,28] in [0,1]
    and labels int64 [N], digit by digit; the same seed, the same drawings."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.int64), per_digit)
    images = np.stack([page_strokes.prepare_strokes(drawing(int(d), rng, font)).image for d in labels])
    return images.astype(np.float32), labels
