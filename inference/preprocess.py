"""A canvas or an uploaded image -> the 28x28 digit the CNN expects, made the way MNIST was made:
find the ink, crop to it, fit it in a 20x20 box keeping the aspect ratio (anti-aliased), centre its
centre of mass in the 28x28 field, and stretch the intensity so the strongest ink is 1.

Where the ink comes from:
- the Sketchpad value (dict with background / layers / composite): the stroke layers' alpha, so the
  pen colour and the light or dark theme do not matter;
- an image with real transparency: its alpha;
- any other image (RGB, grayscale, an opaque RGBA): its contrast against the paper, whose shade is
  read from the border, so dark ink on light paper and light ink on dark paper both work.

What may arrive: arrays and PIL images (Python callers), and what the app's endpoints hand over
unprocessed (preprocess=False): files as paths, Gradio's file dicts ({"path": ...}), raw bytes (the
browser's Sketchpad blobs) or a data: URL. A picture's size is read from its header before anything
decodes it, and one far larger than a canvas (MAX_CANVAS_SIDE) or a reasonable photo
(MAX_UPLOAD_SIDE) is refused at once: a 546 KiB PNG of 12,000 x 12,000 pixels would otherwise
take seconds of a core and half a GiB to decode.

`prepare` never raises: whatever arrives, it returns Steps, with `reason` (a locale key, see
locales/: "serving.*") and `reason_values` saying what was wrong, and `message` the same in
English for logs and the command line.
"""
import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

import locales
from inference.pen import mnist_pen

FIELD = 28  # MNIST's side
BOX = 20  # MNIST fitted each digit in a 20x20 box, then centred its mass in the 28x28 field
MAX_SIDE = 512  # bigger inputs are box-downscaled first: a 4000x4000 upload costs what a 512 one does
INK_FLOOR = 0.1  # ink weaker than this (antialiasing fringe, paper texture) does not set the crop
MIN_CONTRAST = 0.08  # an opaque image whose shades span less than this is blank paper
# The largest pictures read at all, by their header, before decoding (decoding costs ~0.5 s of a
# core a 2048 px PNG side here, and grows with the pixels):
MAX_CANVAS_SIDE = 2048  # a Sketchpad value's images: 8x the Draw tab's canvas, Gradio's 800 px one at 2x
MAX_UPLOAD_SIDE = 4096  # an uploaded picture: a 12 MP phone photo (4032 x 3024) fits
# The only decoders a stranger's file reaches: what a visitor uploads or a canvas sends.
PICTURE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")

# Why there is no digit to read: locale keys (their words, in each language, are in locales/).
REASONS = ("serving.blank", "serving.no_image", "serving.unreadable", "serving.not_an_image", "serving.not_numbers",
           "serving.bad_shape", "serving.empty", "serving.too_large")


class Refused(Exception):
    """A picture not to read, with the reason's locale key and values."""

    def __init__(self, reason: str, **values):
        super().__init__(locales.text(reason, "en", **values))
        self.reason, self.values = reason, values


@dataclass
class Steps:
    """Every stage, so the tab can show what the model saw and why."""

    ink: np.ndarray  # [H,W] float32 in [0,1]: the ink map at working resolution (<= MAX_SIDE)
    box: tuple[int, int, int, int] | None = None  # (top, left, bottom, right) of the ink in `ink`
    fitted: np.ndarray | None = None  # the crop resized to fit in BOX x BOX
    offset: tuple[int, int] = (0, 0)  # where `fitted` was pasted in the field (row, column)
    image: np.ndarray = field(default_factory=lambda: np.zeros((FIELD, FIELD), np.float32))
    reason: str | None = None  # why there is no digit to read: a locale key (REASONS), or None
    reason_values: dict = field(default_factory=dict)  # its placeholders

    @property
    def message(self) -> str | None:
        """The reason in English (logs, the command line); the page uses `reason` and its values."""
        return locales.text(self.reason, "en", **self.reason_values) if self.reason else None

    @property
    def blank(self) -> bool:
        return self.box is None

    @property
    def box_fraction(self) -> float:
        """The ink's larger side relative to the canvas's larger side (a dot is ~0.01)."""
        if self.box is None:
            return 0.0
        top, left, bottom, right = self.box
        return max(bottom - top, right - left) / max(self.ink.shape)

    @property
    def aspect(self) -> float:
        """Width over height of the ink: digits are upright; two side by side are wide."""
        if self.box is None:
            return 0.0
        top, left, bottom, right = self.box
        return (right - left) / (bottom - top)

    @property
    def fill(self) -> float:
        """Mean ink over the fitted box, relative to its strongest ink: pen strokes leave most of
        their box dark (~0.15-0.45), a filled blob or noise (grey fuzz at this scale) does not."""
        if self.fitted is None or self.fitted.max() <= 0:
            return 0.0
        return float(self.fitted.mean() / self.fitted.max())

    @property
    def split_share(self) -> float:
        """Where an empty column splits the ink, the smaller side's share of it (0 when nothing
        splits it): two digits side by side split about evenly, one digit does not split at all."""
        if self.box is None:
            return 0.0
        mass = self.image.sum(axis=0)
        inked = np.flatnonzero(self.image.max(axis=0) > 0.2)
        if inked.size == 0:
            return 0.0
        total = float(mass.sum())
        before = np.cumsum(mass)  # ink left of and including each column
        gaps = [k for k in range(inked[0], inked[-1]) if self.image[:, k].max() <= 0.2]
        return max((min(before[k], total - before[k]) / total for k in gaps), default=0.0)


