"""Does the app start as a Space starts it? Spaces may run `python app.py` or import app.py and call
`demo.launch()` itself: Digit Lab's launch settings (i18n, theme, session cap, upload limit, no run history) hold
either way. (The page through SSR's Node proxy: tests/test_ssr_browser.py.)"""
import runpy
import sys
from pathlib import Path

import gradio as gr
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def launches(monkeypatch):
    """gr.Blocks.launch replaced by a recorder of its keyword arguments (no server is started)."""
    calls = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "digit-lab/digit-lab")
    return calls


def expected_settings(kwargs: dict) -> None:
    from locales import browser_i18n

    assert kwargs["i18n"] is browser_i18n() and kwargs["theme"] is not None
    assert kwargs["state_session_capacity"] == 200 and kwargs["max_file_size"] == "20mb"
    assert kwargs["run_history"] is False  # Gradio's own default is on (GRADIO_RUN_HISTORY turns it on)


def test_a_host_that_imports_app_and_launches_demo_gets_the_settings(launches):
    import app

    app.demo.launch()
    app.demo.launch(server_port=7860)  # a host's own arguments join ours
    assert len(launches) == 2 and launches[1]["server_port"] == 7860
    for kwargs in launches:
        expected_settings(kwargs)


def test_python_app_py_gets_the_settings(launches, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app.py"])
    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")
    assert len(launches) == 1
    expected_settings(launches[0])


def test_the_queue_of_an_app_nobody_uses_looks_for_work_every_10_ms():
    """Gradio's own queue looks every millisecond (4.4-6% of a core with nobody there); app.py's
    fixes (tabs/gradio_fixes.py) make it 10 ms for every queue made after them."""
    import app  # noqa: F401  (it imports tabs.gradio_fixes)

    with gr.Blocks() as blocks:
        gr.Markdown("a queue")
    blocks.queue()
    assert blocks._queue.sleep_when_free == 0.01
