"""The Train tab through its API (gradio_client against a launched app with small caps), and the
plain functions the tab draws with.

Runs are kept tiny (one epoch at a large batch, or stopped after a few steps) so the file stays
quick on two shared cores; most of each test's time is torch starting and the ONNX export."""
import json
import re
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from tabs import train as tab
from tests.conftest import cnn_steps
from training import jobs
from training.settings import TrainSettings

# -- the plain functions ---------------------------------------------------------------------


def test_plot_frames_split_losses_from_scores_in_recorded_order():
    points = [(1, "train loss", 2.0), (1, "train accuracy", 0.1), (70, "held-out loss", 1.5),
              (70, "held-out accuracy", 0.6), (80, "generator loss", 0.3), (90, "label fidelity", 0.5)]
    loss, score = tab.plot_frame(points, "loss"), tab.plot_frame(points, "score")
    assert loss["series"].tolist() == ["train loss", "held-out loss", "generator loss"]
    assert score["step"].tolist() == [1, 70, 90] and score["value"].tolist() == [0.1, 0.6, 0.5]
    empty = tab.plot_frame([], "loss")
    assert list(empty.columns) == ["step", "value", "series"] and empty["step"].dtype == np.int64


def test_sample_grid_puts_a_digit_on_each_row():
    samples = np.zeros((100, 28, 28), np.float32)
    samples[30:40] = 1.0  # the ten samples of digit 3
    grid = tab.sample_grid(samples, scale=1, gap=2)
    assert grid.shape == (10 * 30 - 2, 10 * 30 - 2) and grid.dtype == np.uint8
    assert (grid[3 * 30 : 3 * 30 + 28, :28] == 255).all() and (grid[2 * 30 : 2 * 30 + 28, :28] == 0).all()


def test_class_counts_show_what_the_cnn_reads():
    from training import data

    held_out = data.load("mnist-5k")[1]
    picks = np.concatenate([np.flatnonzero(held_out.labels.numpy() == d)[:10] for d in range(10)])
    real = held_out.images.numpy()[picks, 0]  # ten real digits of each class: nearly ten bars of ten
    counts = tab.class_counts(real)
    assert counts["digit"].tolist() == [str(d) for d in range(10)] and counts["count"].sum() == 100
    assert counts["count"].min() >= 7
    collapsed = tab.class_counts(np.repeat(real[:1], 100, axis=0))  # one zero a hundred times
    assert collapsed["count"].max() == 100


def test_status_says_steps_rate_and_time_left():
    caps = TrainSettings(max_seconds=100)
    view = jobs.RunView("r", "cnn", "training", 50, 200, 1, 3, 10.0, [], 10.0, {"held_out_accuracy": 0.9},
                        None, 0, None, None, None, None)
    text = tab.status_text(view, caps)
    assert "step 50 of 200" in text and "10.0 steps/s" in text and "about 15 s left" in text and "90.0%" in text
    capped = jobs.RunView(**{**view.__dict__, "elapsed": 95.0})
    assert "about 5 s left" in tab.status_text(capped, caps)  # the time cap comes first
    stopped = jobs.RunView(**{**view.__dict__, "state": "finished", "metrics": {}, "stop_reason": "stopped by the visitor",
                              "model_path": "runs/r/cnn.onnx", "card_path": "runs/r/run.json",
                              "exported_metrics": {"held_out_accuracy": 0.5}})
    text = tab.status_text(stopped, caps)  # stopped mid-epoch: the figures are the export's
    assert "stopped (stopped by the visitor)" in text and "held-out accuracy 50.0%" in text and "runs/r/run.json" in text
    failed = jobs.RunView(**{**view.__dict__, "state": "failed", "error": "ExportError: parity failed"})
    assert "parity failed" in tab.status_text(failed, caps) and "stays in use" in tab.status_text(failed, caps)


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_app(tmp_path_factory):
    from tests.conftest import launch_app, stop_app

    runs = tmp_path_factory.mktemp("runs")
    process, url = launch_app({
        "DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5", "DIGIT_LAB_TRAIN_THREADS": "1",
        "DIGIT_LAB_TRAIN_MAX_SECONDS": "120", "DIGIT_LAB_TRAIN_MAX_EPOCHS": "5",
    })
    yield url, runs
    stop_app(process)


def new_client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def step_of(status: str) -> int:
    """The step number in a streamed status line, 0 before the first step."""
    marker = "step "
    return int(status.split(marker, 1)[1].split(" ", 1)[0]) if marker in status and " of " in status else 0


def rows(plot: dict) -> list:
    """A streamed plot's rows: the tab sends each plot as an update (value and color map)."""
    return (plot.get("value") or {}).get("data", []) if "value" in plot else plot.get("data", [])