def prepare(source) -> Steps:
    """The Sketchpad value, an image array, a PIL image, a path, bytes or a Gradio file dict ->
    Steps (never raises)."""
    try:
        ink = ink_map(source)
    except Refused as refusal:
        return Steps(ink=np.zeros((FIELD, FIELD), np.float32), reason=refusal.reason, reason_values=refusal.values)
    box = ink_box(ink)
    if box is None:
        return Steps(ink=ink, reason="serving.blank")
    strokes, box = mnist_pen(ink, box)  # a picture keeps its pen: brought to MNIST's, as strokes are
    fitted = fit_in_box(strokes)
    image, offset = centre_by_mass(fitted)
    peak = image.max()
    if peak > 0:
        image = image / peak
    return Steps(ink=ink, box=box, fitted=fitted, offset=offset, image=image.astype(np.float32))


# ---- where the ink is --------------------------------------------------------------------------


def ink_map(source) -> np.ndarray:
    """The ink in [0,1] at working resolution; raises Refused saying why there is none."""
    if isinstance(source, dict) and not _is_file_dict(source):
        return _ink_from_editor(source)
    return ink_from_image(as_image(source, MAX_UPLOAD_SIDE))


def _ink_from_editor(value: dict) -> np.ndarray:
    """Strokes first (their alpha); with no strokes, read the composite or background as an image
    (an image uploaded into the editor, or a client that sends only the composite). A missing or
    unreadable part is skipped; a too large one refuses the whole value."""
    strokes = None
    layers = value.get("layers")
    for layer in layers if isinstance(layers, (list, tuple)) else []:
        image = _editor_image(layer)
        if image is None:
            continue
        alpha = image[..., 3] if image.shape[2] == 4 else ink_from_image(image)
        if strokes is not None and alpha.shape != strokes.shape:
            continue  # layers of one canvas share its size; a stray one cannot be merged
        strokes = alpha if strokes is None else np.maximum(strokes, alpha)
    if strokes is not None and strokes.max() >= INK_FLOOR:
        return strokes
    for key in ("composite", "background"):
        image = _editor_image(value.get(key))
        if image is not None:
            ink = ink_from_image(image)
            if ink.max() >= INK_FLOOR:
                return ink
    if strokes is not None:
        return strokes
    raise Refused("serving.blank")


def _editor_image(part) -> np.ndarray | None:
    try:
        return as_image(part, MAX_CANVAS_SIDE)
    except Refused as refusal:
        if refusal.reason == "serving.too_large":
            raise
        return None


