"""The CNN's reading of a digit, over onnxruntime (never torch): probabilities, an honest "not sure",
and where the model looked.

One onnxruntime run per reading: the digit itself plus copies of it with one patch of ink erased
(occlusion saliency). A patch whose erasure lowers the top digit's log-probability is evidence for
it; one whose erasure raises it was evidence against.

The not-sure rule (`judge`) was measured, not guessed: `python -m tests.draw_calibrate --sweep`
runs the shipped model over the 500 held-out MNIST digits, 1,000 drawn-stroke images and 500 typed
digits (tests/draw_digits.py), 1,000 digits drawn as the Draw tab's canvas sends them (strokes, at
30/45/60/75/90% of the canvas's height, on a desktop's box and a phone's) and 600 pieces of junk
each way (100 each: blank, a dot, a scribble, two digits side by side, noise, a canvas full of
ink), prints each feature's rate over a range of thresholds, then the rule's. Each threshold in
THRESHOLDS sits where it flags (almost) no real digits while catching its kind of junk; the
confidence floor trades the two (at 0.5 it flags 1.0% of held-out digits and 57% of scribbles; at
0.6, 2.2% and 72%). With exports/cnn.onnx (99.0% held-out), measured 2026-12-01, the whole rule:

    page strokes  flags 0.8% of 1,000 digits (0-3% in each size and box; 0.7% of those read right),
                  100% of blank, dots, two digits, noise and full canvases; 82% of scribbles
                  (2026-12-04, with strokes.py's own rasteriser; Pillow's ImageDraw before gave
                  1.2%, 0.9% and 78%)
    images        flags 3.0% of held-out digits, 1.5% of drawn, 1.4% of typed,
                  100% of blank, dots, two digits and full canvases; 97% of noise; 76% of scribbles
    catches 2 of the 5 held-out, 2 of the 8 drawn and 1 of the 4 page digits it misreads

The page's strokes are redrawn at a width in proportion to the digit (inference/strokes.py), so
its pens (thin, medium, bold) read the same: `--pens` measures each. Before that, the Sketchpad's
default pen (16 px on 252) drew small digits as bold as blobs: 55% of clear digits at 30% of the
canvas were flagged. The stroke count and path length exist only for strokes.

Scribbles are the hard case: many look like some digit to a 10-way classifier.
"""
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inference.preprocess import FIELD, Steps
from inference.sessions import session

# Measured with tests/draw_calibrate.py (see the module docstring); the rates are each feature's
# alone, as (held-out, drawn, typed) digits flagged -> junk flagged. A reading is "not sure" when
# any holds; the first that fires gives the reason shown.
THRESHOLDS = {
    "min_box_fraction": 0.06,  # ink spans < 6% of the canvas: (0, 0, 0)% -> 100% of dots
    "max_split_share": 0.1,  # an empty column splits off > 10% of the ink: (0.2, 0, 0)% -> 100% of two digits
    "max_aspect": 2.0,  # ink over twice as wide as tall: (0, 0, 0)% -> 31% of two digits (a dash, a word)
    "max_fill": 0.6,  # fitted box over 60% inked: (0.6, 1.8, 1.0)% -> 97% of noise, 100% of full canvases
    "min_confidence": 0.6,  # top probability under 60%: (2.2, 0.7, 0.4)% -> 72% of scribbles
    "fill_min_aspect": 0.3,  # ...unless the ink is a thin upright bar (a "1"): it flagged 1% of page digits
    "max_strokes": 12,  # strokes only, over 12 of them: 0% of page digits -> 100% of page noise (dabs all over)
    "max_path": 4.5,  # strokes only, the pen's path over 4.5x the drawing's side: 0% of page digits -> 48% of page scribbles
}
REASONS = ("blank", "unreadable", "too_small", "more_than_one", "blob", "scribble", "low_confidence")

