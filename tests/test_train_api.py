"""The Train tab through its API (gradio_client against a launched app with small caps); its plain
functions are tests/test_train_tab.py's.

Runs are kept tiny (one epoch at a large batch, or stopped after a few steps) so the file stays
quick on two shared cores; most of each test's time is torch starting and the ONNX export."""
import html
import json
import re
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import ROOT, cnn_steps
from tests import test_browser
from tests.train_client import OUT, classify, new_client, step_of, value, wait_for_step, wait_for_text, wait_until_free

# -- the API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_app(tmp_path_factory):
    from tests.conftest import launch_app, stop_app

    runs = tmp_path_factory.mktemp("runs")
    process, url = launch_app({
        "DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5", "DIGIT_LAB_TRAIN_THREADS": "1",
        "DIGIT_LAB_TRAIN_MAX_SECONDS": "120", "DIGIT_LAB_TRAIN_MAX_EPOCHS": "5", "DIGIT_LAB_TRAIN_QUEUE": "2",
    })
    yield url, runs
    stop_app(process)


@pytest.fixture(scope="module")
def first_run(train_app, tmp_path_factory):
    """One visitor's first run, a short CNN run (one epoch): its streamed outputs, and a drawn 3's
    reading with the shipped CNN and then with the run's. The next test checks the run itself; the
    one after trains a second run in the same session, side by side with this one."""
    from tests.draw_digits import drawn_digit

    url, _ = train_app
    client, pictures = new_client(url), tmp_path_factory.mktemp("first-run")
    sketch = drawn_digit(3, np.random.default_rng(3), canvas=224)
    shipped = classify(client, pictures, sketch)
    outputs = list(client.submit(kind="cnn", epochs=1, batch_size=128, api_name="/train"))
    mine = classify(client, pictures, sketch)
    return {"client": client, "sketch": sketch, "shipped": shipped, "outputs": outputs, "mine": mine}


@pytest.mark.slow
def test_a_short_run_streams_updates_and_swaps_in_its_model(train_app, first_run, tmp_path):
    url, runs = train_app
    client, sketch, shipped, outputs = (first_run[k] for k in ("client", "sketch", "shipped", "outputs"))
    steps = [step_of(o[0]) for o in outputs]
    assert len([s for s in steps if s]) >= 3, f"too few progress updates: {[o[0] for o in outputs]}"
    trained, total = [s for s in steps if s], cnn_steps(1, 128)
    assert trained == sorted(trained) and trained[-1] <= total
    last = {name: value(outputs[-1][i]) for name, i in OUT.items()}
    status = last["status"]
    assert "CNN run finished" in status and f"{total} of {total} steps" in status and "run 1" in status, status
    assert {"train loss", "held-out loss"} <= set(re.findall(r"<title>([^<]+)</title></path>", last["loss"]))
    # One epoch: the held-out accuracy is one point, drawn as a dot
    assert "held-out accuracy" in last["score"] and "<circle" in last["score"]
    # Names and downloads, never the server's paths
    for shown in ("status", "note", "table", "compare"):
        assert str(runs) not in last[shown] and "/cnn.onnx" not in last[shown], (shown, last[shown])
    assert last["note"] == "This session's CNN: yours, run 1 (cnn.onnx). GAN: the shipped one."
    files = {Path(f).name: Path(f) for f in last["files"]}  # downloaded by the client, as a visitor would
    assert set(files) >= {"cnn.onnx", "run.json", "cnn.json"}, files
    card = json.loads(files["run.json"].read_text())
    assert card["command"].startswith("python -m training.train_cnn --arch lab --dataset mnist-5k --epochs 1 --batch-size 128")
    assert card["steps"] == total and not card["stopped_early"]
    model = runs / card["run"] / "cnn.onnx"
    assert files["cnn.onnx"].read_bytes() == model.read_bytes()

    # This session's Draw tab now reads with the run's model (one epoch: nothing like the shipped
    # one), another session's still with the shipped one, and "restore" brings it back.
    from inference.classifier import probabilities

    mine, theirs = first_run["mine"], classify(new_client(url), tmp_path, sketch)
    assert theirs == pytest.approx(shipped, abs=1e-6)
    assert max(abs(mine[d] - shipped[d]) for d in shipped) > 0.05, (mine, shipped)
    assert probabilities(np.zeros((1, 28, 28), np.float32), str(files["cnn.onnx"])).shape == (1, 10)  # it serves
    client.predict(api_name="/restore_shipped_models")
    assert classify(client, tmp_path, sketch) == pytest.approx(shipped, abs=1e-6)


