"""A fix for Gradio 6.31 that many visitors would otherwise meet.

Gradio caches each output image in a file named by its content hash and rewrites that file in place
on every request. When two requests produce the same image at once (two visitors drawing the same
digit, the same slider value), one rewrite truncates the file while the other is being downloaded:
the browser sees ERR_CONTENT_LENGTH_MISMATCH and gradio_client a closed connection
(tests/test_load.py sends identical drawings to catch it). Writing aside and renaming, and not
rewriting a file that is already there, makes every download see a whole file.
"""
import os
import tempfile
from pathlib import Path

from gradio import processing_utils


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
