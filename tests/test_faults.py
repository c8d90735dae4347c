"""Faults a deployment meets: an export killed part-way, a missing or corrupt model at start-up,
and a visitor who leaves in the middle of a training run. Everything works on temporary copies;
the real exports/ is never touched."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, launch_app, stop_app

pytestmark = pytest.mark.slow

# The export in a child process that SIGKILLs itself right after its first move into the exports
# folder: the worst moment, with the new model in place and its card not yet.
KILLED_BETWEEN_MOVES = """
import os, signal, sys
from pathlib import Path
folder, real_replace = Path(sys.argv[1]).resolve(), os.replace
def replace_then_die(source, target, *args, **kwargs):
    real_replace(source, target, *args, **kwargs)
    if Path(target).resolve().parent == folder:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace_then_die
from training.export.onnx_export import main
main(sys.argv[2:])
"""


@pytest.fixture
def exports_copy(tmp_path) -> tuple[Path, dict]:
    """A temporary copy of exports/ and the bytes of each file in it."""
    folder = tmp_path / "exports"
    shutil.copytree(ROOT / "exports", folder)
    return folder, {p.name: p.read_bytes() for p in folder.iterdir()}


def start_export(checkpoint: Path, folder: Path, kill_between_moves: bool = False) -> subprocess.Popen:
    args = ["--checkpoint", str(checkpoint), "--out", str(folder / "cnn.onnx")]
    command = [sys.executable, "-c", KILLED_BETWEEN_MOVES, str(folder), *args] if kill_between_moves else [sys.executable, "-m", "training.export", *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_when(process: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the export finished before the point it was to be killed at"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def a_working_cnn(path: Path) -> None:
    """The file is a complete classifier the app can serve."""
    import onnx

    from inference.sessions import session

    onnx.checker.check_model(str(path), full_check=True)
    logits = session("cnn", path).run(["logits"], {"image": np.zeros((2, 1, 28, 28), np.float32)})[0]
    assert logits.shape == (2, 10) and np.isfinite(logits).all()


def check_intact(folder: Path, originals: dict, strictly_unchanged: bool) -> None:
    """Every served file is the old one byte for byte, or (only where a move already happened) a
    complete new one; nothing is added but *.tmp leftovers, which .gitignore keeps out."""
    now = {p.name for p in folder.iterdir()}
    assert set(originals) <= now, f"files vanished: {set(originals) - now}"
    assert all(name.endswith(".tmp") for name in now - set(originals)), f"unexpected files: {now - set(originals)}"
    for name, old in originals.items():
        if (folder / name).read_bytes() == old:
            continue
        assert not strictly_unchanged, f"{name} changed although the export was killed before moving anything"
        if name.endswith(".onnx"):
            a_working_cnn(folder / name)
        else:
            json.loads((folder / name).read_text())
    a_working_cnn(folder / "cnn.onnx")


def test_export_killed_while_starting_leaves_exports_untouched(tiny_checkpoint, exports_copy):
    folder, originals = exports_copy
    process = start_export(tiny_checkpoint, folder)
    started = time.monotonic()
    kill_when(process, lambda: time.monotonic() - started > 1.0)
    check_intact(folder, originals, strictly_unchanged=True)


def test_export_killed_while_writing_the_model_leaves_exports_untouched(tiny_checkpoint, exports_copy):
    folder, originals = exports_copy
    process = start_export(tiny_checkpoint, folder)
    kill_when(process, lambda: (folder / "cnn.onnx.tmp").exists())
    check_intact(folder, originals, strictly_unchanged=True)


def test_export_killed_between_its_two_moves_leaves_a_servable_model(tiny_checkpoint, exports_copy):
    folder, originals = exports_copy
    process = start_export(tiny_checkpoint, folder, kill_between_moves=True)
    assert process.wait(180) == -signal.SIGKILL, "the export was meant to be killed after its first move"
    assert (folder / "cnn.onnx").read_bytes() != originals["cnn.onnx"], "the kill came before the model was moved"
    check_intact(folder, originals, strictly_unchanged=False)


# --- a missing or corrupt model at start-up -----------------------------------------------------

def broken_exports(folder: Path, missing: str, corrupt: str) -> Path:
    """A copy of exports/ with one model deleted and the other cut in half (an interrupted copy)."""
    shutil.copytree(ROOT / "exports", folder)
    (folder / f"{missing}.onnx").unlink(missing_ok=True)
    source = ROOT / "exports" / f"{corrupt}.onnx"
    whole = source.read_bytes() if source.exists() else b"\x08\x07" + os.urandom(4096)
    (folder / f"{corrupt}.onnx").write_bytes(whole[: len(whole) // 2])
    return folder


@pytest.mark.parametrize("missing, corrupt", [("cnn", "gan"), ("gan", "cnn")])
def test_a_missing_or_corrupt_model_leaves_the_app_up_with_a_clear_message(tmp_path, missing, corrupt):
    import httpx
    from gradio_client import Client

    from benchmarks.launch import sketch_value

    exports = broken_exports(tmp_path / "exports", missing, corrupt)
    process, url = launch_app({"DIGIT_LAB_EXPORTS": str(exports)})
    try:
        problem = {missing: f"{missing}.onnx is missing", corrupt: f"{corrupt}.onnx could not be loaded"}
        client = Client(url, verbose=False)
        # Draw: the reading says the digit model is unavailable, which file, and how to make it.
        label, verdict, *_ = client.predict(sketch_value(tmp_path, 7), api_name="/classify")
        assert "not available" in verdict and problem["cnn"] in verdict and "python -m training" in verdict, verdict
        assert not label.get("confidences"), label
        # Generate: the tab opens with the reason in place of the sliders; /sample says it too.
        page_config = httpx.get(url + "config", timeout=30).text
        assert "No generator to show" in page_config and problem["gan"] in page_config
        with pytest.raises(Exception, match=problem["gan"]):
            client.predict(3, 7, api_name="/sample")
        # The rest of the app is still there and answering.
        assert httpx.get(url, timeout=30).status_code == 200
        assert client.predict(api_name="/stop_training") == "No run is going."
        client.close()
        assert process.poll() is None, "the server exited"
    finally:
        stop_app(process)


# --- a visitor who leaves mid-run ----------------------------------------------------------------

# A visitor's browser, reduced to what matters: start a CNN run, print each status as it streams.
# The test SIGKILLs this process, which drops its connections the way a closed tab does.
VISITOR = """
import sys
from gradio_client import Client
client = Client(sys.argv[1], verbose=False)
job = client.submit(kind="cnn", epochs=3, api_name="/train")  # the rest: the defaults docs/api.md promises
for update in job:
    print(str(update[0]).replace("\\n", " "), flush=True)