PATCH = 6  # occlusion patch side in the 28x28 field: about one stroke width and a half
STRIDE = 4
MAX_PATCHES = 24  # keeps the one batched run within the 20 ms budget on one core
SALIENCY_FLOOR = 0.05  # nats: erasing a patch that moves the log-probability less is no evidence


def _as_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        images = images[:, None]
    return np.ascontiguousarray(np.clip(images, 0.0, 1.0))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def logits(images: np.ndarray, model_path: str | None = None) -> np.ndarray:
    """images [N,28,28] or [N,1,28,28] in [0,1] (white ink on black) -> logits [N,10]."""
    return session("cnn", model_path).run(["logits"], {"image": _as_batch(images)})[0]


def probabilities(images: np.ndarray, model_path: str | None = None) -> np.ndarray:
    """images [N,28,28] or [N,1,28,28] in [0,1] (white ink on black) -> softmax [N,10].
    model_path None means the shipped exports/cnn.onnx."""
    return softmax(logits(images, model_path).astype(np.float64)).astype(np.float32)


@dataclass
class Reading:
    probabilities: np.ndarray  # [10], sums to 1; all zeros when there was nothing to read
    digit: int | None  # the top digit (None when blank)
    confidence: float  # its probability
    not_sure: bool
    reason: str | None  # why not sure: a code in REASONS, or the locale key of why a picture was refused
                        # (inference.preprocess.REASONS); the tab puts it into the visitor's words
    values: dict = field(default_factory=dict)  # the reason's figures, e.g. {"confidence": 0.43}

    def label(self) -> dict[str, float]:
        """For gr.Label: the ten probabilities by digit name (empty when blank)."""
        if self.digit is None:
            return {}
        return {str(d): float(p) for d, p in enumerate(self.probabilities)}


def judge(steps: Steps, probs: np.ndarray | None) -> tuple[bool, str | None, dict]:
    """The measured not-sure rule: (not_sure, reason code, its values). `probs` None means the
    model did not run. Strokes from the page (inference.strokes.StrokeSteps) also say how many
    strokes there were and how long the pen's path was."""
    t = THRESHOLDS
    if steps.blank or probs is None:
        if steps.reason in (None, "serving.blank", "serving.no_image"):
            return True, "blank", {}
        return True, steps.reason, dict(steps.reason_values)  # a picture refused or unreadable: its own words
    if steps.box_fraction < t["min_box_fraction"]:
        return True, "too_small", {}
    if steps.split_share > t["max_split_share"] or steps.aspect > t["max_aspect"]:
        return True, "more_than_one", {}
    thin_bar = steps.aspect < t["fill_min_aspect"]  # a plain "1": its narrow box is mostly ink
    if (steps.fill > t["max_fill"] and not thin_bar) or getattr(steps, "strokes", 0) > t["max_strokes"]:
        return True, "blob", {}
    if getattr(steps, "path", 0.0) > t["max_path"]:
        return True, "scribble", {}
    if probs.max() < t["min_confidence"]:
        return True, "low_confidence", {"confidence": float(probs.max())}
    return False, None, {}


