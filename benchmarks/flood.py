"""One address flooding /backprop_step: does it slow the other visitors' drawing over 1.5x at p95?

The app is launched as a Space runs it behind its proxy (DIGIT_LAB_PROXY_HOPS=1: the caller's
address is the last X-Forwarded-For entry, visitors/limits.py), its runs in a temporary folder, the
per-address limits at their defaults. Every simulated client sends its own X-Forwarded-For: the K
drawers 10.1.0.1 ... 10.1.0.K, the flooder 10.9.9.9, so the flooder is one address and the drawers
others, as on a Space.

Drawing is what the Draw tab's page asks of the server while a visitor draws (tabs/draw/tab.py):
each drawer (benchmarks.classroom.Drawer, one HTTP client and one session each) draws digits
(tests/draw_digits.page_digit) and asks, in turn, /classify_strokes with the pen up (both CNNs'
readings, the views' images fetched untimed) and /look_strokes (the 28x28 and the saliency), with
PAUSE_S between calls; each drawer makes `calls` calls a phase. Phases, on the same server:

- alone: the drawers only;
- flood: the same, while the flooder calls /backprop_step back to back on `connections`
  connections (a drawn 7, 1 step, as the API page's example), in a process of its own (its client
  side does not share the drawers' GIL; it shares the machine's cores, as the drawers do). After
  the burst its bucket allows (60 calls at once, refilled at one a second; the alone phase between
  refills part of it) its calls are refused in words (gr.Error): those refusals must be cheap. The
  flood starts, spends its burst (counted apart, untimed) and, from its first refusal, the drawers
  start: the flood as it stays. --burst times it from its first call, the burst included.

alone and flood alternate `rounds` times, so each round's ratio p95(flood) / p95(alone) is measured
side by side, and their spread shows. Then the flooder alone (no drawers) for ALONE_FLOOD_S: the
server's CPU a flooding call. Printed and written (benchmarks/results/<date>-flood.md): p50 and p95
a phase, the ratios (median and range, and the pooled p95s'), the flooder's calls answered, refused
in words and failed otherwise, the server's CPU a phase and the flooder's own (it shares the
machine). Target: ratio <= 1.5 in every round.

    python -m benchmarks.flood [--drawers 8] [--calls 40] [--rounds 3] [--connections 8]
"""
import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time

import numpy as np

from benchmarks import results
from benchmarks.classroom import Drawer, cpu_seconds
from benchmarks.launch import Server

TARGET = 1.5
ALONE_FLOOD_S = 8.0  # the flooder with no drawers, for the server's CPU per flooding call
PAUSE_S = 0.1  # between one drawer's calls: a pen lifted, read, then the next stroke
DRAWER_ADDRESS = "10.1.0.{}"
FLOODER_ADDRESS = "10.9.9.9"
WARM_ADDRESS = "10.8.0.1"  # torch imported and the model rebuilt before anything is timed
SEVEN = json.dumps({"size": 280, "strokes": [[84, 70, 196, 70, 118, 224]]})
BACKPROP = [SEVEN, "7", 0.1, 1, "lab", 0, None]  # strokes, digit, rate, steps, model, filter; the session's CNN


def as_address(drawer: Drawer, address: str) -> Drawer:
    """The drawer's HTTP client sends `address` as its X-Forwarded-For, as a Space's proxy would."""
    drawer.http.headers["X-Forwarded-For"] = address
    return drawer


def backprop_call(http, url: str) -> tuple[str, float, str]:
    """One POST to /backprop_step: ("answered" | "refused" | "error", seconds, what it said)."""
    started = time.perf_counter()
    try:
        response = http.post(url + "gradio_api/run/backprop_step", json={"data": BACKPROP, "session_hash": http.headers["X-Session"]})
        took = time.perf_counter() - started
        if response.status_code == 200:
            return "answered", took, ""
        said = (response.json() or {}).get("error") if response.headers.get("content-type", "").startswith("application/json") else None
        # A refusal is gr.Error in words; a bare error (show_error off) comes back as None.
        return ("refused" if said else "error"), took, str(said or f"HTTP {response.status_code}: {response.text[:120]}")
    except Exception as error:  # a failure is a figure here
        return "error", time.perf_counter() - started, f"{type(error).__name__}: {error}"[:200]


