"""Inside the CNN, over onnxruntime (never torch): every stage of a CNN for one 28x28 digit, read
from the model's layers companion (`<stem>.layers.onnx` beside `<stem>.onnx`, written by
training/export/views.py), and the filter weights behind each feature map.

Nothing here knows an architecture: the companion's metadata (`stages`) lists the stages, their
kinds and shapes and each convolution's weights, and the view follows it. Functions return facts
(arrays, kinds, numbers); the tab turns them into words.
"""
import base64
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from inference.sessions import ModelUnavailable, session, shipped

STAGES_KEY = "stages"  # training.export.views.STAGES_KEY (not imported: that module is for export)
CONVOLUTIONS = ("conv", "depthwise", "pointwise")
LAYERS_COMMAND = "python -m training.export.views layers {model}"
POSITIVE, NEGATIVE = np.float32([255, 160, 40]), np.float32([70, 150, 255])  # orange above zero, blue below, black at 0
TILE_GAP, GAP_SHADE = 2, 70


@dataclass(frozen=True)
class Stage:
    name: str  # the companion's output name, e.g. stage03_depthwise
    kind: str  # conv, depthwise, pointwise, activation, pool, dense, features, logits
    block: int
    shape: tuple  # without the batch: (C,H,W) for maps, (D,) for vectors
    function: str | None = None  # activation: relu, sigmoid, tanh...
    of: str | None = None  # activation: the stage it is applied to
    pool: str | None = None  # pool: max or average
    kernel: tuple = ()
    groups: int = 1
    in_channels: int = 0
    weight: np.ndarray | None = None  # Conv weights [C_out, C_in/groups, kh, kw]

    @property
    def is_map(self) -> bool:
        return len(self.shape) == 3


@dataclass(frozen=True)
class Layers:
    session: object
    input_name: str
    stages: tuple[Stage, ...]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def blocks(self) -> list[tuple[int, list[Stage]]]:
        order: dict[int, list[Stage]] = {}
        for s in self.stages:
            order.setdefault(s.block, []).append(s)
        return list(order.items())


def companion_path(cnn_path: str | Path | None) -> Path:
    """Where the layers companion of a CNN export lives: beside it, `<stem>.layers.onnx`."""
    path = Path(cnn_path) if cnn_path else shipped("cnn")
    return path.with_name(path.stem + ".layers.onnx")


def load(cnn_path: str | Path | None = None) -> Layers:
    """The layers companion of the CNN at `cnn_path` (None: the shipped one). Raises
    ModelUnavailable ("inside.unavailable.missing" / "unreadable" / "no_model") with the file names."""
    model = Path(cnn_path) if cnn_path else shipped("cnn")
    path = companion_path(model)
    if not path.is_file():
        if not model.is_file():
            raise ModelUnavailable("inside.unavailable.no_model", model=model.name)
        raise ModelUnavailable("inside.unavailable.missing", file=path.name, model=model.name, command=LAYERS_COMMAND.format(model=_shown(model)))
    try:
        return _describe(session("cnn", path))
    except (ModelUnavailable, ValueError, KeyError, TypeError):
        raise ModelUnavailable("inside.unavailable.unreadable", file=path.name, command=LAYERS_COMMAND.format(model=_shown(model))) from None


def _shown(path: Path) -> str:
    """A path as a command line should name it: relative to the repository for the shipped models,
    the bare name otherwise (a visitor's run folder is the server's business)."""
    return f"exports/{path.name}" if path.parent == shipped("cnn").parent else path.name


def _decode(weight: dict | None) -> np.ndarray | None:
    if not weight:
        return None
    return np.frombuffer(base64.b64decode(weight["data"]), np.float32).reshape(weight["shape"])


@functools.lru_cache(maxsize=16)
def _describe(layers) -> Layers:
    described = json.loads(layers.get_modelmeta().custom_metadata_map[STAGES_KEY])
    stages = tuple(
        Stage(s["name"], s["kind"], int(s["block"]), tuple(s["shape"]), s.get("function"), s.get("of"), s.get("pool"),
              tuple(s.get("kernel") or ()), int(s.get("groups") or 1), int(s.get("in_channels") or 0), _decode(s.get("weight")))
        for s in described["stages"]
    )
    if not stages or stages[-1].kind != "logits":
        raise ValueError("the companion's stages do not end in logits")
    return Layers(layers, described.get("input", "image"), stages)