@pytest.mark.slow
def test_runs_side_by_side_and_any_one_used_again(first_run, tmp_path):
    """A second short run in the first one's session: both in the table and overlaid (a dot each:
    one epoch), the choice lists both, and /use_run swaps the first one back into this session's
    Draw tab (whatever it uses now: the test above restores the shipped model)."""
    client, sketch, first = first_run["client"], first_run["sketch"], first_run["outputs"][-1]
    reading_first = first_run["mine"]
    second = client.predict(kind="cnn", epochs=1, batch_size=512, seed=2, augment="off", api_name="/train")
    last = {name: value(second[i]) for name, i in OUT.items()}
    lines = last["table"].splitlines()
    assert lines[2].startswith("| 2 | CNN · Digit Lab's · no augmentation · epochs: 1 |"), lines
    assert lines[3].startswith("| 1 | CNN · Digit Lab's"), lines
    overlay = html.unescape(last["compare"])
    assert overlay.count('class="mark-line"') == 2 and overlay.count("<circle") == 2
    assert "1: CNN" in overlay and "2: CNN" in overlay
    assert "run 2" in last["note"]
    choice = second[OUT["choice"]]
    ids = [c[1] for c in choice["choices"]] if isinstance(choice, dict) else None
    assert ids and len(ids) == 2, choice
    note, said = client.predict(ids[1], api_name="/use_run")  # the older run, listed second
    assert "run 1" in note and "Draw tab now uses the model of run 1" in said, (note, said)
    assert classify(client, tmp_path, sketch) == pytest.approx(reading_first, abs=1e-6)
    assert value(first[OUT["status"]]).startswith("**CNN run finished**")


@pytest.mark.slow
def test_a_primer_cnn_run_with_sigmoid_on_100_digits_gets_its_card(train_app):
    url, runs = train_app
    client = new_client(url)
    outputs = client.predict(kind="cnn", epochs=2, arch="seed", activation="sigmoid", train_digits=100, api_name="/train")
    status = value(outputs[OUT["status"]])
    assert "CNN run finished" in status, status
    files = {Path(f).name: Path(f) for f in value(outputs[OUT["files"]])}
    card = json.loads(files["run.json"].read_text())
    assert (card["config"]["arch"], card["config"]["activation"], card["config"]["train_digits"]) == ("seed", "sigmoid", 100)
    assert card["config"]["loss"] == "ce"  # the loss left out: the architecture's own
    assert "--arch seed" in card["command"] and "--activation sigmoid" in card["command"]
    assert "the primer's · Sigmoid · 100 digits" in html.unescape(value(outputs[OUT["table"]]))


@pytest.mark.slow
def test_a_cnn_run_on_mean_squared_error_says_so_and_draws_each_layers_gradient(train_app):
    url, _ = train_app
    outputs = new_client(url).predict(kind="cnn", epochs=1, loss="mse", train_digits=100, api_name="/train")
    status = value(outputs[OUT["status"]])
    assert "CNN run finished" in status, status
    files = {Path(f).name: Path(f) for f in value(outputs[OUT["files"]])}
    card, model_card = (json.loads(files[name].read_text()) for name in ("run.json", "cnn.json"))
    assert card["config"]["loss"] == model_card["knobs"]["loss"] == "mse" and "--loss mse" in card["command"]
    assert "Digit Lab's · MSE · 100 digits" in html.unescape(value(outputs[OUT["table"]]))
    assert "trains on mean squared error" in html.unescape(value(outputs[OUT["loss"]]))
    gradients = html.unescape(value(outputs[OUT["gradients"]]))
    assert "Gradient per layer" in gradients and gradients.count('class="mark-line"') == 12  # Digit Lab's 12 layers with weights


@pytest.mark.slow
def test_an_impossible_combination_is_refused_in_the_visitors_language(train_app):
    from gradio_client.exceptions import AppError

    url, _ = train_app
    started = time.monotonic()
    with pytest.raises(AppError, match="Not started"):  # GAN-made digits are digits: not with Fashion-MNIST
        new_client(url).predict(kind="cnn", epochs=1, dataset="fashion-mnist", gan_digits=500, api_name="/train")
    with pytest.raises(AppError, match="hinge is a GAN's loss function; a CNN's loss function is cross-entropy"):
        new_client(url).predict(kind="cnn", epochs=1, loss="hinge", api_name="/train")
    with pytest.raises(AppError, match="mse is a CNN's loss function"):  # the radio passes either kind's loss on
        new_client(url).predict(kind="gan", epochs=1, loss="mse", api_name="/train")
    with pytest.raises(AppError, match="epochs must be from 1 to 5"):  # a GAN's own loss gets as far as the caps
        new_client(url).predict(kind="gan", epochs=9, loss="bce", api_name="/train")
    with pytest.raises(AppError, match="未开始训练：本服务器上训练轮数必须在 1 到 5 之间"):
        new_client(url, "zh-CN,zh;q=0.9").predict(kind="cnn", epochs=9, api_name="/train")
    assert time.monotonic() - started < 20  # refused at once, not after a run