def _flood_process(url: str, connections: int, drain: bool, ready, drained, stop, out) -> None:
    """The flooder, in a process of its own (its client-side work does not hold the drawers' GIL):
    `connections` threads, one HTTP client each, all from FLOODER_ADDRESS, calling /backprop_step
    back to back until `stop`. With `drain`, what it is answered until its first refusal (the burst
    its bucket allows) is counted apart and `drained` is set; then the timed part begins."""
    import httpx

    clients = [httpx.Client(timeout=60, headers={"X-Forwarded-For": FLOODER_ADDRESS, "X-Session": f"flood{k:03d}"})
               for k in range(connections)]
    counts = {"answered": 0, "refused": 0, "error": 0, "burst_answered": 0, "burst_refused": 0, "burst_error": 0}
    seconds, said, lock = {"answered": [], "refused": []}, {}, threading.Lock()
    timed = threading.Event()
    if not drain:
        timed.set()
    began = [time.perf_counter()]

    def flood(http) -> None:
        while not stop.is_set():
            outcome, took, words = backprop_call(http, url)
            with lock:
                if timed.is_set():
                    counts[outcome] += 1
                    if outcome in seconds:
                        seconds[outcome].append(took)
                    if words:
                        said[words[:90]] = said.get(words[:90], 0) + 1
                else:
                    counts[f"burst_{outcome}"] += 1
                    if outcome == "refused":  # the bucket is empty: from now on, the flood as it stays
                        timed.set()
                        began[0] = time.perf_counter()
                        drained.set()

    ready.set()
    cpu_began = [time.process_time()]
    threads = [threading.Thread(target=flood, args=(http,), daemon=True) for http in clients]
    burst_began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began[0]
    figures = {**counts, "client_cpu": (time.process_time() - cpu_began[0]) / max(1e-9, time.perf_counter() - burst_began), "seconds": elapsed, "per_second": (counts["answered"] + counts["refused"] + counts["error"]) / elapsed,
               "burst_seconds": (began[0] - burst_began) if drain else 0.0,
               "said": sorted(said.items(), key=lambda item: -item[1])[:3]}
    for outcome, values in seconds.items():
        figures[f"{outcome}_p50_ms"] = 1000 * float(np.percentile(values, 50)) if values else None
        figures[f"{outcome}_p95_ms"] = 1000 * float(np.percentile(values, 95)) if values else None
    for http in clients:
        http.close()
    out.put(figures)


class Flooder:
    """The flooding address as a child process (_flood_process), started for each flood phase."""

    def __init__(self, url: str, connections: int, drain: bool = True):
        import multiprocessing

        self.url, self.connections, self.drain = url, connections, drain
        self.context = multiprocessing.get_context("spawn")
        self.process = None

    def start(self) -> None:
        """Flooding, and (with drain) its burst spent: the timed part under way."""
        c = self.context
        self.ready, self.drained, self.stopping, self.out = c.Event(), c.Event(), c.Event(), c.Queue()
        self.process = c.Process(target=_flood_process, args=(self.url, self.connections, self.drain, self.ready, self.drained,
                                                              self.stopping, self.out), daemon=True)
        self.process.start()
        if not self.ready.wait(120):
            raise RuntimeError("the flooder did not start")
        if self.drain and not self.drained.wait(300):
            raise RuntimeError("the flooder was never refused: is the rate limit on?")

    def stop(self) -> dict:
        self.stopping.set()
        figures = self.out.get(timeout=120)
        self.process.join(30)
        self.process = None
        return figures

    def close(self) -> None:
        """Ends a flooder still running (Ctrl-C, an error)."""
        if self.process is not None:
            self.stopping.set()
            self.process.join(10)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(5)


