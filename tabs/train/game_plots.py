"""The GAN's sample grid with each sample's push drawn over it: -dL_G/dx, where the generator's next
update moves its pixels (orange: more ink, blue: less, as the Draw tab's backprop view colours
-dL/dx), and the same in words for screen readers. Plain numpy and PIL, no torch."""
import base64
import html
import io

import numpy as np
from PIL import Image

from inference.inside import colour

TOP_SHARE = 99  # the colour scale: the grid's 99th percentile of |dL_G/dx|, so one outlier does not dim the rest


def push_grid(samples: np.ndarray, gradients: np.ndarray, columns: int = 10, scale: int = 1, gap: int = 2) -> np.ndarray:
    """Samples [N,28,28] in [0,1] in grey, each with its -dL_G/dx [N,28,28] coloured over it, on one
    scale for the whole grid (so pushes compare between samples): an RGB uint8 image."""
    samples = np.clip(np.asarray(samples, np.float32), 0, 1)
    push = -np.asarray(gradients, np.float32)
    top = float(np.percentile(np.abs(push), TOP_SHARE)) or float(np.abs(push).max()) or 1.0
    tiles = np.clip(samples[..., None] * 110 + colour(push, top).astype(np.float32), 0, 255).astype(np.uint8)
    rows, side = -(-len(tiles) // columns), 28 * scale
    grid = np.full((rows * (side + gap) - gap, columns * (side + gap) - gap, 3), 40, np.uint8)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, columns)
        grid[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = \
            np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
    return grid


def push_summary(gradients: np.ndarray, per_row: int = 10) -> dict:
    """What the picture shows, in numbers: each row's share of the push that adds ink, and the
    samples pushed hardest (their index, 1-based, and the size of their push)."""
    push = -np.asarray(gradients, np.float64).reshape(len(gradients), -1)
    adds = np.clip(push, 0, None).sum(1)
    total = np.abs(push).sum(1)
    rows = [float(adds[i:i + per_row].sum() / (total[i:i + per_row].sum() or 1.0)) for i in range(0, len(push), per_row)]
    sizes = np.sqrt((push ** 2).sum(1))
    strongest = [(int(i) + 1, float(sizes[i])) for i in np.argsort(-sizes)[:3]]
    return {"adds_ink_by_row": rows, "strongest": strongest}


def figure(samples: np.ndarray, gradients: np.ndarray, alt: str, caption: str, element_id: str = "train-game-push") -> str:
    """The picture as an <img> with its text alternative, and a caption under it (HTML)."""
    buffer = io.BytesIO()
    Image.fromarray(push_grid(samples, gradients)).save(buffer, format="PNG", optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure id="{element_id}" style="margin:0"><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            f'style="width:100%;max-width:600px;image-rendering:pixelated;display:block">'
            f'<figcaption style="font-size:0.9em;margin-top:4px">{html.escape(caption)}</figcaption></figure>')
