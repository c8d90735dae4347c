"""training/jobs.py without a server: validation against the caps, the one-run lock, Stop, the time
cap, crashes and failed exports, the plot history, and one real (tiny) CNN run through export."""
import json
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from training import jobs, settings
from training.settings import TrainSettings

CAPS = TrainSettings(max_epochs=5, max_seconds=30, batch_min=8, batch_max=256, lr_min=1e-4, lr_max=0.01)


@pytest.fixture(autouse=True)
def server_is_free_after_each_test():
    yield
    run = jobs.current()
    if run is not None:
        jobs.request_stop(run, "test teardown", wait=5)
        assert run.done.wait(30), "a run outlived its test"


@pytest.fixture
def caps(tmp_path):
    return replace(CAPS, runs_dir=tmp_path / "runs")


def request(kind="cnn", **overrides):
    return jobs.validate(**{"kind": kind, "dataset": "mnist-5k", "epochs": 2, "lr": None, "batch_size": 64,
                            "seed": 0, "caps": CAPS} | overrides)


def fake_events(steps=100, delay=0.02, crash_at=None, closed=None):
    """A stand-in for train(): Progress events at `delay` s a step; notes when it is closed."""
    from training.runtime import Progress

    def make(run):
        def events():
            started = time.perf_counter()
            try:
                for step in range(1, steps + 1):
                    time.sleep(delay)
                    if step == crash_at:
                        raise RuntimeError("the loss went NaN")
                    end = step % 10 == 0 or step == steps
                    yield Progress(step, steps, (step - 1) // 10 + 1, {"loss": 1.0 / step, "accuracy": step / steps},
                                   time.perf_counter() - started, lambda s=step: {"step": s}, epoch_end=end,
                                   metrics={"held_out_accuracy": step / steps} if end else {})
            finally:
                if closed is not None:
                    closed.set()
        return events()
    return make


@pytest.fixture
def exported(monkeypatch):
    """Replace the ONNX export (tested for real in test_real_cnn_run_exports...) by a recorder."""
    calls = []

    def fake_export(run, last):
        calls.append(last.snapshot())
        run.model_path = str(run.folder / "cnn.onnx")
    monkeypatch.setattr(jobs, "_export", fake_export)
    return calls


# -- validation ----------------------------------------------------------------------------------
def test_valid_settings_pass_and_lr_0_or_none_means_the_models_default():
    assert request().lr is None and request("gan", lr=0).lr is None
    assert "lr" not in request().config(CAPS)  # so CNNConfig / GANConfig use their own
    assert request(epochs=5.0, lr=0.001, batch_size=8).epochs == 5  # 5.0 from JSON is a whole number


@pytest.mark.parametrize("overrides, says", [
    ({"epochs": 0}, "epochs must be from 1 to 5"),
    ({"epochs": 6}, "epochs must be from 1 to 5"),
    ({"epochs": 2.5}, "whole number"),
    ({"epochs": "three"}, "whole number"),
    ({"epochs": True}, "whole number"),
    ({"batch_size": 4}, "batch size must be from 8 to 256"),
    ({"batch_size": None}, "whole number"),
    ({"seed": -1}, "seed must be from 0"),
    ({"lr": 0.5}, "learning rate must be from 0.0001 to 0.01"),
    ({"lr": "fast"}, "learning rate must be a number"),
    ({"lr": float("nan")}, "learning rate must be a number"),
    ({"kind": "rnn"}, "kind must be one of cnn, gan"),
    ({"dataset": "cifar10"}, "dataset must be one of"),
])
def test_bad_settings_are_refused_with_a_message(overrides, says):
    with pytest.raises(jobs.InvalidSettings, match=says):
        request(**overrides)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_TRAIN_MAX_EPOCHS", "7")
    monkeypatch.setenv("DIGIT_LAB_TRAIN_LR_MAX", "0.2")
    monkeypatch.setenv("DIGIT_LAB_RUNS_DIR", "/tmp/elsewhere")
    loaded = settings.load()
    assert (loaded.max_epochs, loaded.lr_max, str(loaded.runs_dir)) == (7, 0.2, "/tmp/elsewhere")
    monkeypatch.setenv("DIGIT_LAB_TRAIN_MAX_EPOCHS", "lots")
    with pytest.raises(settings.SettingError, match="DIGIT_LAB_TRAIN_MAX_EPOCHS"):
        settings.load()
    monkeypatch.setenv("DIGIT_LAB_TRAIN_MAX_EPOCHS", "0")
    with pytest.raises(settings.SettingError):
        settings.load()


def test_the_dataset_list_matches_the_training_code():
    from training import data

    assert settings.DATASETS == data.DATASETS


def test_only_well_formed_corrections_are_kept():
    good = (np.full((28, 28), 0.5, np.float32), 3)
    kept = jobs.usable_corrections([good, (np.zeros((27, 28)), 1), (np.zeros((28, 28)), 12), "junk", (np.ones((28, 28)) * 2, 0)])
    assert [digit for _, digit in kept] == [3, 0]
    assert kept[1][0].max() == 1.0  # clipped into [0,1]