@pytest.mark.slow
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


@pytest.mark.slow
def test_runs_queue_take_their_turn_and_a_place_can_be_left(train_app):
    """A classroom in miniature: while one visitor trains, two more join the queue (the server
    allows two waiting) and see their places; a fourth is told the queue is full; one in the queue
    leaves it; a visitor cannot queue a second run of their own; when the first run is stopped, the
    next starts by itself and streams its steps."""
    from gradio_client.exceptions import AppError

    url, _ = train_app
    first, second, third, fourth = (new_client(url) for _ in range(4))
    going = first.submit(kind="cnn", epochs=3, api_name="/train")
    wait_for_step(going, 1)
    next_up = second.submit(kind="cnn", epochs=1, batch_size=256, api_name="/train")
    said = wait_for_text(next_up, "waiting its turn")
    assert re.search(r"number 1 of 1 in the queue\. It should start (in about|within) \d+", said), said
    last = third.submit(kind="gan", epochs=1, api_name="/train")
    assert "number 2 of 2" in wait_for_text(last, "waiting its turn")
    with pytest.raises(AppError, match=r"The queue of runs is full \(2 waiting\)"):
        fourth.predict(kind="cnn", epochs=1, api_name="/train")
    with pytest.raises(AppError, match="already in the queue"):
        second.predict(kind="gan", epochs=1, api_name="/train")
    with pytest.raises(AppError, match="Your run is still going"):
        first.predict(kind="cnn", epochs=1, api_name="/train")
    assert third.predict(api_name="/stop_training") == "Left the queue: your run was not started."
    assert "run not started**: it left the queue (stopped by the visitor)" in last.result()[0]
    assert "another visitor's" in fourth.predict(api_name="/stop_training")
    assert step_of(going.outputs()[-1][0]) > 0 and not next_up.done()
    first.predict(api_name="/stop_training")
    assert "stopped" in going.result()[0]
    wait_for_step(next_up, 1)  # its turn came: it started by itself, and streams
    assert second.predict(api_name="/stop_training").startswith("Stopped at step")
    assert "uses this model" in next_up.result()[0]


@pytest.mark.parametrize("settings, says", [
    ({"epochs": 0}, "epochs must be from 1 to 5"),
    ({"epochs": 6}, "epochs must be from 1 to 5"),
    ({"epochs": "three"}, "epochs must be a whole number"),
    ({"epochs": 1, "lr": 3.0}, "learning rate must be from"),
    ({"epochs": 1, "batch_size": 2}, "batch size must be from 8 to 512"),
    ({"epochs": 1, "dataset": "cifar10"}, "cifar10"),
    ({"epochs": 1, "kind": "rnn"}, "rnn"),
])
@pytest.mark.slow
def test_bad_settings_are_refused_before_anything_starts(train_app, settings, says):
    from gradio_client.exceptions import AppError

    client = new_client(train_app[0])
    started = time.monotonic()
    with pytest.raises(AppError, match=says):
        client.predict(**{"kind": "cnn"} | settings, api_name="/train")
    assert time.monotonic() - started < 10  # refused at once, not after a run


def test_an_omitted_setting_is_the_own_of_the_kind_asked_for(train_app):
    """gradio_client fills a parameter left out with the default the app's API page lists: the word
    "own", which the server reads for the kind and architecture asked for."""
    from runs import jobs
    from training.settings import TrainSettings

    listed = new_client(train_app[0]).view_api(return_format="dict", print_info=False)["named_endpoints"]["/train"]
    defaults = {p["parameter_name"]: p["parameter_default"] for p in listed["parameters"]}
    assert all(p["parameter_has_default"] for p in listed["parameters"])
    assert (defaults["epochs"], defaults["batch_size"], defaults["lr"], defaults["dropout"], defaults["train_digits"]) == (
        "own", "own", "own", "own", "all")
    settings = {k: v for k, v in defaults.items() if k not in ("use_corrections",)}
    gan = jobs.validate(**settings | {"kind": "gan"}, caps=TrainSettings())
    assert (gan.epochs, gan.batch_size, gan.lr) == (8, 32, None)  # the Train tab's GAN run, not the CNN's 3 at 64
    primer_gan = jobs.validate(**settings | {"kind": "gan", "arch": "seed", "epochs": 1}, caps=TrainSettings())
    assert (primer_gan.epochs, primer_gan.batch_size) == (1, 64)
    cnn = jobs.validate(**settings | {"kind": "cnn"}, caps=TrainSettings())
    assert (cnn.epochs, cnn.batch_size, cnn.knobs) == (3, 64, {"arch": "lab", "train_digits": 0, "gan_digits": 0})


