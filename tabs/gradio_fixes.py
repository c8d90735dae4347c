"""Two fixes for Gradio 6.31, patched when app.py imports this module.

1. Gradio caches each output image in a file named by its content hash and rewrites that file in
place on every request. When two requests produce the same image at once (two visitors drawing the
same digit, the same slider value), one rewrite truncates the file while the other is being
downloaded: the browser sees ERR_CONTENT_LENGTH_MISMATCH and gradio_client a closed connection
(tests/test_load.py sends identical drawings to catch it). Writing aside and renaming, and not
rewriting a file that is already there, makes every download see a whole file.

2. Gradio's queue looks for waiting events every millisecond while it has none (Queue's
sleep_when_free, 0.001 s on Linux), so Digit Lab with nobody using it kept 4.4-6% of a core busy;
looking every 10 ms, 1.5-2% (two launched apps side by side, 30 s idle, three times). An event that
arrives at an empty queue waits at most 10 ms more: the Generate tab's sliders already wait for the
previous image, and the Draw tab's readings do not use the queue.
"""
import os
import tempfile
from pathlib import Path

from gradio import processing_utils, queueing

FREE_POLL_SECONDS = 0.01


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if not path.exists():
        handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    return str(path)


processing_utils.save_pil_to_cache = save_pil_to_cache


_queue_init = queueing.Queue.__init__


def _quiet_queue_init(self, *args, **kwargs):
    _queue_init(self, *args, **kwargs)
    self.sleep_when_free = max(self.sleep_when_free, FREE_POLL_SECONDS)


queueing.Queue.__init__ = _quiet_queue_init
