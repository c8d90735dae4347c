"""Memory under load: Digit Lab's server and the bare Gradio app (the same Sketchpad and Label
wired to do-nothing functions, benchmarks/bare_app.py) through the same requests, one after the
other, loopback only, bounded by a request count. The visitors are benchmarks.launch.Visitor
(plain HTTP doing what the page does: upload the PNGs, call /classify under the visitor's own
session, fetch the answer's images), light enough on the measuring side to reach 10,000 calls
in minutes on 2 cores. Prints each server's resident memory (RSS)
after each phase:

- started: the page served, nothing asked yet;
- after 120 sequential /classify calls from one visitor;
- then rounds of `round` calls from `clients` concurrent visitors, fresh ones each round (as real
  visitors come and go: each is a new Gradio session), up to `requests` calls in all.

The targets: after the first three warm-up rounds, ours <= 1.5x the bare app; and flat, within
10%, from 1,000 to `requests` calls. With --probe each point also records what
benchmarks/memory_probe.py sees inside the server (glibc's heap, Gradio's sessions, and with
--tracemalloc Python's allocations by line); `--env PROBE_SESSION_CAPACITY=N` with --probe
launches the app with state_session_capacity=N, `--env DIGIT_LAB_MALLOC=default` leaves glibc's
malloc as it is (inference/memory.py), to measure each factor alone.

    python -m benchmarks.soak [--quick] [--requests 10000] [--clients 32] [--round 240] [--only ours|bare]
"""
import argparse
import concurrent.futures
import itertools
import json
import os
import signal
import tempfile
import time
from pathlib import Path

from benchmarks.launch import BARE_APP, Server, Visitor, sketch_files

SEQUENTIAL = 120
TARGETS = {"after_load_ratio": 1.5, "drift_from_1000": 0.10}


def probe(server: Server, out: Path) -> dict:
    """Ask the probed server for its memory facts (SIGUSR1) and read the line it writes."""
    before = out.read_text().count("\n") if out.exists() else 0
    os.kill(server.process.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = out.read_text().splitlines() if out.exists() else []
        if len(lines) > before:
            return json.loads(lines[-1])
        time.sleep(0.1)
    return {}


def curve(script: str, requests: int, clients: int, per_round: int, folder: Path, probed: bool = False,
          tracemalloc: bool = False, env: dict | None = None, log=print) -> list[dict]:
    """[{phase, requests, rss_mib, errors, (probe facts)}] for one server through the soak."""
    env = dict(env or {})
    out = folder / f"probe-{Path(script).stem}-{time.monotonic_ns()}.jsonl"
    launched = script
    if probed:
        env.update({"PROBE_APP": script, "PROBE_OUT": str(out), "PROBE_TRACEMALLOC": "1" if tracemalloc else "0"})
        launched = "benchmarks/memory_probe.py"
    files = [sketch_files(folder, 7, variant) for variant in range(clients + 1)]  # each visitor draws their own 7
    points, done, errors = [], 0, 0

    def point(phase):
        time.sleep(6.0)  # let the last answers' buffers go (and inference.memory trim them, every 5 s)
        entry = {"phase": phase, "requests": done, "rss_mib": round(server.rss_mib(), 1), "errors": errors}
        if probed:
            entry["probe"] = probe(server, out)
        points.append(entry)
        log(f"  {Path(script).stem:9s} {phase:22s} {done:6d} requests  {entry['rss_mib']:7.1f} MiB  errors {errors}", flush=True)

    with Server(launched, env_extra=env, timeout=600) as server:  # a loaded machine starts slowly
        time.sleep(2.0)
        point("started")
        errors += visit(server.url, [files[0]], SEQUENTIAL)
        done += SEQUENTIAL
        point(f"{SEQUENTIAL} sequential")
        rounds = 0
        while done < requests:
            calls = min(per_round, requests - done)
            errors += visit(server.url, files[1:], calls)
            done += calls
            rounds += 1
            if rounds <= 3 or done // 1000 != (done - calls) // 1000 or done >= requests:
                point(f"round {rounds} ({clients} clients)")
    return points


def visit(url: str, files: list[dict], calls: int) -> int:
    """len(files) new visitors at once (one thread and one session each) making `calls` calls in
    all; returns how many failed. Each call has a timeout, so a round always ends."""
    tickets, failures = itertools.count(), []

    def one(visitor_files):
        visitor = Visitor(url, visitor_files)
        try:
            while next(tickets) < calls:
                try:
                    visitor.classify()
                except Exception as error:  # a failure is a figure here
                    failures.append(error)
        finally:
            visitor.close()

    with concurrent.futures.ThreadPoolExecutor(len(files)) as pool:
        list(pool.map(one, files))
    return len(failures)


def at_least(points: list[dict], requests: int) -> dict | None:
    return next((p for p in points if p["requests"] >= requests), None)


def summarise(ours: list[dict], bare: list[dict]) -> dict:
    figures = {}
    third = lambda pts: next((p for p in pts if p["phase"].startswith("round 3")), pts[-1])  # noqa: E731
    if ours and bare:
        figures["after_load_ratio"] = third(ours)["rss_mib"] / third(bare)["rss_mib"]
    for name, pts in (("ours", ours), ("bare", bare)):
        start, last = at_least(pts, 1000), pts[-1] if pts else None
        if start and last and last["requests"] > start["requests"]:
            figures[f"{name}_drift_from_1000"] = (last["rss_mib"] - start["rss_mib"]) / start["rss_mib"]
    return figures


def run(quick: bool = False, requests: int | None = None, clients: int = 32, per_round: int = 240,
        only: str | None = None, probed: bool = False, tracemalloc: bool = False, env: dict | None = None) -> dict:
    requests = requests or (1500 if quick else 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {"requests": requests, "clients": clients, "round": per_round, "ours": [], "bare": []}
        for name, script in (("ours", "app.py"), ("bare", BARE_APP)):
            if only in (None, name):
                print(f"[soak] {name}: {script}", flush=True)
                result[name] = curve(script, requests, clients, per_round, folder, probed, tracemalloc, env)
    result["figures"] = summarise(result["ours"], result["bare"])
    return result


def rows(f: dict) -> list[tuple[str, str, str]]:
    out = []
    for name in ("ours", "bare"):
        if f[name]:
            shown = ", ".join(f"{p['requests']}: {p['rss_mib']:.0f}" for p in f[name])
            out.append((f"RSS by requests served, {name} (MiB)", shown, f"errors {f[name][-1]['errors']}"))
    figures = f["figures"]
    if "after_load_ratio" in figures:
        value = figures["after_load_ratio"]
        out.append(("memory after 3 rounds, ours / bare (<= 1.5x)", f"{value:.2f}x", "met" if value <= 1.5 else "NOT met"))
    for name in ("ours", "bare"):
        key = f"{name}_drift_from_1000"
        if key in figures:
            value = figures[key]
            out.append((f"{name}: drift from 1,000 to {f['requests']:,} requests (within 10%)", f"{value:+.1%}",
                        "met" if abs(value) <= TARGETS["drift_from_1000"] else "NOT met"))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,500 requests instead of 10,000")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--round", type=int, default=240, dest="per_round")
    parser.add_argument("--only", choices=("ours", "bare"))
    parser.add_argument("--probe", action="store_true", help="run the servers under benchmarks/memory_probe.py")
    parser.add_argument("--tracemalloc", action="store_true", help="with --probe: Python's allocations by line")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="set in the servers' environment")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    result = run(args.quick, args.requests, args.clients, args.per_round, args.only, args.probe, args.tracemalloc, env)
    for row in rows(result):
        print(" | ".join(row))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
