"""A picture's pen brought to MNIST's. The strokes path (inference/strokes.py) redraws what the pen did
at a width in proportion to the digit, but a picture keeps the pen it was drawn with: a small digit
drawn with the Sketchpad's 16 px pen reached the CNN as bold as a blob, and was doubted for it. Here
the pen's width is read from the picture itself and the strokes are thinned or thickened to the
width the strokes path draws, their centre lines left where they were.

In numpy alone: the ink's crop is resampled so the digit is WORK pixels on its larger side and cut
at half its strongest ink; an exact Euclidean distance transform (down each column, then a min-plus
along each row) gives each pixel its distance to the ink's edge. Across a stroke of width w that
distance rises from 0 at the edges to w/2 on the centre line, so it averages w/4 over the ink: four
times the mean is the pen's width, whatever the strokes' shapes (joins and caps sway it by a few
percent). Moving the edge by half the difference in widths is an erosion or a dilation by a disc,
and the signed distance to the moved edge, clipped to [0, 1], is the new ink, anti-aliased.

A pen near the target (LOW to HIGH of it) is left as drawn, and one further off is brought only to
that band's edge: writers' pens vary (MNIST's own span 0.75 to 1.7 of the target, 5th to 95th
percentile), fonts' strokes vary within a digit, and a scribble thickened to exactly the target
looks more like a digit (on a seeded sample of tests/draw_digits.py's junk, 63% of scribbles were
flagged with every pen brought to the target, 72% with the band). Ink whose "pen" is a large share of its
box (a filled shape, a canvas coloured in) is not strokes, and is left as it is for the not-sure
rule to see.
"""
import numpy as np
from PIL import Image

WORK = 80  # the digit's larger side, in pixels, while its pen is measured and changed: 4x MNIST's box
WIDTH_SHARE = 0.13  # the pen / its centre lines' larger side, as inference/strokes.py draws it
LOW, HIGH = 0.8, 1.25  # pens within these shares of the target are left as drawn (see above)
MAX_PEN_SHARE = 0.3  # a pen over this share of the ink's box: a filled shape, not strokes
MIN_WIDTH = 1.0  # WORK pixels: a dot stays a dot
# Ink spanning fewer pixels than MNIST's field (an MNIST digit itself, a thumbnail) shows a pen of 2 or
# 3 pixels: half a pixel's doubt is more than the band above, so its pen is left as it is.
MIN_SIDE = 28


def distance_to(feature: np.ndarray) -> np.ndarray:
    """The exact Euclidean distance, pixel centre to pixel centre, from each pixel of [H,W] to the
    nearest True one (H + W or more where there is none)."""
    height, width = feature.shape
    far = height + width
    rows = np.arange(height)[:, None]
    above = np.maximum.accumulate(np.where(feature, rows, -far), axis=0)
    below = np.minimum.accumulate(np.where(feature, rows, 2 * far)[::-1], axis=0)[::-1]
    down = np.minimum(rows - above, below - rows).astype(np.float32)  # to the nearest in its column
    cols = np.arange(width, dtype=np.float32)
    # then along the row: min over columns k of (j - k)^2 + down[k]^2, as one [H, W, W] array
    return np.sqrt(((cols[:, None] - cols[None, :]) ** 2 + (down * down)[:, None, :]).min(axis=2))


def depth(mask: np.ndarray) -> np.ndarray:
    """Each ink pixel's distance in from the ink's edge (a pixel's centre lies half a pixel inside
    the edge it borders); -0.5 on the paper."""
    return distance_to(~mask) - 0.5


def pen_width(mask: np.ndarray) -> float:
    """The pen's width, in pixels of `mask` (True where there is ink): four times the mean depth."""
    return 4.0 * float(depth(mask)[mask].mean()) if mask.any() else 0.0


def repen(cropped: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The ink's crop [H,W] in [0,1] (the ink fills it) -> (the same strokes at MNIST's width, WORK
    pixels on the larger side, cropped to their ink; where that ink lies in the crop's pixels as
    (top, left, bottom, right), beyond the crop where the strokes grew). The crop itself, and
    (0, 0, H, W), when its pen needs no change or its ink is not strokes."""
    height, width = cropped.shape
    side = max(height, width)
    whole = (0, 0, height, width)
    if side < MIN_SIDE:
        return cropped, whole
    size = (max(1, round(width * WORK / side)), max(1, round(height * WORK / side)))
    work = np.asarray(Image.fromarray(cropped.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))
    margin = int(np.ceil(WIDTH_SHARE * WORK / 2)) + 2  # room for thin strokes to grow into
    work = np.pad(np.clip(work, 0.0, 1.0), margin)
    peak = float(work.max())
    if peak <= 0:
        return cropped, whole
    mask = work >= 0.5 * peak
    inside = depth(mask)
    pen = 4.0 * float(inside[mask].mean())
    if pen > MAX_PEN_SHARE * max(size):
        return cropped, whole
    target = max(MIN_WIDTH, WIDTH_SHARE * (max(size) - pen))  # the centre lines: the ink less a pen
    wanted = min(max(pen, LOW * target), HIGH * target)
    if wanted == pen:
        return cropped, whole
    # Half the difference off each edge (or onto it), but never the whole of the deepest stroke.
    shave = min((pen - wanted) / 2, float(inside.max()) - 0.5)
    # The paper's distance to the ink matters only where the edge moves out onto it.
    signed = np.where(mask, inside, 0.5 - distance_to(mask)) if shave < 0.5 else inside
    ink = np.clip(signed - shave + 0.5, 0.0, 1.0).astype(np.float32)
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0), np.flatnonzero(ink.max(axis=0) > 0)
    down, across = height / size[1], width / size[0]  # crop pixels a work pixel
    box = (int(np.floor((rows[0] - margin) * down)), int(np.floor((cols[0] - margin) * across)),
           int(np.ceil((rows[-1] + 1 - margin) * down)), int(np.ceil((cols[-1] + 1 - margin) * across)))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], box


def mnist_pen(ink: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The ink map and its box (top, left, bottom, right) -> (the strokes in it at MNIST's width,
    cropped to their ink, as `repen` gives them; their box in the ink map, within it). The box
    follows the strokes' moved edges, so that the not-sure rule's shape features and the saliency's
    overlay describe the ink the model reads, as they do for strokes."""
    top, left, bottom, right = box
    strokes, (t, l, b, r) = repen(ink[top:bottom, left:right])
    return strokes, (max(0, top + t), max(0, left + l), min(ink.shape[0], top + b), min(ink.shape[1], left + r))