# -- the plot history ----------------------------------------------------------------------------
def test_history_is_thinned_and_append_only(caps):
    from training.runtime import Progress

    run = jobs.Run(request(), "me", caps, [])
    seen = []
    for step in range(1, 1001):
        run.record(Progress(step, 1000, 1, {"loss": 2.0, "accuracy": 0.5}, step / 100, dict,
                            epoch_end=step % 500 == 0, metrics={"held_out_loss": 1.0} if step % 500 == 0 else {}))
        points = run.view().points
        assert points[: len(seen)] == seen  # only ever appended to, so Gradio's diffs stay small
        seen = points
    train_loss = [p for p in seen if p[1] == "train loss"]
    assert 100 <= len(train_loss) <= jobs.MAX_POINTS and all(p[2] == 2.0 for p in train_loss)
    assert [p[0] for p in seen if p[1] == "held-out loss"] == [500, 1000]
    assert run.view().steps_per_second == pytest.approx(100, rel=0.01)


# -- the run manager -----------------------------------------------------------------------------
def test_stop_ends_the_run_between_batches_and_keeps_the_last_step(caps, exported):
    closed = threading.Event()
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=10_000, closed=closed))
    while run.view().step < 5:
        time.sleep(0.01)
    asked = time.monotonic()
    message = jobs.stop("me")
    assert time.monotonic() - asked < 2 and message.startswith("Stopped at step")
    assert closed.is_set()  # the training generator was closed, not left running
    assert run.done.wait(5)
    view = run.view()
    assert view.state == "finished" and view.model_path and view.stop_reason == "stopped"
    assert exported == [{"step": view.step}]  # what was exported is the last step taken
    assert jobs.current() is None


def test_a_second_run_is_refused_while_one_is_going(caps, exported):
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=200, delay=0.05))
    while run.view().step < 20:
        time.sleep(0.01)
    with pytest.raises(jobs.RunBusy, match=r"A CNN run is going.*step \d+ of 200.*about \d+ s"):
        jobs.start(request("gan"), "someone else", caps=caps, make_events=fake_events())
    assert "another visitor's" in jobs.stop("someone else")
    assert not run.done.is_set()
    jobs.stop("me")
    assert run.done.wait(5)
    again = jobs.start(request(), "someone else", caps=caps, make_events=fake_events(steps=3))
    assert again.done.wait(5) and again.view().state == "finished"


def test_the_time_cap_stops_a_run(caps, exported):
    run = jobs.start(request(), "me", caps=replace(caps, max_seconds=0.3), make_events=fake_events(steps=10_000))
    assert run.done.wait(5)
    view = run.view()
    assert view.stop_reason == "reached the 0.3 s time cap" and 0 < view.step < 10_000 and view.model_path


def test_a_crash_is_reported_and_frees_the_server(caps, exported):
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(crash_at=5))
    assert run.done.wait(5)
    view = run.view()
    assert view.state == "failed" and "the loss went NaN" in view.error and view.model_path is None
    assert exported == [] and jobs.current() is None
    assert jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=2)).done.wait(5)


def test_a_failed_export_keeps_no_model_and_says_why(caps, monkeypatch):
    from training.export import ExportError

    def failing_export(run, last):
        raise ExportError("parity failed: logits differ from PyTorch by up to 1e-2")
    monkeypatch.setattr(jobs, "_export", failing_export)
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=3))
    assert run.done.wait(5)
    assert run.view().state == "failed" and "parity failed" in run.view().error and run.model_path is None


def test_importing_the_tab_does_not_import_torch():
    code = "import sys, tabs.train, training.jobs; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=jobs.settings_module.ROOT, timeout=120)


@pytest.mark.slow
def test_real_cnn_run_exports_a_model_and_a_run_card(caps):
    """The real loop and the real export: a few steps, with a correction, then the files."""
    corrections = [(np.zeros((28, 28), np.float32), 7)]
    run = jobs.start(request(batch_size=64), "me", corrections, caps=replace(caps, max_steps=4))
    assert run.done.wait(300), "a 4-step run took over 5 minutes"
    view = run.view()
    assert view.state == "finished", view.error
    card = json.loads(open(view.card_path).read())
    assert card["steps"] == 4 and card["corrections"] == 1 and card["config"]["max_steps"] == 4
    assert card["command"].startswith("python -m training.train_cnn --dataset mnist-5k --epochs 2")
    assert card["metrics"]["parity_max_logit_difference"] < 1e-4
    assert any("corrections" in note for note in card["notes"])

    from inference.classifier import probabilities

    read = probabilities(np.zeros((2, 28, 28), np.float32), view.model_path)
    assert read.shape == (2, 10) and np.allclose(read.sum(1), 1, atol=1e-5)