def drawing_phase(drawers: list[Drawer], digits: list[list[list]], calls: int) -> dict:
    """Each drawer makes `calls` calls, /classify_strokes and /look_strokes in turn: their seconds."""
    seconds, errors, lock = [], [], threading.Lock()

    def visitor(k: int) -> None:
        drawer, mine = drawers[k], digits[k]
        time.sleep(k * 0.02)  # they do not all lift the pen in the same millisecond
        for n in range(calls):
            strokes = mine[n % len(mine)]
            try:
                took = drawer.call(strokes, up=True) if n % 2 == 0 else drawer.look(strokes)
                with lock:
                    seconds.append(took)
            except Exception as error:  # a figure here, not a crash
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:200])
            time.sleep(PAUSE_S)

    threads = [threading.Thread(target=visitor, args=(k,), daemon=True) for k in range(len(drawers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(calls * 60)
    return {"seconds": seconds, "errors": errors}


def quantiles(seconds: list[float]) -> dict:
    if not seconds:
        return {"calls": 0, "p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"calls": len(seconds), "p50_ms": 1000 * float(np.percentile(seconds, 50)), "p95_ms": 1000 * float(np.percentile(seconds, 95))}


def run(drawers: int = 8, calls: int = 40, rounds: int = 3, connections: int = 8, burst: bool = False, log=print) -> dict:
    from tests.draw_digits import page_digit

    folder = tempfile.mkdtemp(prefix="flood-runs-")
    env = {"DIGIT_LAB_RUNS_DIR": folder, "DIGIT_LAB_PROXY_HOPS": "1", "GRADIO_TEMP_DIR": os.path.join(folder, "gradio")}
    server, flooder, made = None, None, []
    try:
        server = Server.__new__(Server)  # bound before it starts, so a Ctrl-C while it starts still stops it
        server.__init__(env_extra=env, timeout=600)  # a loaded machine starts slowly
        log(f"[flood] app at {server.url} (page in {server.page_s:.1f} s), {drawers} drawers, {connections} flooding connections")
        import httpx

        with httpx.Client(timeout=300, headers={"X-Forwarded-For": WARM_ADDRESS, "X-Session": "warm"}) as warm:
            outcome, took, said = backprop_call(warm, server.url)  # torch imported, the model rebuilt: untimed
            log(f"[flood] warm-up /backprop_step: {outcome} in {took:.1f} s {said}")
        made = [as_address(Drawer(server.url, k), DRAWER_ADDRESS.format(k + 1)) for k in range(drawers)]
        rng = np.random.default_rng(0)
        digits = [[json.loads(page_digit(int(rng.integers(10)), rng, float(rng.uniform(0.4, 0.8))))["strokes"] for _ in range(10)]
                  for _ in range(drawers)]
        for drawer, mine in zip(made, digits):  # each visitor's session opened and the paths warm, untimed
            drawer.call(mine[0], up=True)
            drawer.look(mine[0])
        flooder = Flooder(server.url, connections, drain=not burst)
        phases = []
        for round_ in range(1, rounds + 1):
            for phase in ("alone", "flood"):
                cpu_before, began = cpu_seconds(server.process.pid), time.perf_counter()
                if phase == "flood":
                    flooder.start()
                    time.sleep(0.5)  # the flood under way before the first drawing call
                    cpu_before, began = cpu_seconds(server.process.pid), time.perf_counter()
                found = drawing_phase(made, digits, calls)
                flood = flooder.stop() if phase == "flood" else None
                elapsed = time.perf_counter() - began
                cpu = cpu_seconds(server.process.pid) - cpu_before
                entry = {"round": round_, "phase": phase, **quantiles(found["seconds"]), "errors": len(found["errors"]),
                         "first_errors": sorted(set(found["errors"]))[:3], "seconds": elapsed, "server_cpu": cpu / elapsed,
                         "load": os.getloadavg()[0], "flood": flood, "latencies": found["seconds"]}
                phases.append(entry)
                said = (f"; flooder's burst {flood['burst_answered']} answered in {flood['burst_seconds']:.1f} s, then "
                        f"{flood['answered']} answered, {flood['refused']} refused, {flood['error']} failed "
                        f"({flood['per_second']:.0f} calls/s; refusal p50 {flood['refused_p50_ms'] or float('nan'):.1f} ms; "
                        f"the flooder's own CPU {flood['client_cpu']:.2f} cores)") if flood else ""
                log(f"[flood] round {round_} {phase:5s}: {entry['calls']} calls, p50 {entry['p50_ms']:.1f} ms, "
                    f"p95 {entry['p95_ms']:.1f} ms, {entry['errors']} errors, server CPU {entry['server_cpu']:.2f} cores, "
                    f"load {entry['load']:.2f}{said}", flush=True)
                time.sleep(2.0)  # the last answers' threads done before the next phase
        # What the flood costs the server by itself: its CPU while only the flooder calls (its burst spent).
        flooder.start()
        cpu_before, began = cpu_seconds(server.process.pid), time.perf_counter()
        time.sleep(ALONE_FLOOD_S)
        cpu, elapsed = cpu_seconds(server.process.pid) - cpu_before, time.perf_counter() - began
        only = flooder.stop()
        calls_made = only["answered"] + only["refused"] + only["error"]
        only.update(server_cpu=cpu / elapsed, cpu_ms_per_call=1000 * cpu / max(1, calls_made), load=os.getloadavg()[0])
        log(f"[flood] the flooder alone: {only['answered']} answered, {only['refused']} refused, {only['error']} failed "
            f"({only['per_second']:.0f} calls/s), server CPU {only['server_cpu']:.2f} cores, {only['cpu_ms_per_call']:.1f} ms a call; "
            f"refusal p50 {only['refused_p50_ms'] or float('nan'):.1f} ms, p95 {only['refused_p95_ms'] or float('nan'):.1f} ms", flush=True)
    finally:
        for drawer in made:
            drawer.http.close()
        if flooder:
            flooder.close()
        if getattr(server, "process", None) is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    ratios = [f["p95_ms"] / a["p95_ms"] for a, f in zip(phases[0::2], phases[1::2])]
    pooled = {phase: quantiles([s for e in phases if e["phase"] == phase for s in e["latencies"]]) for phase in ("alone", "flood")}
    flooded = [e["flood"] for e in phases if e["flood"]]
    return {"drawers": drawers, "calls": calls, "rounds": rounds, "connections": connections, "phases": phases,
            "ratios": ratios, "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "pooled": pooled, "pooled_ratio": pooled["flood"]["p95_ms"] / pooled["alone"]["p95_ms"],
            "flooder": {k: sum(f[k] for f in flooded) for k in ("answered", "refused", "error")},
            "errors": sum(e["errors"] for e in phases), "flood_only": only, "target": TARGET}


def report(found: dict) -> list[str]:
    """The results file's sections (and what is printed)."""
    rows = []
    for e in found["phases"]:
        f = e["flood"]
        rows.append([e["round"], e["phase"], e["calls"], round(e["p50_ms"], 1), round(e["p95_ms"], 1), e["errors"],
                     round(e["server_cpu"], 2), round(e["load"], 2),
                     f"{f['burst_answered']} in {f['burst_seconds']:.1f} s" if f else "",
                     f"{f['answered']} / {f['refused']} / {f['error']}" if f else "",
                     f"{f['per_second']:.0f}" if f else "",
                     f"{f['refused_p50_ms']:.1f}" if f and f["refused_p50_ms"] is not None else "",
                     f"{f['client_cpu']:.2f}" if f else ""])
    phases = results.table(["round", "phase", "drawing calls", "p50 ms", "p95 ms", "errors", "server CPU (cores)",
                            "load (1 min)", "flooder's burst, untimed", "flooder answered / refused / failed", "flooder calls/s", "refusal p50 ms", "flooder's own CPU (cores)"], rows)
    ratios = ", ".join(f"{r:.2f}" for r in found["ratios"])
    met = found["ratio_max"] <= TARGET
    o = found["flood_only"]
    verdict = results.table(["figure", "value", "target"], [
        ["p95(flood) / p95(alone), each round", ratios, f"<= {TARGET}"],
        ["ratio median (range)", f"{found['ratio_median']:.2f} ({found['ratio_min']:.2f}-{found['ratio_max']:.2f})",
         "met" if met else "NOT met"],
        ["pooled p50 alone / flood (ms)", f"{found['pooled']['alone']['p50_ms']:.1f} / {found['pooled']['flood']['p50_ms']:.1f}", ""],
        ["pooled p95 alone / flood (ms)", f"{found['pooled']['alone']['p95_ms']:.1f} / {found['pooled']['flood']['p95_ms']:.1f}",
         f"ratio {found['pooled_ratio']:.2f}"],
        ["flooder's calls answered / refused in words / failed otherwise",
         " / ".join(str(found["flooder"][k]) for k in ("answered", "refused", "error")), ""],
        ["drawing errors", found["errors"], "0"],
        ["the flooder alone: calls/s, server CPU (cores), CPU ms a call, refusal p50 / p95 ms",
         f"{o['per_second']:.0f}, {o['server_cpu']:.2f}, {o['cpu_ms_per_call']:.1f}, "
         f"{o['refused_p50_ms'] or float('nan'):.1f} / {o['refused_p95_ms'] or float('nan'):.1f} ({o['answered']} answered)", ""],
    ])
    said = sorted({s for e in found["phases"] if e["flood"] for s, _ in e["flood"]["said"]})[:3]
    words = (f"{found['drawers']} drawers (one HTTP client, one session and one X-Forwarded-For address each), {found['calls']} calls "
             f"each a phase (/classify_strokes with the pen up and /look_strokes in turn, {PAUSE_S} s apart); the flooder one "
             f"address on {found['connections']} connections calling /backprop_step back to back. The server: app.py behind "
             "DIGIT_LAB_PROXY_HOPS=1, default per-address limits; the measuring clients run on the same machine and share its "
             "cores. The flooder's words: " + ("; ".join(f'"{s}"' for s in said) or "none") + ".\n")
    return [words, phases, verdict]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flood", description=__doc__.splitlines()[0])
    parser.add_argument("--drawers", type=int, default=8, help="visitors drawing, one address each")
    parser.add_argument("--calls", type=int, default=40, help="drawing calls per drawer a phase")
    parser.add_argument("--rounds", type=int, default=3, help="alone/flood pairs")
    parser.add_argument("--connections", type=int, default=8, help="the flooder's concurrent connections")
    parser.add_argument("--burst", action="store_true",
                        help="time the flood from its first call, the burst its bucket allows included (default: from its first refusal)")
    parser.add_argument("--no-write", action="store_true", help="print only; no results file")
    args = parser.parse_args()
    found = run(args.drawers, args.calls, args.rounds, args.connections, args.burst)
    sections = report(found)
    for section in sections:
        print(section)
    if not args.no_write:
        print("wrote", results.write("flood", results.command_line("benchmarks.flood"), sections,
                                     title="One address flooding /backprop_step: the other visitors' drawing"))


if __name__ == "__main__":
    main()
