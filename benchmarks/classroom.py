"""A classroom on one server: N visitors drawing at once, and M visitors pressing Start within a
second whose runs take turns (runs/jobs.py's queue).

    python -m benchmarks.classroom --visitors 40 [--seconds 25] [--look-on-server | --moving-on-server] [--env NAME=VALUE]
    python -m benchmarks.classroom [--trainers 10] [--kind cnn] [--epochs 1]

Drawing: N visitors, one HTTP client each, draw digits as the page
does now: the readings while the pen moves and at each pen-up are made in the browser, and so are
the two views with the saliency (static/draw_saliency.js), so the server hears a digit only when a
view needs its 28x28: here a correction, CORRECT_SHARE of the digits, whose strokes are handed over
(the same work as the page's private call: the strokes prepared, no model run; played as
/look_strokes with "heat": false). Digits at PEN_SPEED with LOOK_S between them. Prints the server
calls' median and p95 once the pen is up, the errors and the server's CPU per drawn digit (also net
of its idle CPU, measured first). --look-on-server plays the page before it made the saliency
(/look_strokes with the saliency once the pen stays up and at each Clear), which is also what a
page does whose saliency run fails; --moving-on-server the page before that (the strokes so far
every 120 ms while the pen moves, one in flight), what a browser that cannot run the reading does.
Targets: 200 visitors, p95 <= 0.3 s, no error, <= 2 ms of the server's CPU per drawn digit.

Launches the app (benchmarks.launch.Server), then M visitors (one gradio_client Client each) start
the same short run, a tenth of a second apart; every status each one is streamed is timestamped.
Prints, for each: the place it was given, the wait it was first told (a bound, "within", while
this server has timed no such run), the first measured wait it was told ("about", once a run of
the same settings is going at its own rate) and the first told after the first run ended, when
its run really started, each estimate's error as a share of the wait left when it was told, and
its run's phases as its page saw them. The targets: every visitor gets a place, a told wait
within 30% of the truth, and the runs in the order of their places.
"""
import argparse
import concurrent.futures
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.launch import Server

PLACE = re.compile(r"number (\d+) of (\d+) in the queue\. It should start (in about|within) (?:(\d+) min )?(\d+) s")


def told(status: str) -> tuple[int, float, bool] | None:
    """(place, seconds, measured) from a queued status; None once the run has started."""
    found = PLACE.search(status)
    if not found:
        return None
    place, _, how, minutes, seconds = found.groups()
    return int(place), 60 * int(minutes or 0) + int(seconds), how == "in about"


