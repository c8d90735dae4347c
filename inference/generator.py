"""The conditional generator over onnxruntime (never torch): seeded samples, the latent directions
the export stored in the model's metadata, preview strips, interpolation, the ten-digit grid, and
crisp upscaling for display.

A latent is `truncation * z(seed) + sum_k s_k * direction_k`: z(seed) is standard normal from a
seeded numpy generator (same seed, same latent, same image), and the directions have unit length,
so a slider value s moves s standard deviations along its direction.
"""
import functools
import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from inference.classifier import probabilities
from inference.sessions import HOW_TO_MAKE, ModelUnavailable, session

METADATA_KEY = "directions"  # training.export.directions.METADATA_KEY (not imported: that module needs torch)
MAX_SLIDERS = 6  # training.export.directions.MAX_OFFERED: the export never offers more
SLIDER_LIMIT = 3.0  # sliders run from -3 to +3 standard deviations
STRIP_STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
TRUNCATION_RANGE, DEFAULT_TRUNCATION = (0.0, 1.5), 1.0
DISPLAY_SCALE, THUMB_SCALE = 10, 3  # 28 px -> 280 px for the image, 84 px for thumbnails
GAP, GAP_SHADE = 2, 60  # pixels and grey level between tiles, so black backgrounds do not merge
GIF_DIR = Path(tempfile.gettempdir()) / "digit-lab-gifs"
GIF_HOURS = 1.0  # a GIF unused this long is deleted (Gradio serves its own copy of each it was given)
_gif_pruned = [0.0]
REEXPORT = "python -m training.export --checkpoint checkpoints/gan.pt --out exports/gan.onnx"


MEASURES = ("ink", "slant", "width", "height", "x", "y")  # training.export.directions.image_measures' keys
NAMED = {"thickness": "ink", "slant": "slant", "width": "width", "height": "height", "horizontal shift": "x", "vertical shift": "y"}


@dataclass(frozen=True)
class Direction:
    name: str  # as the export wrote it, in English (the tab words it from `measure`, `mix`, `number`)
    description: str
    vector: np.ndarray  # [Z] float32, unit length
    mean_pixel_change: float | None
    class_kept: float | None
    measure: str | None = None  # the shape measure it clearly moves (ink, slant, width, height, x, y), or None: a mix
    number: int | None = None  # "style 2", "slant 2": the number in its name
    mix: tuple = ()  # ((measure, grows: bool), ...) its two largest measured effects, for a "style" slider


@dataclass(frozen=True)
class Model:
    session: object  # onnxruntime.InferenceSession
    z_dim: int
    directions: tuple[Direction, ...]
    directions_problem: str | None  # why there are no sliders (a reason code: no_directions, unreadable, none_kept)
    conditional: bool = True  # False: the generator takes z alone (the primer's) and is not told the digit
    problem_values: tuple = ()  # the reason's placeholders, as (name, value) pairs


def load(gan_path: str | None = None) -> Model:
    """The generator at `gan_path` (None: the shipped exports/gan.onnx) with its directions.
    Raises ModelUnavailable, saying how to make the model, when the file is missing or unreadable."""
    return _describe(session("gan", gan_path))


@functools.lru_cache(maxsize=16)
def _describe(gan) -> Model:
    """Read once per session (sessions.session makes a new one when the file changes)."""
    shapes = {i.name: i.shape for i in gan.get_inputs()}
    if "z" not in shapes or not isinstance(shapes["z"][1], int) or set(shapes) - {"z", "label"}:
        raise ModelUnavailable("serving.model.not_a_generator", command=HOW_TO_MAKE["gan"])
    z_dim = shapes["z"][1]
    directions, problem, values = _read_directions(gan.get_modelmeta().custom_metadata_map.get(METADATA_KEY), z_dim)
    return Model(gan, z_dim, directions, problem, "label" in shapes, tuple(values.items()))


def _read_directions(text: str | None, z_dim: int) -> tuple[tuple[Direction, ...], str | None, dict]:
    """(directions, a reason code when there are none, its values)."""
    if text is None:
        return (), "no_directions", {"command": REEXPORT}
    try:
        found = json.loads(text)
        offered = [d for d in found["directions"] if d.get("offered")]
        directions = tuple(_direction(d, z_dim) for d in offered[:MAX_SLIDERS])
    except (ValueError, KeyError, TypeError) as error:
        return (), "unreadable", {"error": str(error), "command": REEXPORT}
    if not directions:
        return (), "none_kept", {"count": len(found["directions"]), "kept": found.get("class_kept_min", 0.9)}
    return directions, None, {}


def _direction(d: dict, z_dim: int) -> Direction:
    """What a slider means, in terms any language can word: the measure it moves (from the export's
    `measure`, or from its English name in files written before that field), its number, and for a
    "style" its two largest measured effects with their signs."""
    name = str(d["name"])
    base, _, tail = name.rpartition(" ")
    number = int(tail) if base and tail.isdigit() else None
    base = base if number is not None else name
    measure = d.get("measure", NAMED.get(base))
    effects = {m: float(v) for m, v in (d.get("effects") or {}).items() if m in MEASURES}
    mix = tuple((m, effects[m] > 0) for m in sorted(effects, key=lambda m: -abs(effects[m]))[:2])
    return Direction(name, str(d.get("description", "")), _unit(d["vector"], z_dim), d.get("mean_pixel_change"),
                     d.get("class_kept"), measure if measure in MEASURES else None, number, mix)


