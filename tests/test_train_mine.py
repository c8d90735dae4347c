"""Training on a visitor's own digits, as plain functions and through the command line: the merge of
the set with the data set's digits (its held-out part never trained on), the two held-out scores, a
start from the served model's own weights, and `--mine FILE`. /train's side: test_train_mine_api.py."""
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from inference import mnist_5k, my_digits
from training import data, mine as mine_set

ROOT = mine_set.__file__.rsplit("/training/", 1)[0]


def a_set(count: int = 60) -> list:
    """Real handwritten digits standing in for a visitor's set (from mnist-5k's training part)."""
    pixels, labels = mnist_5k.arrays()
    held = set(mnist_5k.held_out_indices(labels).tolist())
    index = [i for i in range(len(labels)) if i not in held][:count]
    return [(pixels[i].reshape(28, 28).astype(np.float32) / 255, int(labels[i])) for i in index]


def keys(split: data.Split) -> set[bytes]:
    return {image.numpy().astype("<f4").tobytes() for image in split.images[:, 0]}


def test_the_parts_are_the_sets_own_split_and_never_meet():
    digits = a_set()
    parted = mine_set.parted(digits)
    train, held_out = my_digits.split(digits)
    assert (len(parted.train), len(parted.held_out)) == (len(train), len(held_out)) and len(held_out) > 0
    assert keys(parted.held_out) == {image.astype("<f4").tobytes() for image, _ in held_out}
    assert not keys(parted.train) & keys(parted.held_out)
    assert parted.train.images.shape[1:] == (1, 28, 28) and parted.train.labels.dtype == torch.int64


def test_mine_only_is_the_set_alone_and_both_give_it_a_fifth():
    parted = mine_set.parted(a_set())
    base = data.Split(torch.zeros(4500, 1, 28, 28), torch.zeros(4500, dtype=torch.int64))
    alone = mine_set.training_set(base, parted.train, "mine")
    assert keys(alone) == keys(parted.train) and len(alone) >= mine_set.MINE_EPOCH
    both = mine_set.training_set(base, parted.train, "mnist-5k+mine")
    share = (len(both) - len(base)) / len(both)
    assert abs(share - mine_set.MINE_SHARE) < 0.03 and keys(both) - {bytes(28 * 28 * 4)} == keys(parted.train)
    with pytest.raises(ValueError):
        mine_set.training_set(base, parted.train, "theirs")
    with pytest.raises(ValueError, match="no digits of yours"):
        mine_set.training_set(base, data.Split(base.images[:0], base.labels[:0]), "mine")


def test_a_run_never_trains_on_the_held_out_part_and_is_scored_on_it(monkeypatch, one_torch_thread):
    from runs import jobs, worker
    from training import settings

    seen = []
    real = mine_set.training_set
    monkeypatch.setattr(mine_set, "training_set", lambda base, mine, way: seen.append(mine) or real(base, mine, way))
    digits = a_set()
    request = jobs.validate("cnn", "mnist-5k", 1, None, 32, 0, settings.TrainSettings())
    request = dataclasses.replace(request, knobs={**request.knobs, "digits": "mine"})
    events = list(worker.training_loop(request, settings.TrainSettings(max_steps=2), mine=digits, device="cpu"))
    assert len(seen) == 1 and not keys(seen[0]) & keys(mine_set.parted(digits).held_out)
    last = events[-1].metrics
    assert {"held_out_accuracy", "mine_accuracy", "mine_loss"} <= set(last) and 0 <= last["mine_accuracy"] <= 1


def test_mine_without_a_set_is_refused_in_words():
    from training import train_cnn

    with pytest.raises(ValueError, match="needs a set of your own"):
        next(train_cnn.train(train_cnn.CNNConfig(digits="mine", max_steps=1, device="cpu")))
    with pytest.raises(ValueError, match="digits"):
        train_cnn.CNNConfig(digits="theirs")