def visit(url: str, settings: dict, origin: float, timeout: float) -> list[tuple[float, str]]:
    """One visitor's run: every status it was streamed, with the seconds since `origin`."""
    from gradio_client import Client

    job = Client(url, verbose=False).submit(**settings, api_name="/train")
    seen: list[tuple[float, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs, finished = job.outputs(), job.done()
        for output in outputs[len(seen):]:
            seen.append((time.monotonic() - origin, output[0]))
        if finished:
            return seen
        time.sleep(0.1)
    job.cancel()
    raise TimeoutError(f"a run did not end within {timeout} s")


def summarise(k: int, seen: list[tuple[float, str]], pressed: float, first_run_ended: float) -> dict:
    """One visitor's figures. An estimate's error is (told start - real start) over the wait that
    was left when it was told; the estimates are the first measured one, and the first told
    after the first run ended (by then this server has timed a run in a warm process)."""
    queued = [(at, told(status)) for at, status in seen if told(status)]
    started = next((at for at, status in seen if told(status) is None), None)
    first_step = next((at for at, status in seen if re.search(r"step \d+ of \d+", status)), None)
    exporting = next((at for at, status in seen if "Exporting to ONNX" in status), None)
    row = {"visitor": k + 1, "pressed_s": round(pressed, 2), "place": queued[0][1][0] if queued else 0,
           "started_s": round(started, 1) if started is not None else None}
    if None not in (started, first_step, exporting):  # the run's phases, as its page saw them (to 0.5 s)
        row["phases_s"] = {"to_first_step": round(first_step - started, 1), "training": round(exporting - first_step, 1),
                           "export": round(seen[-1][0] - exporting, 1)}
    if queued:
        at, (_, seconds, measured) = queued[0]
        row["first_told"] = f"{'about' if measured else 'within'} {seconds} s at {at:.1f} s"
        for name, after in (("first_measured", 0.0), ("after_first_run", first_run_ended)):
            estimate = next(((at, seconds) for at, (_, seconds, measured) in queued if measured and at >= after), None)
            if estimate and started is not None:
                at, seconds = estimate
                row[name] = f"about {seconds} s at {at:.1f} s"
                row[f"{name}_error"] = (at + seconds - started) / max(1.0, started - at)
    return row


def run(trainers: int = 10, kind: str = "cnn", epochs: int = 1) -> list[dict]:
    runs = tempfile.mkdtemp(prefix="classroom-runs-")
    server = Server(env_extra={"DIGIT_LAB_RUNS_DIR": runs, "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5",
                               "DIGIT_LAB_TRAIN_QUEUE": str(max(10, trainers))})
    try:
        settings = {"kind": kind, "epochs": epochs}
        origin = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(trainers) as pool:
            futures, pressed = [], []
            for _ in range(trainers):
                pressed.append(time.monotonic() - origin)
                futures.append(pool.submit(visit, server.url, settings, origin, 600 * trainers))
                time.sleep(0.1)
            seen = [future.result() for future in futures]
    finally:
        server.stop()
    first_run_ended = min(s[-1][0] for s in seen)
    return [summarise(k, s, pressed[k], first_run_ended) for k, s in enumerate(seen)]


# ---- the drawing half -------------------------------------------------------------------------

PEN_SPEED = 250.0  # canvas units a second: a 7 of 60% of the canvas (~300 units of path) in 1.2 s
THROTTLE_S = 0.12  # tabs/draw/canvas.py's THROTTLE_MS: the old page's readings while the pen moves
LOOK_S = 2.0  # a visitor reads the two verdicts before pressing Clear
CORRECT_SHARE = 0.1  # digits kept as a correction (or read with Inside the CNN open): the server is told the strokes
BETWEEN_STROKES_S = 0.2  # the pen's trip from one stroke's end to the next one's start (< tabs/draw/canvas.py SETTLE_MS)
IDLE_S = 5.0  # the server's own CPU with nobody drawing is measured this long first


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its threads (/proc, Linux)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Drawer:
    """One visitor's page over plain HTTP: the calls it makes (/look_strokes once the pen stays
    up and at Clear; /classify_strokes, with the views' images fetched as the page fetches them,
    for --moving-on-server), under its own session."""

    def __init__(self, url: str, k: int):
        import httpx

        self.url, self.session = url, f"drawer{k:05d}"
        self.http = httpx.Client(timeout=30)
        self.rng = np.random.default_rng(k)

    def call(self, strokes: list, up: bool) -> float:
        """One reading; its seconds (the views' images fetched too after a pen-up, untimed)."""
        value = json.dumps({"size": 280, "pen": 18, "up": up, "strokes": strokes})
        started = time.perf_counter()
        response = self.http.post(self.url + "gradio_api/run/classify_strokes", json={"data": [value, None], "session_hash": self.session})
        response.raise_for_status()
        took = time.perf_counter() - started
        for output in response.json()["data"]:
            if isinstance(output, dict) and output.get("url"):
                self.http.get(output["url"]).raise_for_status()
        return took

    def look(self, strokes: list, heat: bool = True) -> float:
        """/look_strokes (with the saliency, or the strokes handed over for the 28x28 only): its seconds."""
        value = json.dumps({"size": 280, "pen": 18, "up": True, "ask": 1, "strokes": strokes, **({} if heat else {"heat": False})})
        started = time.perf_counter()
        response = self.http.post(self.url + "gradio_api/run/look_strokes", json={"data": [value, None], "session_hash": self.session})
        response.raise_for_status()
        return time.perf_counter() - started

    def digit(self, moving_on_server: bool, pen_ups: list, moving: list, look_on_server: bool = False) -> None:
        """Draw one digit stroke by stroke at PEN_SPEED, look, Clear. The page reads each pen-up
        and makes the views itself; a correction hands the server the strokes. The page before
        (--look-on-server) asked for the saliency once the pen stayed up (tabs/draw/canvas.py
        SETTLE_MS) and at Clear; the one before that (--moving-on-server) at every pen-up."""
        from tests.draw_digits import page_digit

        drawing = json.loads(page_digit(int(self.rng.integers(10)), self.rng, float(self.rng.uniform(0.4, 0.8))))["strokes"]
        for k, stroke in enumerate(drawing):
            length = sum(np.hypot(stroke[i] - stroke[i - 2], stroke[i + 1] - stroke[i - 1]) for i in range(2, len(stroke), 2))
            began = time.perf_counter()
            while (elapsed := time.perf_counter() - began) < length / PEN_SPEED:
                if not moving_on_server:
                    time.sleep(length / PEN_SPEED - elapsed)
                    break
                shown = max(2, 2 * int(len(stroke) / 2 * elapsed * PEN_SPEED / max(length, 1)))
                sent = time.perf_counter()
                moving.append(self.call(drawing[:k] + [stroke[:shown]], up=False))
                time.sleep(max(0.0, THROTTLE_S - (time.perf_counter() - sent)))
            if moving_on_server:
                pen_ups.append(self.call(drawing[: k + 1], up=True))
            elif k == len(drawing) - 1 and look_on_server:  # the pen stays up: the 28x28 and the saliency asked for
                pen_ups.append(self.look(drawing))
            elif k == len(drawing) - 1:  # the page makes the views; a correction hands over the strokes
                if self.rng.random() < CORRECT_SHARE:
                    pen_ups.append(self.look(drawing, heat=False))
            else:  # the pen travels to the next stroke: the page's reading only, the server's waits (SETTLE_MS)
                time.sleep(BETWEEN_STROKES_S)
        time.sleep(LOOK_S)
        if moving_on_server:
            self.call([], up=True)  # Clear: the page asked for the blank reading (the button itself calls nothing)
        elif look_on_server:
            self.look([])  # Clear: the page shows the blank state itself; the server's 28x28 becomes None


def draw_run(visitors: int, seconds: float, moving_on_server: bool = False, env: dict | None = None, look_on_server: bool = False) -> dict:
    """N drawers for `seconds` on a freshly launched app (with `env` in its environment): the
    figures of report_drawing."""
    import threading

    runs = tempfile.mkdtemp(prefix="classroom-runs-")
    server = Server(env_extra={"DIGIT_LAB_RUNS_DIR": runs, **(env or {})})
    pen_ups, moving, errors, digits, lock = [], [], [], [0], threading.Lock()
    try:
        Drawer(server.url, 99999).call([[100, 60, 150, 200]], up=True)  # the sessions warm, as a page load does
        drawers = [Drawer(server.url, k) for k in range(visitors)]
        for drawer in drawers:  # each visitor's session opened before the clock, as its page's load did
            drawer.look([])
        idle_from = cpu_seconds(server.process.pid)
        time.sleep(IDLE_S)  # what the server spends doing nothing, to take off the figure
        idle = (cpu_seconds(server.process.pid) - idle_from) / IDLE_S
        cpu_before, stop_at = cpu_seconds(server.process.pid), time.perf_counter() + seconds

        def visitor(k: int) -> None:
            drawer = drawers[k]
            time.sleep(k * 0.05)  # they do not all lift the pen in the same millisecond
            while time.perf_counter() < stop_at:
                try:
                    drawer.digit(moving_on_server, pen_ups, moving, look_on_server)
                    with lock:
                        digits[0] += 1
                except Exception as error:  # a figure here, not a crash
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}"[:200])
            drawer.http.close()

        threads = [threading.Thread(target=visitor, args=(k,), daemon=True) for k in range(visitors)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 120)
        cpu = cpu_seconds(server.process.pid) - cpu_before
    finally:
        server.stop()
    return {"visitors": visitors, "seconds": seconds, "digits": digits[0], "pen_ups": pen_ups, "moving": moving,
            "errors": errors, "cpu_s": cpu, "idle_cpu_s": idle * seconds}


def report_drawing(found: dict, moving_on_server: bool, look_on_server: bool = False) -> None:
    ups, moving = np.asarray(found["pen_ups"]), np.asarray(found["moving"])
    how = ("readings while the pen moves from the server" if moving_on_server else
           "the saliency from the server once the pen stays up" if look_on_server else "readings and views made in the browser")
    print(f"{found['visitors']} visitors drawing for {found['seconds']:.0f} s, {how}: {found['digits']} digits drawn, "
          f"{len(ups)} pen-ups, {len(moving)} readings while moving asked of the server, {len(found['errors'])} errors")
    if len(ups):
        print(f"calls once the pen is up: median {np.median(ups):.3f} s, p95 {np.percentile(ups, 95):.3f} s")
    if len(moving):
        print(f"readings while moving (server): median {np.median(moving):.3f} s, p95 {np.percentile(moving, 95):.3f} s")
    if found["digits"]:
        net = found["cpu_s"] - found["idle_cpu_s"]
        print(f"server CPU: {found['cpu_s']:.1f} s, {1000 * found['cpu_s'] / found['digits']:.1f} ms per drawn digit; "
              f"{1000 * net / found['digits']:.1f} ms without what it spends idle ({found['idle_cpu_s']:.1f} s in as long)")
    for error in sorted(set(found["errors"]))[:3]:
        print("  error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=0, help="visitors drawing at once (the drawing half)")
    parser.add_argument("--seconds", type=float, default=25.0, help="how long they draw")
    parser.add_argument("--moving-on-server", action="store_true", help="the page before it read for itself: readings while the pen moves from the server")
    parser.add_argument("--look-on-server", action="store_true", help="the page before it made the saliency: /look_strokes once the pen stays up and at Clear")
    parser.add_argument("--trainers", type=int, default=None, help="visitors pressing Start (10 unless --visitors is given)")
    parser.add_argument("--kind", choices=("cnn", "gan"), default="cnn")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set in the drawing half's server's environment (e.g. DIGIT_LAB_MALLOC=default)")
    args = parser.parse_args()
    if args.visitors:
        env = dict(item.split("=", 1) for item in args.env)
        found = draw_run(args.visitors, args.seconds, args.moving_on_server, env, args.look_on_server)
        report_drawing(found, args.moving_on_server, args.look_on_server)
    args.trainers = args.trainers if args.trainers is not None else (0 if args.visitors else 10)
    if not args.trainers:
        return
    rows = run(args.trainers, args.kind, args.epochs)
    for row in rows:
        print(row)
    # The places are the server's order of arrival (each Client connects first, so not quite the
    # order pressed); the runs must start in the order of their places.
    order = [row["place"] for row in sorted(rows, key=lambda row: row["started_s"] or float("inf"))]
    print(f"\n{args.trainers} visitors pressed Start within {rows[-1]['pressed_s']:.1f} s: "
          f"{sum(row['started_s'] is not None for row in rows)} ran; in the order of their places: {order == sorted(order)}")
    for name in ("first_measured", "after_first_run"):
        errors = [abs(row[f"{name}_error"]) for row in rows if f"{name}_error" in row]
        if errors:
            print(f"wait estimates, {name.replace('_', ' ')}: error median {statistics.median(errors):.0%},"
                  f" worst {max(errors):.0%} of the wait left when told ({len(errors)} visitors)")


if __name__ == "__main__":
    main()
