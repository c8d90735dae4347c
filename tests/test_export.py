"""Export: ONNX interfaces as docs/training.md says, parity enforced, and nothing served is ever replaced
by a file that failed its checks."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from training import train_cnn, train_gan
from training.export import onnx_export as export

pytestmark = pytest.mark.slow  # each test trains a few steps and exports with parity checks


def last(events):
    *_, event = events
    return event


@pytest.fixture(scope="module")
def cnn_checkpoint():
    return last(train_cnn.train(train_cnn.CNNConfig(max_steps=3, batch_size=32, device="cpu"))).snapshot()


@pytest.fixture(scope="module")
def gan_checkpoint():
    cfg = train_gan.GANConfig(max_steps=2, batch_size=16, g_width=16, d_width=8, device="cpu")
    return last(train_gan.train(cfg, judge=None)).snapshot()


@pytest.fixture(scope="module")
def cnn_export(tmp_path_factory, cnn_checkpoint):
    """The lab CNN's export, made once for the tests that read it: (its folder, cnn.onnx, its card)."""
    folder = tmp_path_factory.mktemp("cnn-export")
    return folder, folder / "cnn.onnx", export.export(cnn_checkpoint, folder / "cnn.onnx")


@pytest.fixture(scope="module")
def gan_export(tmp_path_factory, gan_checkpoint):
    """The lab GAN's export, made once for the tests that read it: (its folder, gan.onnx, its card)."""
    folder = tmp_path_factory.mktemp("gan-export")
    return folder, folder / "gan.onnx", export.export(gan_checkpoint, folder / "gan.onnx")


def test_cnn_export_takes_any_batch_and_matches_pytorch(cnn_export):
    folder, out, card = cnn_export
    model = onnx.load(out)
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output][:1] == ["logits"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 3, 64):
        assert session.run(["logits"], {"image": np.random.rand(n, 1, 28, 28).astype(np.float32)})[0].shape == (n, 10)
    assert card["metrics"]["parity_max_logit_difference"] <= export.LOGIT_TOLERANCE
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["training_command"].startswith("python -m training.train_cnn --arch lab --dataset mnist-5k")
    assert {"dataset", "seed", "metrics", "date"} <= set(saved)
    assert not list(folder.glob("*.tmp"))
    assert out.stat().st_size < 10 * 2**20


def test_gan_export_reads_z_size_from_the_model(gan_export, gan_checkpoint):
    _, out, _ = gan_export
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    z_input = session.get_inputs()[0]
    assert z_input.name == "z" and z_input.shape[1] == gan_checkpoint["config"]["z_dim"]
    z = np.random.randn(5, z_input.shape[1]).astype(np.float32)
    image = session.run(["image"], {"z": z, "label": np.arange(5)})[0]
    assert image.shape == (5, 1, 28, 28) and np.abs(image).max() <= 1


def test_a_failed_parity_check_leaves_the_served_files_untouched(tmp_path, cnn_checkpoint, cnn_export, monkeypatch):
    import shutil

    for served in cnn_export[0].iterdir():  # a good export's files, as served (copied: this test writes over them)
        shutil.copy2(served, tmp_path / served.name)
    out = tmp_path / "cnn.onnx"
    before = out.read_bytes(), out.with_suffix(".json").read_bytes()
    monkeypatch.setattr(export, "LOGIT_TOLERANCE", -1.0)
    with pytest.raises(export.ExportError, match="parity"):
        export.export(cnn_checkpoint, out)
    assert (out.read_bytes(), out.with_suffix(".json").read_bytes()) == before
    assert not list(tmp_path.glob("*.tmp"))


def _metadata(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map


def test_the_primers_cnn_exports_with_parity_and_its_arch(tmp_path):
    cfg = train_cnn.CNNConfig(arch="seed", max_steps=2, batch_size=32, device="cpu")
    out = tmp_path / "seed_cnn.onnx"
    card = export.export(last(train_cnn.train(cfg)).snapshot(), out)
    assert card["arch"] == "seed" and card["knobs"]["dropout"] == 0.5 and card["config"]["lr"] == 1e-3
    assert card["metrics"]["parity_max_logit_difference"] <= export.LOGIT_TOLERANCE
    assert "--arch seed" in card["training_command"]
    assert _metadata(out)["arch"] == "seed"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert session.run(["logits"], {"image": np.random.rand(64, 1, 28, 28).astype(np.float32)})[0].shape == (64, 10)


def test_the_lab_exports_carry_their_arch(cnn_export, gan_export):
    assert _metadata(cnn_export[1])["arch"] == "lab"
    meta = _metadata(gan_export[1])
    assert (meta["arch"], meta["conditional"], meta["loss"]) == ("lab", "true", "hinge")


def test_the_primers_unconditional_gan_exports_z_only(tmp_path):
    cfg = train_gan.GANConfig(arch="seed", max_steps=1, batch_size=16, device="cpu")
    out = tmp_path / "gan.onnx"
    card = export.export(last(train_gan.train(cfg, judge=None)).snapshot(), out)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape[1]) for i in session.get_inputs()] == [("z", 100)]  # no label input
    for n in (1, 64):
        image = session.run(["image"], {"z": np.random.randn(n, 100).astype(np.float32)})[0]
        assert image.shape == (n, 1, 28, 28) and np.abs(image).max() <= 1
    meta = session.get_modelmeta().custom_metadata_map
    assert (meta["arch"], meta["conditional"], meta["loss"]) == ("seed", "false", "bce")
    assert json.loads(meta["directions"])["directions"] == [] and "unconditional" in json.loads(meta["directions"])["skipped"]
    figures = card["metrics"]
    assert figures["parity_max_pixel_difference"] <= export.IMAGE_TOLERANCE and not figures["conditional"]
    assert "label_fidelity" not in figures and sum(figures["class_histogram"]) == figures["samples"]
    assert {"confident_share", "frechet_ratio"} <= set(figures) and card["arch"] == "seed"
