"""runs/jobs.py without a server: validation against the caps, the queue of runs (turns, one a
visitor, its bound, leaving it, its estimates), Stop, the time cap, crashes and failed exports, the
plot history, and one real (tiny) CNN run through export."""
import json
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import replace

from pathlib import Path

import numpy as np
import pytest

from runs import jobs
from training.settings import TrainSettings

CAPS = TrainSettings(max_epochs=5, max_seconds=30, batch_min=8, batch_max=256, lr_min=1e-4, lr_max=0.01)


@pytest.fixture(autouse=True)
def server_is_free_after_each_test(monkeypatch):
    monkeypatch.setattr(jobs, "timings", jobs.run_queue.Timings())  # each test's estimates from its own runs
    yield
    for run in reversed(jobs.runs()):
        jobs.request_stop(run, "test teardown", wait=5)
        assert run.done.wait(30), "a run outlived its test"


@pytest.fixture
def caps(tmp_path):
    return replace(CAPS, runs_dir=tmp_path / "runs")


def request(kind="cnn", **overrides):
    return jobs.validate(**{"kind": kind, "dataset": "mnist-5k", "epochs": 2, "batch_size": 64, "caps": CAPS} | overrides)


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
    train_loss = [p for p in seen if p[1] == "loss"]  # event keys: the tab names them in the visitor's language
    assert 100 <= len(train_loss) <= jobs.MAX_POINTS and all(p[2] == 2.0 for p in train_loss)
    assert [p[0] for p in seen if p[1] == "held_out_loss"] == [500, 1000]
    assert [(e, s) for e, s, _, _ in run.view().epoch_log] == [(1, 500), (1, 1000)]
    assert run.view().steps_per_second == pytest.approx(100, rel=0.01)


# -- the run manager -----------------------------------------------------------------------------
def test_gan_events_keep_the_game_and_the_samples_scores(caps):
    """d_real / d_fake become plot points like any loss; an epoch's samples come
    with the discriminator's score of each."""
    from training.runtime import Progress

    run = jobs.Run(request("gan"), "me", caps, [])
    samples, scores = np.zeros((100, 28, 28), np.float32), np.linspace(0, 1, 100)
    for step in (1, 2):
        event = Progress(step, 2, 1, {"g_loss": 1.0, "d_loss": 1.5, "d_real": 0.8, "d_fake": 0.2}, step, dict,
                         epoch_end=step == 2, metrics={"label_fidelity": 0.5} if step == 2 else {},
                         samples=samples if step == 2 else None)
        event.sample_scores = scores if step == 2 else None  # set by the GAN loop at an epoch's end
        run.record(event)
    view = run.view()
    assert {key for _, key, _ in view.points} == {"g_loss", "d_loss", "d_real", "d_fake", "label_fidelity"}
    assert view.samples_version == 1 and np.allclose(view.sample_scores, scores)
    assert view.epoch_log == [(1, 2, 2.0, {"label_fidelity": 0.5})] and view.request.kind == "gan"


def test_stop_ends_the_run_between_batches_and_keeps_the_last_step(caps, exported):
    closed = threading.Event()
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=10_000, closed=closed))
    while run.view().step < 5:
        time.sleep(0.01)
    asked = time.monotonic()
    message = jobs.stop("me")
    assert time.monotonic() - asked < 2 and str(message).startswith("Stopped at step")
    assert closed.is_set()  # the training generator was closed, not left running
    assert run.done.wait(5)
    view = run.view()
    assert view.state == "finished" and view.model_path and str(view.stop_reason) == "stopped"
    assert exported == [{"step": view.step}]  # what was exported is the last step taken
    assert jobs.current() is None


def wait_for_step(run, step):
    while run.view().step < step:
        assert not run.done.is_set(), run.view()
        time.sleep(0.01)