def occlusion_batch(image: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Copies of `image` [28,28] with one inked PATCHxPATCH square erased each, over the ink's box
    (erasing empty paper changes nothing, so it is skipped). Returns ([K,28,28], corners)."""
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.1), np.flatnonzero(image.max(axis=0) > 0.1)
    if rows.size == 0:
        return np.zeros((0, FIELD, FIELD), np.float32), []
    stride = STRIDE
    while True:
        starts_r = range(max(0, rows[0] - 1), rows[-1] + 1, stride)
        starts_c = range(max(0, cols[0] - 1), cols[-1] + 1, stride)
        corners = [(r, c) for r in starts_r for c in starts_c if image[r : r + PATCH, c : c + PATCH].max() > 0.1]
        if len(corners) <= MAX_PATCHES:
            break
        stride += 1  # a big, busy digit: coarser patches rather than a slower reading
    batch = np.repeat(image[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        batch[k, r : r + PATCH, c : c + PATCH] = 0.0
    return batch, corners


def read(steps: Steps, model_path: str | None = None, saliency: bool = True) -> tuple[Reading, np.ndarray]:
    """The reading of prepared Steps and, in the same onnxruntime run, its occlusion saliency:
    [28,28] in [-1,1], positive where the ink supports the top digit. Blank -> no model run."""
    empty = np.zeros((FIELD, FIELD), np.float32)
    if steps.blank:
        not_sure, reason, values = judge(steps, None)
        return Reading(np.zeros(10, np.float32), None, 0.0, not_sure, reason, values), empty
    occluded, corners = occlusion_batch(steps.image) if saliency else (np.zeros((0, FIELD, FIELD), np.float32), [])
    batch = np.concatenate([steps.image[None], occluded])
    out = logits(batch, model_path).astype(np.float64)
    log_probs = out - out.max(axis=1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    probs = np.exp(log_probs[0])
    digit = int(probs.argmax())
    not_sure, reason, values = judge(steps, probs)
    reading = Reading(probs.astype(np.float32), digit, float(probs[digit]), not_sure, reason, values)
    return reading, _saliency_map(log_probs[0, digit] - log_probs[1:, digit], corners)


def _saliency_map(drops: np.ndarray, corners: list[tuple[int, int]]) -> np.ndarray:
    """Spread each patch's drop in log-probability over its pixels (overlaps averaged), scaled so
    the strongest evidence is +-1 (drops under SALIENCY_FLOOR nats stay faint: no patch mattered)."""
    total = np.zeros((FIELD, FIELD), np.float64)
    count = np.zeros((FIELD, FIELD), np.float64)
    for drop, (r, c) in zip(drops, corners):
        total[r : r + PATCH, c : c + PATCH] += drop
        count[r : r + PATCH, c : c + PATCH] += 1
    heat = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    peak = max(float(np.abs(heat).max()), SALIENCY_FLOOR)
    return (heat / peak).astype(np.float32)


def saliency_on_strokes(steps: Steps, heat: np.ndarray, size: int = 224) -> np.ndarray:
    """The visitor's own strokes (cropped around the ink, on white), coloured by the saliency:
    orange where the ink made the model say its digit, blue where it argued against, grey where it
    did not matter. Returns RGB uint8 [<=size, <=size, 3]."""
    if steps.blank or steps.fitted is None:
        return np.full((size, size, 3), 255, np.uint8)
    top, left, bottom, right = steps.box
    # The heat over the fitted digit, stretched back over the ink's box on the canvas.
    row, col = steps.offset
    fh, fw = steps.fitted.shape
    patch = heat[row : row + fh, col : col + fw]
    local = np.asarray(Image.fromarray(patch.astype(np.float32), mode="F").resize((right - left, bottom - top), Image.Resampling.BILINEAR))
    margin = max(2, int(0.12 * max(bottom - top, right - left)))
    t, l = max(0, top - margin), max(0, left - margin)
    b, r = min(steps.ink.shape[0], bottom + margin), min(steps.ink.shape[1], right + margin)
    ink = steps.ink[t:b, l:r]
    signed = np.zeros_like(ink)
    signed[top - t : bottom - t, left - l : right - l] = local
    scale = size / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    ink = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(shape, Image.Resampling.BILINEAR))
    signed = np.asarray(Image.fromarray(signed.astype(np.float32), mode="F").resize(shape, Image.Resampling.BILINEAR))
    grey, hot, cold = np.float32([110, 110, 120]), np.float32([240, 90, 20]), np.float32([40, 110, 230])
    positive, negative = np.clip(signed, 0, 1)[..., None], np.clip(-signed, 0, 1)[..., None]
    colour = grey + positive * (hot - grey) + negative * (cold - grey)
    ink = np.clip(ink, 0, 1)[..., None]
    return (255 * (1 - ink) + colour * ink).clip(0, 255).astype(np.uint8)