def as_image(source, max_side: int = MAX_UPLOAD_SIDE) -> np.ndarray:
    """Anything image-like -> float32 [H,W,C] in [0,1], C in {1,3,4}, at most MAX_SIDE a side.
    An encoded picture (path, bytes, file dict) larger than max_side a side is refused from its
    header, before it is decoded. Raises Refused."""
    if source is None:
        raise Refused("serving.no_image")
    if isinstance(source, (dict, str, Path, bytes, bytearray, memoryview)):
        source = _decode(_open(source, max_side), max_side)
    elif isinstance(source, Image.Image):
        source = _decode(source, max_side, close=False)  # the caller's: theirs to close
    try:
        array = np.asarray(source)
    except Exception:
        raise Refused("serving.not_an_image") from None
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise Refused("serving.not_numbers")
    while array.ndim > 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first, as torch and ONNX lay them out
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise Refused("serving.bad_shape", shape=tuple(array.shape))
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise Refused("serving.empty")
    if array.shape[2] == 2:  # grayscale + alpha
        array = array[..., [0, 0, 0, 1]]
    return _shrink_to_unit(array)


# ---- reading an encoded picture: its header first ----------------------------------------------


def _is_file_dict(value: dict) -> bool:
    """Gradio's FileData as a dict ({"path": ..., "url": ..., "meta": ...})."""
    return "path" in value or "url" in value