print("ENDED", job.status().code, flush=True)
"""


@pytest.fixture
def training_app(tmp_path):
    runs = tmp_path / "runs"
    process, url = launch_app({"DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_THREADS": "1",
                               "DIGIT_LAB_TRAIN_MAX_SECONDS": "120", "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5"})
    yield url, runs
    stop_app(process)


def test_a_visitor_leaving_mid_run_frees_the_server(training_app):
    from gradio_client import Client

    url, runs = training_app
    visitor = subprocess.Popen([sys.executable, "-c", VISITOR, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 120
        for line in visitor.stdout:  # wait until the run is really training
            seen.append(line.strip())
            if "step" in line and "starting" not in line:
                break
            assert time.monotonic() < deadline and not line.startswith("ENDED"), f"the run never got going: {seen[-5:]}"
        else:
            pytest.fail(f"the visitor's client died before the run trained: {seen[-5:]}")
    finally:
        visitor.kill()
        visitor.wait(10)

    probe = Client(url, verbose=False)
    deadline, answer = time.monotonic() + 150, None
    while time.monotonic() < deadline:  # stopped between batches, exported, and the lock released
        answer = probe.predict(api_name="/stop_training")
        if answer == "No run is going.":
            break
        time.sleep(1)
    probe.close()
    assert answer == "No run is going.", f"the server is still busy after the visitor left: {answer!r}"
    cards = list(runs.glob("*/run.json"))
    assert len(cards) == 1, f"expected the one run's card, found {cards}"
    card = json.loads(cards[0].read_text())
    assert card["stopped_early"] and card["stop_reason"] == "the page was closed", card


# --- a hostile picture, or values that would cost a lot -----------------------------------------
# Timings on a shared machine are noisy: each bound is generous and relative to an ordinary call
# measured alongside, and the figures are printed (pytest -s). The server's own time is taken from
# plain HTTP calls on files uploaded once, so the measuring client's CPU does not blur it.

@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    """12,000 x 12,000 transparent pixels in about 548 KiB: decoding it took 16 s of server time."""
    from hostile_pictures import transparent_png

    return transparent_png(tmp_path_factory.mktemp("hostile") / "huge.png", 12_000)


def _timed(call) -> tuple[object, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


class RawVisitor:
    """A visitor over plain HTTP: uploads files once, then calls an endpoint by name with them."""

    def __init__(self, url: str):
        import uuid

        import httpx

        self.url, self.session, self.http = url, uuid.uuid4().hex[:11], httpx.Client(timeout=120)

    def upload(self, path: Path) -> dict:
        response = self.http.post(self.url + "gradio_api/upload", files=[("files", (path.name, path.read_bytes(), "image/png"))])
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, *data):
        response = self.http.post(f"{self.url}gradio_api/run/{api_name}", json={"data": [*data, None], "session_hash": self.session})
        response.raise_for_status()
        return response.json()["data"]

    def close(self):
        self.http.close()


def test_a_huge_picture_is_refused_at_once_through_both_draw_endpoints(app_url, tmp_path, huge_png):
    from gradio_client import Client, handle_file

    from benchmarks.launch import sketch_value

    # What an API user sees, through gradio_client.
    client = Client(app_url, verbose=False)
    hostile = {"background": handle_file(huge_png), "layers": [handle_file(huge_png)], "composite": handle_file(huge_png)}
    label, verdict, *_ = client.predict(hostile, api_name="/classify")
    assert "too large" in verdict and "12000 x 12000" in verdict and not label.get("confidences"), verdict
    label, verdict, *_ = client.predict(handle_file(huge_png), api_name="/classify_upload")
    assert "too large" in verdict and not label.get("confidences"), verdict
    client.close()

    # The server's time for it, beside a drawn digit's.
    visitor = RawVisitor(app_url)
    sketch = sketch_value(tmp_path, 7)
    drawn = {key: visitor.upload(Path(sketch[key]["path"])) for key in ("background", "composite")}
    drawn["layers"] = [visitor.upload(Path(sketch["layers"][0]["path"]))]
    huge = visitor.upload(huge_png)
    times = {"drawn 7": [], "huge /classify": [], "huge /classify_upload": []}
    for _ in range(5):
        result, seconds = _timed(lambda: visitor.call("classify", drawn))
        assert result[0]["label"] == "7"
        times["drawn 7"].append(seconds)
        result, seconds = _timed(lambda: visitor.call("classify", {"background": huge, "layers": [huge], "composite": huge}))
        assert "too large" in result[1]
        times["huge /classify"].append(seconds)
        result, seconds = _timed(lambda: visitor.call("classify_upload", huge))
        assert "too large" in result[1]
        times["huge /classify_upload"].append(seconds)
    visitor.close()
    medians = {name: _median(values) for name, values in times.items()}
    print("server time, medians of 5: " + "; ".join(f"{name} {seconds * 1e3:.0f} ms" for name, seconds in medians.items()))
    # Decoding it took 16 s; refused from its header, it costs no more than reading a digit.
    assert medians["huge /classify"] < 2 * medians["drawn 7"] + 0.5
    assert medians["huge /classify_upload"] < 2 * medians["drawn 7"] + 0.5


def test_the_server_stays_responsive_while_huge_pictures_arrive(app_url, tmp_path, huge_png):
    """Four visitors send the huge picture again and again; a fifth, drawing, still gets readings."""
    import threading

    from gradio_client import Client

    from benchmarks.launch import sketch_value

    stop, refusals, failures = threading.Event(), [], []

    def attacker():
        visitor = RawVisitor(app_url)  # one client per visitor
        try:
            huge = visitor.upload(huge_png)
            while not stop.is_set():
                refusals.append("too large" in visitor.call("classify_upload", huge)[1])
        except Exception as error:
            failures.append(error)
        finally:
            visitor.close()

    threads = [threading.Thread(target=attacker, daemon=True) for _ in range(4)]
    visitor = Client(app_url, verbose=False)
    sketch = sketch_value(tmp_path, 7, variant=1)
    quiet = sorted(_timed(lambda: visitor.predict(sketch, api_name="/classify"))[1] for _ in range(3))
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        readings = [_timed(lambda: visitor.predict(sketch, api_name="/classify")) for _ in range(5)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        visitor.close()
    seconds = sorted(s for _, s in readings)
    print(f"a drawn 7: median {quiet[1]:.2f} s alone, {seconds[2]:.2f} s (slowest {seconds[-1]:.2f} s) while 4 visitors "
          f"send 12,000 px pictures; {len(refusals)} pictures refused meanwhile")
    assert not failures, failures
    assert refusals and all(refusals)
    assert all(result[0]["label"] == "7" for result, _ in readings)
    # Each decode used to hold a core for 10-16 s, so four attackers stalled a 2-core server. Now
    # an attack costs about what a reading does; generous for a shared machine whose load varies:
    assert seconds[2] < 3 * quiet[1] + 5


@pytest.mark.parametrize("call, error", [
    (dict(digit=10**300, seed=1, api_name="/sample"), "digit must be"),
    (dict(digit=3, seed=-1, api_name="/sample"), "seed must be"),
    (dict(kind="cnn", epochs=10**9, api_name="/train"), "Not started"),
    (dict(kind="cnn", epochs=1, batch_size=10**9, api_name="/train"), "Not started"),
])
def test_values_that_would_cost_a_lot_are_refused_at_once(app_url, call, error):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    _, ordinary = _timed(lambda: client.predict(3, 1, api_name="/sample"))
    start = time.perf_counter()
    with pytest.raises(Exception, match=error):
        client.predict(**call)
    seconds = time.perf_counter() - start
    client.close()
    print(f"{call['api_name']} {str(call)[:60]}: refused in {seconds:.2f} s (an ordinary /sample {ordinary:.2f} s)")
    assert seconds < 3 * ordinary + 5


def test_a_huge_seed_costs_no_more_than_a_small_one(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    _, small = _timed(lambda: client.predict(3, 1, api_name="/sample"))
    image, huge = _timed(lambda: client.predict(3, 10**300, api_name="/sample"))
    client.close()
    print(f"/sample: seed 1 {small:.2f} s, a 301-digit seed {huge:.2f} s")
    assert image and huge < 3 * small + 5