def test_the_served_weights_come_back_as_the_served_model():
    import onnxruntime as ort

    from training import served, train_cnn

    images = mnist_5k.held_out()[0][:64, None]
    for arch in ("lab", "seed"):
        model = served.load(train_cnn.build_cnn({"arch": arch}), served.SERVED[arch]).eval()
        session = ort.InferenceSession(str(served.SERVED[arch]), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            mine = model(torch.from_numpy(images.copy())).numpy()
        assert np.abs(mine - session.run(None, {"image": images})[0]).max() < 1e-4, arch
    with pytest.raises(served.NotServedCNN):
        served.load(train_cnn.build_cnn({"arch": "seed"}), served.SERVED["lab"])


def test_a_fine_tuned_run_starts_where_the_served_model_is(one_torch_thread):
    from training import train_cnn

    cfg = train_cnn.CNNConfig(fine_tune=True, lr=1e-5, max_steps=1, epochs=1, batch_size=32, device="cpu", augment=False)
    first = next(train_cnn.train(cfg))
    assert first.metrics["held_out_accuracy"] >= 0.97  # the shipped model's 99%, not a random start's 10%


def test_the_command_line_takes_a_set_file(tmp_path):
    digits = a_set()
    path = tmp_path / "mine.npz"
    path.write_bytes(my_digits.to_npz(digits))
    done = subprocess.run([sys.executable, "-m", "training.train_cnn", "--mine", str(path), "--max-steps", "3", "--epochs", "1",
                           "--batch-size", "32", "--device", "cpu", "--out", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "mine_accuracy" in done.stdout + done.stderr
    checkpoint = torch.load(tmp_path / "cnn.pt", weights_only=False)
    assert checkpoint["config"]["digits"] == "mnist-5k+mine" and "mine_accuracy" in checkpoint["metrics"]
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a set")
    for args, words in ((["--mine", str(bad)], "not"), (["--digits", "mine"], "--mine FILE")):
        done = subprocess.run([sys.executable, "-m", "training.train_cnn", *args, "--max-steps", "1", "--device", "cpu",
                               "--out", str(tmp_path / "no")], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode != 0 and "Traceback" not in done.stderr and words in done.stderr, done.stderr


def test_the_tab_reads_whose_digits_and_fine_tuning_and_refuses_in_words(tmp_path):
    import json

    from runs import jobs
    from tabs.train import mine as train_mine
    from training import settings

    caps = settings.TrainSettings()
    asked = jobs.validate("cnn", caps=caps)
    request, start = train_mine.with_mine(asked, "mine", True, a_set(), None)
    assert request.knobs["digits"] == "mine" and request.knobs["fine_tune"] is True and start is None
    assert request.lr == train_mine.FINE_TUNE_LR  # not a fresh run's 1e-2
    assert train_mine.with_mine(asked, None, "off", [], None)[0] == asked  # the data set's digits, from random: as asked
    assert train_mine.with_mine(jobs.validate("cnn", lr=0.05, caps=caps), "dataset", True, [], None)[0].lr == 0.05
    with pytest.raises(jobs.InvalidSettings) as refused:
        train_mine.with_mine(asked, "mnist-5k+mine", False, [], None)
    assert refused.value.key == "train.mine.error.none"
    served = tmp_path / "cnn.onnx"
    served.with_suffix(".json").write_text(json.dumps({"config": {"arch": "seed"}}))
    with pytest.raises(jobs.InvalidSettings) as refused:
        train_mine.with_mine(asked, "dataset", True, [], str(served))
    assert refused.value.key == "train.mine.error.arch"
    assert train_mine.with_mine(jobs.validate("cnn", arch="seed", caps=caps), "dataset", True, [], str(served))[1] == str(served)
    gan = jobs.validate("gan", caps=caps)
    assert train_mine.with_mine(gan, "mine", True, [], None) == (gan, None)


def test_a_run_on_your_digits_says_so_in_the_runs_table():
    from tabs.train import my_runs as train_runs

    run = {"kind": "cnn", "arch": "lab", "knobs": {"arch": "lab", "digits": "mine", "fine_tune": True}, "epochs": 3}
    assert "mine only · fine-tuned" in train_runs.settings_text(run, "en")
    plain = {**run, "knobs": {"arch": "lab", "digits": "dataset", "fine_tune": False}}
    assert "mine" not in train_runs.settings_text(plain, "en") and "fine" not in train_runs.settings_text(plain, "en")
    assert train_runs.figures_text({"held_out_accuracy": 0.99, "mine_accuracy": 0.5}, "en") == "held-out accuracy 99.0%, your digits 50.0%"