def _open(source, max_side: int) -> Image.Image:
    """A lazily opened picture: PIL has read its header (size, mode), not its pixels. A file dict
    is read from its path (Gradio checked it is an upload) or its data: URL; never fetched."""
    if isinstance(source, dict):
        path, url = source.get("path"), source.get("url")
        if isinstance(path, (str, Path)) and path:
            source = path
        elif isinstance(url, str) and url.startswith("data:") and "," in url:
            try:
                source = base64.b64decode(url.split(",", 1)[1], validate=False)
            except (binascii.Error, ValueError):
                raise Refused("serving.unreadable", error="bad base64") from None
        else:
            raise Refused("serving.no_image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(source, formats=PICTURE_FORMATS)
    except Image.DecompressionBombError as error:  # PIL's own limit (~179 MP), far past ours
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        raise Refused("serving.too_large", size=f"{int(pixels[1]):,}" if pixels else "too many",
                      limit=f"{max_side} x {max_side}") from None
    except Image.UnidentifiedImageError:  # none of PICTURE_FORMATS: SVG, HTML, PDF, TIFF, anything else
        raise Refused("checks.picture_format") from None
    except Exception as error:  # PIL raises many kinds for unreadable files
        raise Refused("serving.unreadable", error=type(error).__name__) from None


def _decode(image: Image.Image, max_side: int, close: bool = True) -> np.ndarray:
    """The pixels of a lazily opened picture, if its header says it is small enough; a JPEG photo
    is decoded straight at a reduced scale (its DCT allows 1/2 to 1/8) when that still leaves at
    least MAX_SIDE a side, which is all the reading uses."""
    width, height = image.size
    if max(width, height) > max_side:
        if close:
            image.close()
        raise Refused("serving.too_large", size=f"{width} x {height}", limit=f"{max_side} x {max_side}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if image.format == "JPEG":
                image.draft(image.mode, (MAX_SIDE, MAX_SIDE))
            if image.getexif().get(0x0112, 1) != 1:  # a phone photo taken sideways: turn it upright
                image = ImageOps.exif_transpose(image)
            return _pil_to_array(image)
    except Exception as error:  # a truncated or corrupt file fails only here, when decoded
        raise Refused("serving.unreadable", error=type(error).__name__) from None
    finally:
        if close:
            image.close()


def _pil_to_array(image: Image.Image) -> np.ndarray:
    mode = "RGBA" if ("A" in image.getbands() or "transparency" in image.info) else "L"
    return np.asarray(image.convert(mode))


def _to_unit(array: np.ndarray) -> np.ndarray:
    """Any numeric dtype -> float32 in [0,1]: integers by their natural range (8 or 16 bit),
    floats as [0,1] unless they clearly use 0..255. NaN and infinities count as no ink."""
    if np.issubdtype(array.dtype, np.integer):
        top = 255.0 if array.dtype.itemsize == 1 or array.max(initial=0) <= 255 else 65535.0
        return (np.clip(array, 0, top) / top).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32's range -> inf -> 0
        array = np.nan_to_num(array.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    if array.max(initial=0.0) > 1.0:
        array = array / 255.0
    return np.clip(array, 0.0, 1.0)


def _shrink_to_unit(image: np.ndarray) -> np.ndarray:
    """[H,W,C] of any dtype -> float32 in [0,1], area-averaged down to at most MAX_SIDE a side.
    The big work runs before any float conversion, so a 4000x4000 upload stays cheap; averaging
    keeps a thin stroke as faint ink where sampling would drop it."""
    factor = int(np.ceil(max(image.shape[:2]) / MAX_SIDE))
    if factor <= 1:
        return _to_unit(image)
    if image.dtype == np.uint8 and image.shape[2] in (1, 3, 4):
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.shape[2]]
        pixels = np.ascontiguousarray(image[..., 0] if mode == "L" else image)
        reduced = np.asarray(Image.fromarray(pixels, mode).reduce(factor))
        return _to_unit(reduced.reshape(reduced.shape[0], reduced.shape[1], image.shape[2]))
    # Other dtypes: sample every few pixels down to ~4x the target, then average the rest.
    image = _to_unit(image[:: max(1, factor // 4), :: max(1, factor // 4)])
    factor = int(np.ceil(max(image.shape[:2]) / MAX_SIDE))
    height, width = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if height == 0 or width == 0:  # a strip thinner than the factor: sample it instead
        return image[:: max(1, image.shape[0] // MAX_SIDE), :: max(1, image.shape[1] // MAX_SIDE)][:MAX_SIDE, :MAX_SIDE]
    trimmed = image[:height, :width]
    return trimmed.reshape(height // factor, factor, width // factor, factor, -1).mean(axis=(1, 3))


def ink_from_image(image: np.ndarray) -> np.ndarray:
    """[H,W,C] in [0,1] -> ink [H,W] in [0,1]. Real transparency wins (strokes on a clear layer);
    otherwise ink is how far each pixel's shade is from the paper's, read from the border."""
    if image.shape[2] == 4:
        alpha = image[..., 3]
        if alpha.min() < 0.9:  # some of it is see-through: the alpha says where the ink is
            return alpha.astype(np.float32, copy=False)
        image = image[..., :3]
    shade = image[..., 0] if image.shape[2] == 1 else image[..., :3] @ np.float32([0.299, 0.587, 0.114])
    paper = float(np.median(_border(shade)))
    distance = np.abs(shade - paper)
    span = float(distance.max())
    if span < MIN_CONTRAST:
        return np.zeros(shade.shape, np.float32)
    return (distance / span).astype(np.float32)


def _border(shade: np.ndarray) -> np.ndarray:
    """The outer ring of pixels (3% of the side, at least one), where the paper shows."""
    ring = max(1, int(round(0.03 * min(shade.shape))))
    return np.concatenate([shade[:ring].ravel(), shade[-ring:].ravel(), shade[:, :ring].ravel(), shade[:, -ring:].ravel()])


# ---- MNIST's normalisation ---------------------------------------------------------------------


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right), exclusive, of the ink above INK_FLOOR; None when blank."""
    mask = ink >= INK_FLOOR
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def crop(ink: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = box
    return ink[top:bottom, left:right]


def fit_in_box(cropped: np.ndarray, side: int = BOX) -> np.ndarray:
    """Resize so the longer side is `side`, keeping the aspect ratio (a '1' stays thin)."""
    height, width = cropped.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # LANCZOS on a float image averages over the whole footprint when shrinking: anti-aliased.
    resized = Image.fromarray(cropped.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized), 0.0, 1.0)


def centre_by_mass(fitted: np.ndarray, side: int = FIELD) -> tuple[np.ndarray, tuple[int, int]]:
    """Paste into a side x side field so the ink's centre of mass lands on the field's centre
    (as MNIST did), as far as the field allows."""
    height, width = fitted.shape
    # Sums in float64, one pixel after another in reading order (cumsum adds in sequence), as
    # static/draw_prepare.js adds them: a symmetric drawing (a tap, a straight bar) puts the centre
    # of mass exactly on a half pixel, and the page and the server must round it the same way.
    ink = fitted.astype(np.float64)
    total = float(np.cumsum(ink)[-1])
    if total <= 0:
        com_row, com_col = (height - 1) / 2, (width - 1) / 2
    else:
        com_row = float(np.cumsum(ink * np.arange(height)[:, None])[-1] / total)
        com_col = float(np.cumsum(ink * np.arange(width))[-1] / total)
    centre = (side - 1) / 2
    row = int(np.clip(round(centre - com_row), 0, side - height))
    col = int(np.clip(round(centre - com_col), 0, side - width))
    field_ = np.zeros((side, side), np.float32)
    field_[row : row + height, col : col + width] = fitted
    return field_, (row, col)
