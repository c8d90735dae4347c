"""A run's files offered for download: as text paths Gradio may serve, copied to the temp folder
when the runs folder lies elsewhere (a Space's /data), and those copies pruned by age."""
import os
import tempfile
import time
from pathlib import Path

from tabs.train import my_runs


def test_files_outside_the_served_folders_are_copied_as_text_paths_and_old_copies_pruned(tmp_path, monkeypatch):
    outside = tmp_path / "data" / "runs" / "20261207-120000-cnn-abc123"
    outside.mkdir(parents=True)
    (outside / "cnn.onnx").write_bytes(b"onnx")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(temp)  # neither the working folder nor the temp folder holds the run
    stale = temp / "digit-lab-downloads" / "an-old-run"
    stale.mkdir(parents=True)
    long_ago = time.time() - 3 * 86400
    os.utime(stale, (long_ago, long_ago))
    got = my_runs.downloads({"id": outside.name, "files": [str(outside / "cnn.onnx")]})
    assert got == [str(temp / "digit-lab-downloads" / outside.name / "cnn.onnx")] and all(type(p) is str for p in got)
    assert Path(got[0]).read_bytes() == b"onnx" and not stale.exists()
