"""Shared fixtures: the launched app (a real `python app.py` on a free port), a gradio_client
for it, and a headless Debian Chromium driven by Playwright."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The suite runs two processes on two cores (pytest.ini), each with launched apps beside it: its
# cores are always shared, where OpenMP threads that wait should sleep at once rather than spin
# (training/__init__.py). Set before anything imports torch; the launched apps inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ARTIFACTS = ROOT / "artifacts"  # screenshots and logs that CI keeps


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """pytest.ini runs the suite in two processes (-n 2). `-s` asks to see what tests print (the
    measurements' figures), which xdist's workers would keep to themselves: one process then."""
    if config.option.capture == "no":
        config.option.numprocesses = 0


def pytest_collection_modifyitems(config, items):
    """The files with the most training and browser tests first: pytest-xdist (--dist loadfile)
    hands out whole files in this order, so the long ones start at once and the short ones fill the
    gaps at the end, rather than one process finishing a long file alone while the other waits."""
    cost = {}
    for item in items:
        heavy = item.get_closest_marker("slow") or item.get_closest_marker("browser")
        cost[item.path] = cost.get(item.path, 0.0) + (10.0 if heavy else 0.3)
    items.sort(key=lambda item: -cost[item.path])  # stable: a file's own tests keep their order


def cnn_steps(epochs: int, batch_size: int) -> int:
    """Steps in a default CNN run on mnist-5k: its 4,500 training digits and the typed ones."""
    from training import data, fonts

    return data.steps_per_epoch(data.load("mnist-5k")[0].plus(fonts.typed_digits()), batch_size) * epochs


# Every visitor a test makes comes from 127.0.0.1, which the per-address limits (visitors/limits.py)
# would count as one: the suite's apps allow one address what a whole class takes. The tests of the
# limits themselves (tests/test_limits_api.py) set their own.
SUITE_LIMITS = {"DIGIT_LAB_PLACES_PER_ADDRESS": "50", "DIGIT_LAB_RATE_TRAIN": "1000/60",
                "DIGIT_LAB_RATE_BACKPROP": "10000/60", "DIGIT_LAB_RATE_UPLOAD": "10000/60"}


def launch_app(env_extra: dict | None = None, timeout: float = 120, script: str = "app.py"):
    """Start `python app.py` on a free loopback port; returns (process, url) once it answers. Its
    runs and its class board go to temporary folders of its own unless `env_extra` says where:
    never into the repository, nor into another launched app's board."""
    from benchmarks.launch import Server

    folders = {"DIGIT_LAB_RUNS_DIR": tempfile.mkdtemp(prefix="digit-lab-runs-"),
               "DIGIT_LAB_CLASS_DIR": tempfile.mkdtemp(prefix="digit-lab-class-")}
    server = Server(script, {**SUITE_LIMITS, **folders, **(env_extra or {})}, timeout)
    return server.process, server.url


def stop_app(process) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A CNN checkpoint with untrained weights: exports like a real one, made in a second."""
    from dataclasses import asdict

    from models import DigitCNN
    from training.runtime import save_checkpoint
    from training.train_cnn import CNNConfig

    path = tmp_path_factory.mktemp("checkpoint") / "cnn.pt"
    return save_checkpoint({"kind": "cnn", "model": DigitCNN().state_dict(), "config": asdict(CNNConfig(max_steps=1)), "step": 0}, path)


@pytest.fixture
def one_torch_thread():
    """For tests of tiny models: on a shared, busy CPU two torch threads spin-wait on each other and
    run ten times slower than one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def app_url():
    """One launched app for every test that needs no settings of its own, with a patient start: on
    a busy 2-core machine app.py has taken over two minutes to answer. DIGIT_LAB_URL reuses one
    already running."""
    import os

    if os.environ.get("DIGIT_LAB_URL"):
        yield os.environ["DIGIT_LAB_URL"]
        return
    process, url = launch_app(timeout=600)
    yield url
    stop_app(process)


@pytest.fixture(scope="session")
def capped_app(tmp_path_factory):
    """One launched app for the tests that wait for runs to end: its runs stop after 4 steps
    (DIGIT_LAB_TRAIN_MAX_STEPS), so a run's last step is also its epoch's end and its held-out
    figures, export and swap come within seconds; one torch thread, a status every half second.
    -> (url, its runs folder). Each test's visitors are sessions of their own."""
    runs = tmp_path_factory.mktemp("capped-runs")
    process, url = launch_app({"DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_MAX_STEPS": "4",
                               "DIGIT_LAB_TRAIN_THREADS": "1", "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5"}, timeout=600)
    yield url, runs
    stop_app(process)


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The tests' browser: Debian's chromium-headless-shell, the same Chromium build as `chromium` less the
# desktop browser's layers (Playwright's own choice for headless runs). It loads the app's page with
# about a quarter less CPU (2.4-2.8 s against 3.4-3.8 s a fresh page, measured side by side here).
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"


@pytest.fixture(scope="session")
def browser():
    executable = HEADLESS_SHELL if Path(HEADLESS_SHELL).exists() else CHROMIUM
    if not Path(executable).exists():
        pytest.skip("Debian's chromium-headless-shell is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the app that fails the test on any console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app_url)
    page.wait_for_selector("text=Digit Lab")
    yield page
    context.close()
    assert not errors, f"console errors: {errors}"