def _unit(vector, z_dim: int) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    if v.shape != (z_dim,) or not np.isfinite(v).all() or np.linalg.norm(v) == 0:
        raise ValueError(f"a direction is not a finite vector of length {z_dim}")
    return (v / np.linalg.norm(v)).astype(np.float32)


# Input cleaning: the API can send anything. Digits and seeds name what to draw, so a bad one is a
# clear ValueError; sliders only steer, so NaN means "centre" and out of range is clamped.

def clean_digit(digit) -> int:
    try:
        value = float(digit)
    except (TypeError, ValueError):
        raise ValueError(f"digit must be a whole number from 0 to 9, not {digit!r}") from None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= 9:
        raise ValueError(f"digit must be a whole number from 0 to 9, not {digit!r}")
    return int(value)


def clean_seed(seed) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        value = int(seed)  # exact, however large
    else:
        try:
            number = float(seed)
        except (TypeError, ValueError):
            raise ValueError(f"seed must be a whole number >= 0, not {seed!r}") from None
        if not math.isfinite(number) or number != int(number):
            raise ValueError(f"seed must be a whole number >= 0, not {seed!r}")
        value = int(number)
    if value < 0:
        raise ValueError(f"seed must be a whole number >= 0, not {seed!r}")
    return value


def _finite(value, default: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def clean_slider(value) -> float:
    return float(np.clip(_finite(value, 0.0), -SLIDER_LIMIT, SLIDER_LIMIT))


def clean_truncation(value) -> float:
    return float(np.clip(_finite(value, DEFAULT_TRUNCATION), *TRUNCATION_RANGE))


# Latents and images

def base_latent(seed: int, z_dim: int) -> np.ndarray:
    """z(seed): [Z] float32 standard normal; the same seed always gives the same latent."""
    return np.random.default_rng(clean_seed(seed)).standard_normal(z_dim).astype(np.float32)


def latent(model: Model, seed: int, truncation: float = DEFAULT_TRUNCATION, sliders=()) -> np.ndarray:
    z = clean_truncation(truncation) * base_latent(seed, model.z_dim)
    for direction, value in zip(model.directions, sliders):
        z = z + clean_slider(value) * direction.vector
    return z.astype(np.float32)


def page_numbers(seed, gan_path: str | None = None) -> dict:
    """The plain numbers the page needs to make `latent`'s latents itself while a slider moves
    (static/generate_web.js; the browser cannot reproduce numpy's seeded normal): z(seed), the unit
    directions, whether the model is told the digit, and the clamps and display scale."""
    model = load(gan_path)
    return {"seed": clean_seed(seed), "z": base_latent(seed, model.z_dim).tolist(),
            "directions": [d.vector.tolist() for d in model.directions], "conditional": model.conditional,
            "truncation_range": list(TRUNCATION_RANGE), "default_truncation": DEFAULT_TRUNCATION,
            "slider_limit": SLIDER_LIMIT, "display_scale": DISPLAY_SCALE}


def generate(model: Model, digits, latents: np.ndarray) -> np.ndarray:
    """One batched run: digits [N], latents [N,Z] -> images [N,28,28] float32 in [0,1]."""
    latents = np.ascontiguousarray(latents, dtype=np.float32).reshape(-1, model.z_dim)
    feeds = {"z": latents}
    if model.conditional:  # an unconditional generator is not told the digit: it draws what it draws
        feeds["label"] = np.broadcast_to(np.asarray(digits, dtype=np.int64).reshape(-1), (len(latents),)).copy()
    out = model.session.run(["image"], feeds)[0]
    return np.clip((out[:, 0] + 1) / 2, 0, 1)


def sample(digit, seed, truncation=DEFAULT_TRUNCATION, sliders=(), gan_path: str | None = None) -> np.ndarray:
    """[28,28] float32 in [0,1]: `digit` drawn from latent `seed`, steered by the slider values."""
    model = load(gan_path)
    return generate(model, [clean_digit(digit)], latent(model, seed, truncation, sliders)[None])[0]


def preview_strips(digit, seed, truncation=DEFAULT_TRUNCATION, sliders=(), gan_path: str | None = None) -> np.ndarray:
    """[K, len(STRIP_STEPS), 28, 28]: for each direction k, the current image with slider k set to
    each step from -3 to +3 sd and the others where they are. One batched run."""
    model = load(gan_path)
    values = [clean_slider(v) for v in sliders] + [0.0] * (len(model.directions) - len(sliders))
    current = latent(model, seed, truncation, values)
    latents = [
        current + (step - values[k]) * direction.vector
        for k, direction in enumerate(model.directions) for step in STRIP_STEPS
    ]
    if not latents:
        return np.zeros((0, len(STRIP_STEPS), 28, 28), np.float32)
    images = generate(model, [clean_digit(digit)] * len(latents), np.stack(latents))
    return images.reshape(len(model.directions), len(STRIP_STEPS), 28, 28)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: a straight line between two standard-normal latents passes through
    unusually short ones (blander images) halfway; the arc keeps the norm typical."""
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    omega = math.acos(min(1.0, max(-1.0, cos)))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def interpolate(start: tuple, end: tuple, frames: int = 9, truncation=DEFAULT_TRUNCATION, gan_path: str | None = None) -> np.ndarray:
    """[frames,28,28] from (digit, seed) `start` to `end`: the latent moves along the arc between
    the two seeds. The label is a discrete input of gan.onnx, so between two digits the style
    flows continuously while the class switches at the halfway frame."""
    model = load(gan_path)
    frames = int(np.clip(_finite(frames, 9), 2, 64))
    (digit_a, seed_a), (digit_b, seed_b) = start, end
    digit_a, digit_b = clean_digit(digit_a), clean_digit(digit_b)
    scale = clean_truncation(truncation)
    a, b = base_latent(seed_a, model.z_dim), base_latent(seed_b, model.z_dim)
    ts = np.linspace(0, 1, frames)
    latents = np.stack([scale * slerp(a, b, t) for t in ts])
    digits = [digit_a if t < 0.5 else digit_b for t in ts]
    return generate(model, digits, latents)


def digit_grid(seed, truncation=DEFAULT_TRUNCATION, sliders=(), gan_path: str | None = None) -> np.ndarray:
    """[10,28,28]: one latent (style) drawn as every digit 0-9 (an unconditional generator: the
    samples of ten seeds from `seed` on)."""
    model = load(gan_path)
    if not model.conditional:  # no digit to choose: ten samples, from this seed and the nine after it
        seed = clean_seed(seed)
        return generate(model, np.zeros(10), np.stack([latent(model, seed + k, truncation, sliders) for k in range(10)]))
    z = latent(model, seed, truncation, sliders)
    return generate(model, np.arange(10), np.repeat(z[None], 10, axis=0))


# Display

def upscale(image: np.ndarray, factor: int = DISPLAY_SCALE) -> np.ndarray:
    """[H,W] in [0,1] -> uint8 [H*factor, W*factor] by pixel repetition: crisp squares, no blur."""
    pixels = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


def strip(images: np.ndarray, factor: int = THUMB_SCALE) -> np.ndarray:
    """[N,28,28] in [0,1] -> one uint8 row of upscaled tiles with thin grey gaps between them."""
    tiles = [upscale(image, factor) for image in images]
    height = tiles[0].shape[0]
    gap = np.full((height, GAP), GAP_SHADE, np.uint8)
    row = [tiles[0]]
    for tile in tiles[1:]:
        row += [gap, tile]
    return np.concatenate(row, axis=1)


def gif(frames: np.ndarray, factor: int = 6, frame_ms: int = 120) -> str:
    """An animated GIF that plays the frames forward then back, looping; returns its path. Named by
    its content, so the same interpolation reuses one file."""
    pictures = [upscale(f, factor) for f in frames]
    pictures = pictures + pictures[-2:0:-1]
    key = hashlib.sha1(np.stack(pictures).tobytes() + bytes([factor]) + frame_ms.to_bytes(4, "little")).hexdigest()[:16]
    GIF_DIR.mkdir(parents=True, exist_ok=True)
    path = GIF_DIR / f"interpolation-{key}.gif"
    if path.exists():
        os.utime(path)  # in use: pruned by the time since its last use
    else:
        _prune_gifs()
        first, *rest = [Image.fromarray(p, mode="L") for p in pictures]
        partial = path.with_name(path.name + ".tmp")
        first.save(partial, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0)
        partial.replace(path)
    return str(path)


def _prune_gifs(every: float = 600.0) -> None:
    """Delete the GIFs unused for GIF_HOURS, at most once every `every` seconds: each distinct
    interpolation writes one, so the folder is bounded by an hour's worth."""
    now = time.time()
    if now - _gif_pruned[0] < every:
        return
    _gif_pruned[0] = now
    for entry in os.scandir(GIF_DIR):
        try:
            if entry.name.endswith((".gif", ".tmp")) and now - entry.stat().st_mtime > GIF_HOURS * 3600:
                os.unlink(entry.path)
        except OSError:
            pass


@dataclass(frozen=True)
class Verdict:
    probabilities: dict  # {digit name: probability}, for gr.Label
    read: int  # the digit the CNN reads
    confidence: float
    asked: int | None  # the digit asked for (None: an unconditional generator is asked for none)

    @property
    def agrees(self) -> bool:
        return self.asked is None or self.read == self.asked


def verdict(image: np.ndarray, asked: int | None, cnn_path: str | None = None) -> Verdict:
    """What the CNN reads in `image` [28,28]. Raises ModelUnavailable when the CNN is missing."""
    probs = probabilities(image[None], cnn_path)[0]
    read = int(probs.argmax())
    return Verdict({str(d): float(p) for d, p in enumerate(probs)}, read, float(probs[read]), asked)