def test_a_second_visitors_run_waits_its_turn_and_starts_by_itself(caps, exported):
    began = time.monotonic()
    first = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=200, delay=0.02))
    wait_for_step(first, 20)
    per_step = (time.monotonic() - began) / 20  # 0.02 s on a quiet machine, more on a busy one
    second = jobs.start(request(), "someone else", caps=caps, make_events=fake_events(steps=5))
    third = jobs.start(request("gan"), "a third", caps=caps, make_events=fake_events(steps=5))
    seen, later = jobs.view(second), jobs.view(third)
    assert (seen.state, seen.place, seen.queue_length) == ("queued", 1, 2) and (later.place, later.queue_length) == (2, 2)
    assert seen.starts_in_measured and 0 < seen.starts_in <= 1.5 * 200 * per_step + jobs.EXPORT_SECONDS["cnn"]  # the first run's own rate
    assert later.starts_in > seen.starts_in and later.starts_in_measured  # the second is timed by the first: same settings
    assert "another visitor's" in str(jobs.stop("nobody's"))
    assert str(jobs.stop("a third")) == "Left the queue: your run was not started."  # a stop in mid-queue
    assert third.done.is_set() and third.view().state == "left" and jobs.runs() == [first, second]
    jobs.stop("me")
    assert second.done.wait(5) and second.view().state == "finished"  # it started on its own, and ran
    assert first.view().state == "finished" and jobs.runs() == []
    assert [call["step"] for call in exported] == [first.view().step, 5]  # the one who left trained nothing


def test_one_run_a_visitor_and_a_bounded_queue(caps, exported):
    caps = replace(caps, queue=1)
    first = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=200, delay=0.05))
    wait_for_step(first, 2)
    with pytest.raises(jobs.RunBusy, match="Your run is still going") as refused:
        jobs.start(request(), "me", caps=caps, make_events=fake_events())
    assert refused.value.key == "train.busy.yours"
    jobs.start(request("gan"), "someone else", caps=caps, make_events=fake_events())
    with pytest.raises(jobs.RunBusy, match="already in the queue"):
        jobs.start(request(), "someone else", caps=caps, make_events=fake_events())
    with pytest.raises(jobs.RunBusy, match=r"The queue of runs is full \(1 waiting\).*about \d+ s") as full:
        jobs.start(request(), "a third", caps=caps, make_events=fake_events())
    assert full.value.key == "train.busy.full" and full.value.values["seconds"] >= 1
    assert len(jobs.runs()) == 2 and not first.done.is_set()  # nothing refused disturbed what was there


def test_runs_at_once_share_the_places(caps, exported):
    caps = replace(caps, at_once=2)
    runs = [jobs.start(request(), owner, caps=caps, make_events=fake_events(steps=100, delay=0.02))
            for owner in ("a", "b", "c")]
    wait_for_step(runs[1], 1)
    assert [run.view().state != "queued" for run in runs] == [True, True, False]
    assert jobs.view(runs[2]).place == 1
    jobs.stop("b")
    assert runs[2].done.wait(10) and runs[2].view().state == "finished"


def test_the_wait_estimate_is_near_the_truth_once_a_run_has_been_timed(caps, exported):
    """The first run on a server is timed; then four visitors press Start together and each is
    told when theirs will start. The bar: within 30% of when it did."""
    one = dict(caps=caps, make_events=fake_events(steps=40, delay=0.04))  # 1.6 s a run: long beside a busy machine's jitter
    assert jobs.start(request(), "timed", **one).done.wait(10)
    runs = [jobs.start(request(), f"visitor {k}", **one) for k in range(4)]
    pressed = time.monotonic()
    told = [None] + [jobs.view(run).starts_in for run in runs[1:]]
    started = []
    for run in runs:
        while run.view().state == "queued":
            time.sleep(0.005)
        started.append(time.monotonic() - pressed)
    for k in range(1, 4):
        assert told[k] == pytest.approx(started[k], rel=0.3), (told, started)


def test_the_wait_for_a_place_counts_the_runs_going_and_those_ahead():
    E = jobs.run_queue.Estimate
    assert jobs.run_queue.wait([], [], 1) == E(0.0, True)
    assert jobs.run_queue.wait([E(5, True)], [E(3, True), E(4, False)], 1) == E(12, False)
    # two places: the first ahead takes the place free at 5 s, the second the one at 8 s; then 10 s
    assert jobs.run_queue.wait([E(5, True), E(10, True)], [E(3, True), E(4, True)], 2) == E(10, True)
    assert jobs.run_queue.wait([E(5, True)], [], 3) == E(0.0, True)  # a place is free now


def test_an_untimed_run_is_bounded_by_the_caps_and_said_so(caps):
    bound = jobs.run_queue.Timings().duration(request(), caps)
    assert not bound.measured and bound.seconds >= caps.max_seconds


