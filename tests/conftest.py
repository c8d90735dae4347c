"""Shared fixtures: the launched app (a real `python app.py` on a free port), a gradio_client
for it, and a headless Debian Chromium driven by Playwright."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"  # screenshots and logs that CI keeps


def cnn_steps(epochs: int, batch_size: int) -> int:
    """Steps in a default CNN run on mnist-5k: its 4,500 training digits and the typed ones."""
    from training import data, fonts

    return data.steps_per_epoch(data.load("mnist-5k")[0].plus(fonts.typed_digits()), batch_size) * epochs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(env_extra: dict | None = None, timeout: float = 120, script: str = "app.py"):
    """Start `python app.py` on a free port; returns (process, url) once it answers."""
    import httpx

    port = free_port()
    runs = tempfile.mkdtemp(prefix="digit-lab-runs-")  # test runs never land in the repository
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "DIGIT_LAB_RUNS_DIR": runs, **(env_extra or {})}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"app-{port}.log", "w")
    process = subprocess.Popen([sys.executable, script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{script} exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.kill()
    raise RuntimeError(f"{script} did not answer within {timeout} s; see {log.name}")


def stop_app(process) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def app_url():
    process, url = launch_app()
    yield url
    stop_app(process)


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
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
