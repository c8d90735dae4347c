"""Pen strokes from the Draw tab's canvas -> the 28x28 digit the CNN expects (numpy only; the resize in
inference/preprocess.py is Pillow's).

The page sends what the pen did, not pictures of it: a few hundred numbers, as JSON,

    {"size": 280, "pen": 16, "up": true, "strokes": [[x0, y0, x1, y1, ...], ...]}

in the canvas's own units (0..size, y down; the same on a phone's smaller box as on a desktop);
"up" is false while the pen is still moving (the reading then skips the saliency).
`pen` is the width the visitor saw; the reading does not use it. The strokes are redrawn here at a
width in proportion to the digit's own size, as MNIST's strokes are (its digits were written with
one pen and then scaled to a 20x20 box, so a stroke is about an eighth of the digit's size): a
small 5 drawn with a marker keeps its holes, a big one drawn with a hairline keeps its weight.
Then the same MNIST recipe as every other input (inference/preprocess.py): crop, fit in 20x20,
centre the mass in 28x28.

`prepare_strokes` never raises: anything else arrives as a blank Steps with a `reason` (a locale key) saying why.
"""
import json
import math
from dataclasses import dataclass

import numpy as np

from inference.preprocess import Steps, centre_by_mass, crop, fit_in_box, ink_box

RASTER = 280  # the strokes are redrawn on a RASTER x RASTER grid, whatever the canvas's size
SUPERSAMPLE = 2  # drawn at twice that and box-averaged down: anti-aliased edges, as MNIST's
WIDTH_SHARE = 0.13  # stroke width / the digit's larger side (measured: tests/draw_calibrate.py --widths)
MIN_WIDTH = 2.0  # raster pixels: a dot stays a dot (and too small to read), never nothing
BATCH_PIXELS = 1 << 15  # pixels tested per numpy step: few steps, each small enough for the cache
MAX_STROKES = 300  # bounds on what one request may cost; a digit uses 1-4 strokes, ~100 points
MAX_POINTS = 6000
# The pen's whole path, in canvas sides: a digit's is 1-4, a long scribble's tens. Rasterising costs
# about the path times the pen's width, so this bounds what one request may cost (~0.1 s of a core;
# 6,000 points flung across the canvas, 3,000 sides, took 2 s).
MAX_PATH = 100
MAX_CHARS = 200_000  # the JSON text itself


class BadStrokes(ValueError):
    """The value is not a drawing this endpoint reads."""


def parse(value) -> tuple[float, list[np.ndarray], bool]:
    """The page's JSON (or the same as a dict) -> (canvas size, strokes as float arrays [K,2],
    whether the pen is lifted). Points outside the canvas are clipped to its edge (the pen may
    leave it mid-stroke)."""
    if isinstance(value, (str, bytes)):
        if len(value) > MAX_CHARS:
            raise BadStrokes("too long")
        if not value.strip():
            return float(RASTER), [], True
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise BadStrokes("not JSON") from None
    if value is None:
        return float(RASTER), [], True
    if not isinstance(value, dict):
        raise BadStrokes("not a drawing")
    size = value.get("size", RASTER)
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or not 8 <= size <= 10_000:
        raise BadStrokes("bad size")
    raw = value.get("strokes") or []
    if not isinstance(raw, list) or len(raw) > MAX_STROKES:
        raise BadStrokes("bad strokes")
    strokes, total, path = [], 0, 0.0
    for stroke in raw:
        if not isinstance(stroke, list) or len(stroke) % 2:
            raise BadStrokes("a stroke is not x, y pairs")
        total += len(stroke) // 2
        if total > MAX_POINTS:
            raise BadStrokes("too many points")
        if not stroke:
            continue
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in stroke):
            raise BadStrokes("not numbers")
        points = np.asarray(stroke, np.float64).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise BadStrokes("not finite")
        strokes.append(np.clip(points, 0.0, float(size)))
        path += float(np.hypot(*np.diff(strokes[-1], axis=0).T).sum())
        if path > MAX_PATH * size:
            raise BadStrokes("too long a path")
    return float(size), strokes, value.get("up") is not False


def stroke_width(strokes: list[np.ndarray], scale: float = 1.0) -> float:
    """The width to redraw with, in raster pixels: WIDTH_SHARE of the drawing's larger side."""
    every = np.concatenate(strokes) * scale
    extent = float((every.max(axis=0) - every.min(axis=0)).max())
    return max(MIN_WIDTH, WIDTH_SHARE * extent)