@pytest.mark.slow
def test_a_closed_connection_stops_the_run(train_app):
    """What a closed browser tab does: the event stream drops. Gradio then closes the /train
    generator, which stops the run; it is still exported, and its card says why it stopped."""
    url, runs = train_app
    api = url + "gradio_api/"
    config = httpx.get(url + "config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "train")
    session = uuid.uuid4().hex
    # The states (cnn_path, gan_path, corrections, runs) come from the session; then the knobs.
    inputs = ["cnn", "mnist-5k", 5, "own", 64, 0, True, None, None, None, None, "lab", None, None, "own", "all", None, 0, 1,
              "dataset", False, None]
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
def test_a_gan_run_shows_the_game_samples_with_scores_and_what_the_cnn_reads(train_app):
    from PIL import Image

    url, _ = train_app
    client = new_client(url)
    # The batch size left out: the GAN's own (32), not the CNN's 64; 140 steps
    outputs = list(client.submit(kind="gan", epochs=1, api_name="/train"))
    last = {name: value(outputs[-1][i]) for name, i in OUT.items()}
    assert "GAN run finished" in last["status"] and "Generate tab now uses" in last["status"], last["status"]
    card = json.loads(next(Path(f) for f in last["files"] if Path(f).name == "run.json").read_text())
    assert (card["config"]["batch_size"], card["config"]["epochs"], card["total_steps"]) == (32, 1, 4500 // 32)
    assert {s["name"]: s["value"] for s in card["settings"]}["batch_size"] == 32
    assert set(re.findall(r"<title>([^<]+)</title></path>", last["loss"])) == {"generator loss", "discriminator loss"}
    assert "label fidelity" in last["score"] and "<circle" in last["score"]  # one point, at the epoch's end
    game = [value(o[OUT["game"]]) for o in outputs if "<svg" in str(value(o[OUT["game"]]) or "")][-1]
    assert {"D on real digits", "D on generated digits"} <= set(re.findall(r"<title>([^<]+)</title></path>", game))
    notes = [value(o[OUT["game_note"]]) for o in outputs if value(o[OUT["game_note"]])]
    assert notes and "raw scores, not probabilities" in notes[0] and "a row per digit asked for" in notes[0]
    images = [o[OUT["samples"]] for o in outputs if isinstance(o[OUT["samples"]], str)]
    assert images and Path(images[-1]).is_file()  # the fixed-latent grid, sent at the epoch's end
    assert Image.open(images[-1]).size == (10 * 90 - 6, 10 * 106 - 6)  # a caption strip under each sample: D's score
    bars = [value(o[OUT["histogram"]]) for o in outputs if "<rect" in str(value(o[OUT["histogram"]]) or "")]
    assert bars and bars[-1].count("<rect") == 10
    assert "GAN: yours, run 1 (gan.onnx)" in last["note"]
    # This session's /sample now draws with the run's generator; another session's does not.
    mine = np.asarray(Image.open(client.predict(3, 0, api_name="/sample")))
    if not (ROOT / "exports" / "gan.onnx").is_file():
        pytest.skip("no shipped exports/gan.onnx to compare this session's generator with")
    theirs = np.asarray(Image.open(new_client(url).predict(3, 0, api_name="/sample")))
    assert mine.shape == theirs.shape and np.abs(mine.astype(int) - theirs.astype(int)).mean() > 5


@pytest.mark.slow
def test_a_primer_gan_run_says_its_digits_are_not_asked_for(train_app):
    url, _ = train_app
    outputs = list(new_client(url).submit(kind="gan", epochs=1, batch_size=256, arch="seed", api_name="/train"))
    last = {name: value(outputs[-1][i]) for name, i in OUT.items()}
    assert "GAN run finished" in last["status"], last["status"]
    notes = [value(o[OUT["game_note"]]) for o in outputs if value(o[OUT["game_note"]])]
    assert "not told which digit to draw" in notes[0] and "a probability that a digit is real" in notes[0]
    bars = [html.unescape(value(o[OUT["histogram"]])) for o in outputs if "<rect" in str(value(o[OUT["histogram"]]) or "")]
    assert bars and "the digits the primer's GAN drew" in bars[-1]
    assert "read confidently" in last["score"] or "label fidelity" not in last["score"]


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
    status = page.locator("#train-status")
    shown = test_browser.wait_for_text(page, status, r"step ([3-9]|\d\d+) of \d+", 120)
    assert f" of {total}" in shown, f"the run is not the five epochs typed in: {shown}"
    context.close()
    wait_until_free(url)
    new = [p for p in runs.iterdir() if p not in before]
    card = json.loads((new[0] / "run.json").read_text())
    assert card["stop_reason"] == "the page was closed" and card["steps"] < total