def test_the_time_cap_stops_a_run(caps, exported):
    run = jobs.start(request(), "me", caps=replace(caps, max_seconds=0.3), make_events=fake_events(steps=10_000))
    assert run.done.wait(5)
    view = run.view()
    assert str(view.stop_reason) == "reached the 0.3 s time cap" and 0 < view.step < 10_000 and view.model_path


def test_a_crash_is_reported_and_frees_the_server(caps, exported):
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(crash_at=5))
    assert run.done.wait(5)
    view = run.view()
    assert view.state == "failed" and "the loss went NaN" in view.error and view.model_path is None
    assert exported == [] and jobs.current() is None
    assert jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=2)).done.wait(5)


class Held:
    """Something a run holds (its model, a benchmark's judge), weakly referable."""


def test_what_a_run_held_is_freed_before_it_is_done(caps, exported):
    """The run's thread lets go of its last event (which holds the model) and of its make_events
    before `done` is set. A process that exits as soon as a run is done otherwise had the daemon
    thread freeing tensors during the interpreter's shutdown, which aborted it."""
    from training.runtime import Progress

    by_maker, by_event = Held(), Held()
    refs = weakref.ref(by_maker), weakref.ref(by_event)

    def make(run, kept=by_maker):
        def events(model=by_event):
            for step in (1, 2, 3):
                time.sleep(0.2)
                yield Progress(step, 3, 1, {"loss": 1.0}, 0.2 * step, lambda m=model: {"step": 3}, epoch_end=step == 3,
                               metrics={"held_out_accuracy": 0.5} if step == 3 else {})
        return events()

    run = jobs.start(request(), "me", caps=caps, make_events=make)
    alive_when_done, set_done = [], run.done.set
    run.done.set = lambda: (alive_when_done.extend(ref() is not None for ref in refs), set_done())
    del make, by_maker, by_event
    assert run.done.wait(10) and run.view().state == "finished"
    assert alive_when_done == [False, False]


def test_a_failed_export_keeps_no_model_and_says_why(caps, monkeypatch):
    from training.export.onnx_export import ExportError

    def failing_export(run, last):
        raise ExportError("parity failed: logits differ from PyTorch by up to 1e-2")
    monkeypatch.setattr(jobs, "_export", failing_export)
    run = jobs.start(request(), "me", caps=caps, make_events=fake_events(steps=3))
    assert run.done.wait(5)
    assert run.view().state == "failed" and "parity failed" in run.view().error and run.model_path is None


def test_importing_the_tab_does_not_import_torch():
    code = "import sys, tabs.train.tab, runs.jobs; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=jobs.settings_module.ROOT, timeout=120)


@pytest.mark.slow
def test_real_cnn_run_exports_a_model_and_a_run_card(caps):
    """The real loop and the real export: a few steps, with a correction, then the files."""
    corrections = [(np.zeros((28, 28), np.float32), 7)]
    # a generous time cap: torch starting on two shared cores can take most of the default 30 s
    run = jobs.start(request(batch_size=64), "me", corrections, caps=replace(caps, max_steps=4, max_seconds=300))
    assert run.done.wait(300), "a 4-step run took over 5 minutes"
    view = run.view()
    assert view.state == "finished", view.error
    card = json.loads(open(view.card_path).read())
    assert card["steps"] == 4 and card["corrections"] == 1 and card["config"]["max_steps"] == 4
    assert card["command"].startswith("python -m training.train_cnn --arch lab --dataset mnist-5k")
    assert " --epochs 2 " in card["command"]
    assert card["metrics"]["parity_max_logit_difference"] < 1e-4
    assert any("corrections" in note for note in card["notes"])
    assert card["summary"]["en"].startswith("CNN run (Digit Lab's architecture): 4 of ") and "留出集准确率" in card["summary"]["zh-CN"]
    assert [Path(f).name for f in jobs.run_files(view.model_path)] == ["cnn.onnx", "cnn.layers.onnx", "cnn.json", "run.json"]

    from inference.classifier import probabilities

    read = probabilities(np.zeros((2, 28, 28), np.float32), view.model_path)
    assert read.shape == (2, 10) and np.allclose(read.sum(1), 1, atol=1e-5)
