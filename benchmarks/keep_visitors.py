"""A visitor's work against many strangers, measured: visitor A keeps two corrections, then N other
visitors each open the page (its load, where the app has one) and make one reading, each with a
session of its own; then A keeps a third. Prints A's answer and the server's resident memory at
start, after A, and after the strangers (each ~190 KiB of Gradio session, held for the 200 most
recent, and with tabs/keep.py a few hundred bytes each in the map of sessions to keys).

    python -m benchmarks.keep_visitors [--visitors 250] [--app app.py] [--cwd DIR]

--cwd runs another checkout's app.py (e.g. an export of the previous commit) for a before/after.
"""
import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=250)
    parser.add_argument("--app", default="app.py")
    parser.add_argument("--cwd", default=None, help="the checkout whose app runs (default: this one)")
    args = parser.parse_args()

    from gradio_client import Client

    from benchmarks import launch
    from tests.draw_digits import page_digit

    if args.cwd:
        launch.ROOT = Path(args.cwd).resolve()
    runs = tempfile.mkdtemp(prefix="digit-lab-keep-")
    server = launch.Server(args.app, {"DIGIT_LAB_RUNS_DIR": runs}, 600)
    pid = server.process.pid
    try:
        strokes = page_digit(4, np.random.default_rng(7), 0.6)
        moving = json.dumps({**json.loads(strokes), "up": False})  # a reading while the pen moves: both CNNs, no saliency
        a = Client(server.url, verbose=False)
        try:  # the page's load, where this app has one
            a.predict(None, api_name="/keep_restore")
            has_load = True
        except Exception:
            has_load = False
        figures = {"rss_start_mib": rss_mib(pid), "has_keep": has_load}
        for digit in (8, 3):
            a.predict(page_digit(digit, np.random.default_rng(digit), 0.6), api_name="/classify_strokes")
            said = a.predict(str(digit), api_name="/correct")
        figures["a_before"] = said
        figures["rss_after_a_mib"] = rss_mib(pid)
        others, started = Client(server.url, verbose=False), time.monotonic()
        for _ in range(args.visitors):
            others.session_hash = str(uuid.uuid4())
            if has_load:
                others.predict(None, api_name="/keep_restore")
            others.predict(moving, api_name="/classify_strokes")
        figures["strangers_seconds"] = round(time.monotonic() - started, 1)
        figures["rss_after_strangers_mib"] = rss_mib(pid)
        a.predict(page_digit(5, np.random.default_rng(5), 0.6), api_name="/classify_strokes")
        figures["a_after"] = a.predict("5", api_name="/correct")
        figures = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
        print(json.dumps(figures, ensure_ascii=False, indent=1))
    finally:
        server.process.terminate()
        server.process.wait(10)


if __name__ == "__main__":
    main()
