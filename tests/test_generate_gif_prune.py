"""The Generate tab's interpolation GIFs do not pile up: one unused for an hour is deleted when a
new one is written, one in use is kept."""
import os
import time

import numpy as np

from inference import generator


def test_an_unused_gif_is_deleted_and_one_in_use_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "GIF_DIR", tmp_path)
    monkeypatch.setattr(generator, "_gif_pruned", [0.0])
    old, recent = tmp_path / "interpolation-old.gif", tmp_path / "interpolation-recent.gif"
    for path in (old, recent):
        path.write_bytes(b"GIF89a")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    generator._prune_gifs()
    assert not old.exists() and recent.exists()
    os.utime(recent, (two_hours_ago, two_hours_ago))
    generator._prune_gifs()  # within the ten minutes since the last pass: nothing is looked at
    assert recent.exists()