def rasterise(size: float, strokes: list[np.ndarray], side: int = RASTER) -> np.ndarray:
    """Strokes -> ink [side, side] float32 in [0,1], round caps and joins, anti-aliased.

    The pen is a disc dragged along each segment (a capsule, so caps and joins are round by
    construction), on a grid SUPERSAMPLE times finer: a fine pixel (row i, column j; centre
    (j + 0.5, i + 0.5)) is ink when its centre lies within the pen's radius of any segment; each
    SUPERSAMPLE x SUPERSAMPLE block is then averaged. Points lie in 0..size, as `parse` clips them.
    Only IEEE double +, -, *, / and comparisons, one operation at a time in a fixed order (no sqrt,
    no trigonometry), so static/draw_prepare.js's rasterise, which does the same arithmetic in the
    same order, gives the same ink bit for bit."""
    if not strokes:
        return np.zeros((side, side), np.float32)
    big = side * SUPERSAMPLE
    scale = side / size
    width = stroke_width(strokes, scale) * SUPERSAMPLE
    half = width / 2
    r2 = half * half
    # Every segment a -> b (a one-point stroke is the segment a -> a), in fine pixels.
    points = [stroke * scale * SUPERSAMPLE for stroke in strokes]
    a = np.concatenate([p[:-1] if len(p) > 1 else p for p in points])
    b = np.concatenate([p[1:] if len(p) > 1 else p for p in points])
    # Which pixels to test: a long segment is cut into pieces about a pen wide, and each piece's box,
    # widened by the pen's radius and a margin, is tested against the whole segment (a pixel beyond
    # every box of its segment is never ink), so a long diagonal costs its length, not its box's area.
    pieces = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / (width + 4))).astype(np.int64)
    segment = np.repeat(np.arange(len(a)), pieces)
    k = np.arange(len(segment)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    share = (np.stack([k, k + 1], axis=1) / pieces[segment, None])[:, :, None]  # [job, 2, 1]
    ends = a[segment, None] + share * (b - a)[segment, None]  # [job, 2 ends, x y]
    low = np.floor(ends.min(axis=1) - half).astype(np.int64) - 2
    span = (np.ceil(ends.max(axis=1) + half).astype(np.int64) + 2 - low).max(axis=1)
    pad = math.ceil(half) + 3  # on a grid padded so that no box needs clipping
    grid = np.zeros((big + 2 * pad + int(span.max()),) * 2, bool)
    # Boxes of about the same size, a batch at a time, each tested on a box of the batch's largest
    # size: numpy's work in a few large steps rather than hundreds of small ones.
    order = np.argsort(span, kind="stable")
    batches = min(len(order), max(1, int(np.sum(span.astype(np.float64) ** 2)) // BATCH_PIXELS))
    for batch in np.array_split(order, batches):
        n = int(span[batch].max())
        which = segment[batch]
        ax, ay = a[which, 0, None, None], a[which, 1, None, None]
        dx, dy = b[which, 0, None, None] - ax, b[which, 1, None, None] - ay
        x0, y0 = low[batch, 0], low[batch, 1]
        x = (x0[:, None, None] + np.arange(n)) + 0.5  # pixel centres, [batch, 1, n] and [batch, n, 1]
        y = (y0[:, None, None] + np.arange(n)[:, None]) + 0.5
        length2 = dx * dx + dy * dy
        # t: where along the segment the pixel's nearest point is, clamped to [0, 1] (where a = b,
        # d = 0 and t = 0 / 1 = 0)
        t = (x - ax) * dx + (y - ay) * dy
        t /= np.where(length2 > 0, length2, 1.0)
        np.clip(t, 0.0, 1.0, out=t)
        ex = t * dx  # ex = x - (ax + t * dx), in place
        ex += ax
        np.subtract(x, ex, out=ex)
        ey = t  # ey = y - (ay + t * dy), in place
        ey *= dy
        ey += ay
        np.subtract(y, ey, out=ey)
        ex *= ex
        ey *= ey
        ex += ey
        ink = ex <= r2
        for k, (col, row) in enumerate(zip((x0 + pad).tolist(), (y0 + pad).tolist())):
            grid[row:row + n, col:col + n] |= ink[k]
    grid = grid[pad:pad + big, pad:pad + big]
    # each SUPERSAMPLE x SUPERSAMPLE block -> its share of ink pixels (n / 4: exact in float32)
    fine = grid.view(np.uint8)
    count = sum(fine[i::SUPERSAMPLE, j::SUPERSAMPLE] for i in range(SUPERSAMPLE) for j in range(SUPERSAMPLE))
    return (count / SUPERSAMPLE**2).astype(np.float32)


@dataclass
class StrokeSteps(Steps):
    """Steps, plus what only strokes tell: how many there were and how long the pen's path was
    relative to the drawing's size (a digit's is at most ~3.7 sides; a scrawl goes round and round)."""

    strokes: int = 0
    path: float = 0.0
    lifted: bool = True  # the page says "up": false while the pen is still moving


def path_ratio(strokes: list[np.ndarray]) -> float:
    """The pen's total path over the drawing's larger side (0 for a dot)."""
    every = np.concatenate(strokes)
    extent = float((every.max(axis=0) - every.min(axis=0)).max())
    length = sum(float(np.hypot(*np.diff(s, axis=0).T).sum()) for s in strokes if len(s) > 1)
    return length / extent if extent > 0 else 0.0


def steps_from_ink(ink: np.ndarray, **extra) -> StrokeSteps:
    """The MNIST recipe of inference/preprocess.prepare on an ink map that is already clean."""
    box = ink_box(ink)
    if box is None:
        return StrokeSteps(ink=ink, reason="serving.blank", **extra)
    fitted = fit_in_box(crop(ink, box))
    image, offset = centre_by_mass(fitted)
    peak = image.max()
    if peak > 0:
        image = image / peak
    return StrokeSteps(ink=ink, box=box, fitted=fitted, offset=offset, image=image.astype(np.float32), **extra)


def prepare_strokes(value) -> StrokeSteps:
    """The page's strokes -> StrokeSteps (never raises). Its `reason` is "serving.blank" for no
    strokes and "draw.reason.unreadable" for anything that is not a drawing (locale keys)."""
    try:
        size, strokes, lifted = parse(value)
    except BadStrokes:
        return StrokeSteps(ink=np.zeros((RASTER, RASTER), np.float32), reason="draw.reason.unreadable")
    if not strokes:
        return steps_from_ink(np.zeros((RASTER, RASTER), np.float32), lifted=lifted)
    return steps_from_ink(rasterise(size, strokes), strokes=len(strokes), path=path_ratio(strokes), lifted=lifted)