def wait_for_step(job, at_least: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs = job.outputs()
        if outputs and step_of(outputs[-1][0]) >= at_least:
            return outputs[-1][0]
        assert not job.done(), f"the run ended early: {outputs[-1][0] if outputs else job.exception()}"
        time.sleep(0.1)
    raise AssertionError(f"no step {at_least} within {timeout} s")


def wait_until_free(url, timeout: float = 120) -> None:
    """Poll until no run holds the server: a stranger's Stop says whether one is going."""
    client, deadline = new_client(url), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.predict(api_name="/stop_training") == "No run is going.":
            return
        time.sleep(0.5)
    raise AssertionError("the server stayed busy")


def classify(client, tmp_path, value) -> dict:
    """/classify (the Draw tab's endpoint) on a Sketchpad value: the ten probabilities."""
    from gradio_client import handle_file
    from PIL import Image

    def png(array, name):
        path = tmp_path / f"{name}.png"
        Image.fromarray(np.asarray(array)).save(path)
        return handle_file(str(path))
    payload = {"background": png(value["background"], "background"),
               "layers": [png(layer, f"layer{i}") for i, layer in enumerate(value["layers"])],
               "composite": png(value["composite"], "composite")}
    label = client.predict(payload, api_name="/classify")[0]
    return {c["label"]: c["confidence"] for c in label["confidences"]}


def test_a_short_run_streams_updates_and_swaps_in_its_model(train_app, tmp_path):
    from tests.draw_digits import drawn_digit

    url, runs = train_app
    client = new_client(url)
    sketch = drawn_digit(3, np.random.default_rng(3), canvas=224)
    shipped = classify(client, tmp_path, sketch)
    outputs = list(client.submit(kind="cnn", epochs=1, batch_size=128, api_name="/train"))
    steps = [step_of(o[0]) for o in outputs]
    assert len([s for s in steps if s]) >= 3, f"too few progress updates: {[o[0] for o in outputs]}"
    trained, total = [s for s in steps if s], cnn_steps(1, 128)
    assert trained == sorted(trained) and trained[-1] <= total
    status, loss_plot, score_plot, _, _, note = outputs[-1]
    assert "CNN run finished" in status and f"{total} of {total} steps" in status, status
    assert {row[2] for row in rows(loss_plot)} >= {"train loss", "held-out loss"}
    assert {row[2] for row in rows(score_plot)} >= {"train accuracy", "held-out accuracy"}
    model = Path(status.split("uses this model (`", 1)[1].split("`", 1)[0])
    assert model.is_file() and model.parent.parent == runs and str(model) in note
    card = json.loads((model.parent / "run.json").read_text())
    assert card["command"].startswith("python -m training.train_cnn --dataset mnist-5k --epochs 1 --batch-size 128")
    assert card["steps"] == total and not card["stopped_early"]

    # This session's Draw tab now reads with the run's model (one epoch: nothing like the shipped
    # one), another session's still with the shipped one, and "restore" brings it back.
    from inference.classifier import probabilities

    mine, theirs = classify(client, tmp_path, sketch), classify(new_client(url), tmp_path, sketch)
    assert theirs == pytest.approx(shipped, abs=1e-6)
    assert max(abs(mine[d] - shipped[d]) for d in shipped) > 0.05, (mine, shipped)
    assert probabilities(np.zeros((1, 28, 28), np.float32), str(model)).shape == (1, 10)  # it serves
    client.predict(api_name="/restore_shipped_models")
    assert classify(client, tmp_path, sketch) == pytest.approx(shipped, abs=1e-6)


def test_stop_ends_the_run_within_two_seconds_and_keeps_it(train_app):
    url, _ = train_app
    client = new_client(url)
    job = client.submit(kind="cnn", epochs=3, api_name="/train")  # over 200 steps: far from done when stopped
    wait_for_step(job, 3)
    asked = time.monotonic()
    message = client.predict(api_name="/stop_training")
    round_trip = time.monotonic() - asked
    assert message.startswith("Stopped at step"), message
    took = float(message.split("(", 1)[1].split(" s after asking", 1)[0])
    assert took < 2.0 and round_trip < 4.0, (message, round_trip)  # the server's figure, and one with HTTP
    status = job.result()[0]
    assert "stopped (stopped by the visitor)" in status and f"of {cnn_steps(3, 64)} steps" in status, status
    assert "uses this model" in status  # what it learned was exported and swapped in


def test_a_second_run_is_refused_while_one_is_going(train_app):
    from gradio_client.exceptions import AppError

    url, _ = train_app
    first, second = new_client(url), new_client(url)
    job = first.submit(kind="cnn", epochs=3, api_name="/train")
    wait_for_step(job, 1)
    with pytest.raises(AppError, match=r"A CNN run is going on this server .*about \d+ s"):
        second.predict(kind="gan", epochs=1, api_name="/train")
    assert "another visitor's" in second.predict(api_name="/stop_training")
    assert step_of(job.outputs()[-1][0]) > 0 and not job.done()
    first.predict(api_name="/stop_training")
    assert "stopped" in job.result()[0]


@pytest.mark.parametrize("settings, says", [
    ({"epochs": 0}, "epochs must be from 1 to 5"),
    ({"epochs": 6}, "epochs must be from 1 to 5"),
    ({"epochs": "three"}, "epochs must be a whole number"),
    ({"epochs": 1, "lr": 3.0}, "learning rate must be from"),
    ({"epochs": 1, "batch_size": 2}, "batch size must be from 8 to 512"),
    ({"epochs": 1, "dataset": "cifar10"}, "cifar10"),
    ({"epochs": 1, "kind": "rnn"}, "rnn"),
])
def test_bad_settings_are_refused_before_anything_starts(train_app, settings, says):
    from gradio_client.exceptions import AppError

    client = new_client(train_app[0])
    started = time.monotonic()
    with pytest.raises(AppError, match=says):
        client.predict(**{"kind": "cnn"} | settings, api_name="/train")
    assert time.monotonic() - started < 10  # refused at once, not after a run


def test_a_closed_connection_stops_the_run(train_app):
    """What a closed browser tab does: the event stream drops. Gradio then closes the /train
    generator, which stops the run; it is still exported, and its card says why it stopped."""
    url, runs = train_app
    api = url + "gradio_api/"
    config = httpx.get(url + "config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "train")
    session = uuid.uuid4().hex
    inputs = ["cnn", "mnist-5k", 5, 0, 64, 0, True, None, None, None]  # the states come from the session
    total = cnn_steps(5, 64)
    before = set(runs.iterdir())
    joined = httpx.post(api + "queue/join", json={"data": inputs, "fn_index": fn_index, "session_hash": session,
                                                   "event_data": None, "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with httpx.stream("GET", api + "queue/data", params={"session_hash": session}, timeout=120) as stream:
        for line in stream.iter_lines():
            # Later updates are diffs against the first, but a changed status line travels whole.
            if re.search(rf"step ([3-9]|\d\d+) of {total}", line):
                break
    dropped = time.monotonic()
    wait_until_free(url)
    new = [p for p in runs.iterdir() if p not in before]
    assert len(new) == 1 and (new[0] / "run.json").is_file(), new
    card = json.loads((new[0] / "run.json").read_text())
    assert card["stop_reason"] == "the page was closed" and card["steps"] < card["total_steps"] == total
    print(f"stopped at step {card['steps']}; server free {time.monotonic() - dropped:.1f} s after the drop")


@pytest.mark.slow
def test_a_gan_run_shows_samples_and_what_the_cnn_reads_in_them(train_app):
    from PIL import Image

    url, _ = train_app
    client = new_client(url)
    outputs = list(client.submit(kind="gan", epochs=1, batch_size=256, api_name="/train"))  # 17 steps
    status, loss_plot, score_plot, samples, histogram, note = outputs[-1]
    assert "GAN run finished" in status and "Generate tab now uses" in status, status
    assert {row[2] for row in rows(loss_plot)} == {"generator loss", "discriminator loss"}
    assert [row[2] for row in rows(score_plot)] == ["label fidelity"]  # one point, at the epoch's end
    images = [o[3] for o in outputs if isinstance(o[3], str)]
    assert images and Path(images[-1]).is_file()  # the fixed-latent grid, sent at the epoch's end
    bars = [o[4] for o in outputs if isinstance(o[4], dict) and o[4].get("data")]
    assert bars and sum(row[1] for row in bars[-1]["data"]) == 100
    assert "GAN: yours" in note
    # This session's /sample now draws with the run's generator; another session's does not.
    mine = np.asarray(Image.open(client.predict(3, 0, api_name="/sample")))
    if not (Path(tab.__file__).parent.parent / "exports" / "gan.onnx").is_file():
        pytest.skip("no shipped exports/gan.onnx to compare this session's generator with")
    theirs = np.asarray(Image.open(new_client(url).predict(3, 0, api_name="/sample")))
    assert mine.shape == theirs.shape and np.abs(mine.astype(int) - theirs.astype(int)).mean() > 5


@pytest.mark.browser
@pytest.mark.slow
def test_closing_the_browser_page_stops_the_run(browser, train_app):
    """The real thing behind the test above: a Chromium page starts a run and is closed."""
    url, runs = train_app
    before = set(runs.iterdir())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Train").click()
    page.get_by_label("Epochs").fill("5")
    page.get_by_role("button", name="Start").click()
    total = cnn_steps(5, 64)
    page.get_by_text(re.compile(rf"step [3-9]\d* of {total}")).wait_for(timeout=120_000)
    context.close()
    wait_until_free(url)
    new = [p for p in runs.iterdir() if p not in before]
    card = json.loads((new[0] / "run.json").read_text())
    assert card["stop_reason"] == "the page was closed" and card["steps"] < total
