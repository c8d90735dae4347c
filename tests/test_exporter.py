"""Runs export in a process of their own (runs/exporter.py): the same card as training.export, one
warm child for several exports and a fresh one after RENEW_AFTER, a refused checkpoint or a child
that dies answered in words, and the next export served all the same."""
import subprocess
import sys

import pytest

from runs import exporter

pytestmark = pytest.mark.slow  # each export imports torch and checks parity in the child


@pytest.fixture(autouse=True)
def own_child():
    """Each test starts with no child and leaves none behind."""
    with exporter._lock:
        exporter._retire()
    yield
    with exporter._lock:
        exporter._retire()


def test_one_warm_child_exports_says_what_it_refuses_and_is_renewed_or_replaced(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(exporter, "RENEW_AFTER", 3)
    exporter.warm()
    first = exporter._child.pid
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(exporter.ExportError, match=r"\w+ \w+"):
        exporter.export(broken, tmp_path / "x" / "cnn.onnx")
    assert not (tmp_path / "x" / "cnn.onnx").exists()
    card = exporter.export(tiny_checkpoint, tmp_path / "a" / "cnn.onnx")
    assert card["kind"] == "cnn" and card["metrics"]["parity_max_logit_difference"] < 1e-4
    assert card["training_command"].startswith("python -m training.train_cnn ")
    assert (tmp_path / "a" / "cnn.onnx").is_file() and (tmp_path / "a" / "cnn.layers.onnx").is_file()
    assert exporter._child.pid == first, "the warm child was not the one that exported after a refusal"
    exporter.export(tiny_checkpoint, tmp_path / "b" / "cnn.onnx")
    assert exporter._child is None, "the child was kept past RENEW_AFTER exports"

    # a child that dies once the export is sent (killed for memory, say): said, and the next one serves
    exporter._child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.buffer.read(1)"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with pytest.raises(exporter.ExportError, match="the export's process ended"):
        exporter.export(tiny_checkpoint, tmp_path / "y" / "cnn.onnx")
    assert exporter.export(tiny_checkpoint, tmp_path / "z" / "cnn.onnx")["kind"] == "cnn"
    assert exporter._child.pid != first