def run(image: np.ndarray, cnn_path: str | Path | None = None) -> tuple[Layers, dict[str, np.ndarray]]:
    """One onnxruntime run of the companion on `image` [28,28] in [0,1]: (the layers, {stage name:
    its values without the batch axis}). The model work of one inside view."""
    layers = load(cnn_path)
    pixels = np.ascontiguousarray(np.clip(np.asarray(image, np.float32).reshape(1, 1, 28, 28), 0, 1))
    values = layers.session.run([s.name for s in layers.stages], {layers.input_name: pixels})
    return layers, {s.name: v[0] for s, v in zip(layers.stages, values)}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, np.float64) - np.max(logits)
    exp = np.exp(shifted)
    return exp / exp.sum()


@dataclass(frozen=True)
class Filter:
    """The weights that made one feature map. kind conv: `kernels` [C_in,kh,kw] (one per input map);
    depthwise: `kernels` [1,kh,kw] applied to input map `channel` alone; pointwise: `mix` [C_in],
    the weight of each input map, and `strongest` the input maps with the largest |weight|."""
    kind: str
    channel: int
    kernels: np.ndarray | None = None
    mix: np.ndarray | None = None
    strongest: tuple[int, ...] = ()


def filter_of(stage: Stage, channel: int) -> Filter:
    if stage.kind not in CONVOLUTIONS or stage.weight is None:
        raise ValueError(f"{stage.name} is not a convolution")
    channel = int(np.clip(channel, 0, stage.weight.shape[0] - 1))
    weight = stage.weight[channel]  # [C_in/groups, kh, kw]
    if stage.kind == "pointwise":
        mix = weight[:, 0, 0]
        return Filter("pointwise", channel, mix=mix, strongest=tuple(int(i) for i in np.argsort(-np.abs(mix))[:3]))
    return Filter(stage.kind, channel, kernels=weight)


def most_active(values: np.ndarray, count: int) -> list[int]:
    """The channels of maps [C,H,W] with the largest mean absolute response, strongest first."""
    return [int(i) for i in np.argsort(-np.abs(values).mean(axis=(1, 2)))[:count]]


# Pictures: signed values on black, orange above zero and blue below, one scale a stage, so ReLU's
# work shows as the blue disappearing and pooling as the maps shrinking.

def colour(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Any-shaped values -> uint8 RGB [..., 3]."""
    values = np.asarray(values, np.float32)
    scale = float(scale if scale is not None else np.abs(values).max()) or 1.0
    v = np.clip(values / scale, -1, 1)[..., None]
    return (np.clip(v, 0, 1) * POSITIVE + np.clip(-v, 0, 1) * NEGATIVE).astype(np.uint8)


def enlarge(rgb: np.ndarray, size: int) -> np.ndarray:
    """Square pixels: repeat each value so the picture is about `size` pixels a side."""
    factor = max(1, round(size / max(rgb.shape[:2])))
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def tiles(maps: np.ndarray, columns: int, tile: int, scale: float | None = None, gap: int = TILE_GAP) -> np.ndarray:
    """Maps [C,H,W] -> one RGB picture of C tiles in rows of `columns`, grey gaps between them."""
    scale = float(scale if scale is not None else np.abs(maps).max()) or 1.0
    pictures = [enlarge(colour(m, scale), tile) for m in maps]
    h, w = pictures[0].shape[:2]
    rows = -(-len(pictures) // columns)
    columns = min(columns, len(pictures))
    canvas = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), GAP_SHADE, np.uint8)
    for k, picture in enumerate(pictures):
        r, c = divmod(k, columns)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = picture
    return canvas


def stage_picture(values: np.ndarray) -> np.ndarray:
    """A stage's values as one picture at one pixel a value (the page scales it up, square pixels):
    maps [C,H,W] tiled, every channel, 8 or 16 a row; a vector [D] as rows of 16 cells. One scale
    a stage."""
    if values.ndim == 3:
        return tiles(values, 8 if values.shape[0] <= 32 else 16, max(values.shape[1:]), gap=1)
    columns = min(16, values.size)
    rows = -(-values.size // columns)
    cells = np.zeros(rows * columns, np.float32)  # padding cells stay black (zero)
    cells[: values.size] = values
    return tiles(cells.reshape(1, rows, columns), 1, columns, gap=1)


def filter_picture(found: Filter) -> np.ndarray:
    if found.kind == "pointwise":
        return tiles(found.mix.reshape(1, 1, -1), 1, min(480, 24 * found.mix.size))
    return tiles(found.kernels, 8, 144 if len(found.kernels) == 1 else 48)


def png(rgb: np.ndarray, colours: int = 48) -> bytes:
    """PNG bytes; a palette of `colours` (the pictures are two colour ramps: a palette keeps the
    page light, a few kB a stage instead of tens)."""
    import io

    buffer = io.BytesIO()
    picture = Image.fromarray(rgb).quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    picture.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
