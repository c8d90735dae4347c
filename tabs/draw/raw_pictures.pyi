"""Pictures handed to the Draw tab's functions undecoded, so that inference.preprocess reads each
one's size from its header and refuses a huge one before anything decodes it.

Gradio's own preprocessing decodes every picture first: the Sketchpad's opens, converts and
copies each PNG (a 546 KiB PNG of 12,000 x 12,000 transparent pixels cost 5 s of a core there,
and 16 s in all, before a word was said), and gr.Image does the same unless it is asked for a
file path (`type="filepath"` with `image_mode=None`, which hands over the uploaded file as it is).

`Picture` is gr.Image handing over the uploaded file's path unopened: even as a file path, gr.Image
opens each upload with every format PIL knows, where this app decodes only the four a visitor
uploads (inference.preprocess.PICTURE_FORMATS).

`Sketchpad` is gr.Sketchpad with the same page, settings and API, whose value reaches the function
as {"background", "layers", "composite"} of file paths (an API client's uploads, which Gradio
has checked are uploads) or of PNG bytes (the blobs a browser's Sketchpad sends ahead of the
event), never decoded.

It also bounds the blobs waiting for their event: Gradio keeps each browser's PNGs under a new id
until an event's preprocess takes them, and an event that never runs (dropped by
trigger_mode="always_last" while the previous one is out) leaves them there for good (read from
Gradio 6.31's frontend code; not measured here).
"""
import gradio as gr
from gradio.components.base import server

MAX_WAITING_BLOBS = 256  # sets of a browser's PNGs waiting for their event, all visitors together

from gradio.events import Dependency

class Picture(gr.Image):
    """gr.Image with the same page, settings and API, whose value reaches the function as the
    uploaded file's path (Gradio has checked it is an upload), never opened: Gradio's own
    preprocessing opens every upload with every format PIL knows to read its mode, and this app
    decodes only PNG, JPEG, WebP and GIF (inference.preprocess.PICTURE_FORMATS)."""

    def get_block_name(self) -> str:
        return "image"

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.path is None:  # a data: URL, as a browser's paste may send
            return {"url": payload.url} if payload.url else None
        return payload.path
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Sketchpad(gr.Sketchpad):
    def get_block_name(self) -> str:
        return "imageeditor"  # the page's component, as gr.Sketchpad's own

    @server
    def accept_blobs(self, data):
        result = super().accept_blobs(data)
        while len(self.blob_storage) > MAX_WAITING_BLOBS:  # the oldest first: dicts keep their order
            self.blob_storage.pop(next(iter(self.blob_storage)))
        return result

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.id is not None:  # the browser sent the PNGs ahead, as blobs under this id
            blobs = self.blob_storage.pop(payload.id, None)
            if blobs is None:
                return {"background": None, "layers": [], "composite": None}
            return {"background": blobs.background, "layers": [b for b in blobs.layers if b is not None], "composite": blobs.composite}
        path = lambda file: file.path if file is not None else None  # noqa: E731
        return {"background": path(payload.background), "layers": [path(layer) for layer in payload.layers], "composite": path(payload.composite)}
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component