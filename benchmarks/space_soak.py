"""A soak as a Space runs: the app behind SSR (Gradio's Node proxy in front of Python), for
`--minutes` under a steady mix of simulated visitors at a human pace, each with one client and its
own address; errors, latency over time, memory and disk.

The app: `python app.py` with SPACE_ENV (GRADIO_SSR_MODE=true, SYSTEM=spaces, a SPACE_ID) and
DIGIT_LAB_PROXY_HOPS=1, so the caller's address is the last X-Forwarded-For entry
(visitors/limits.py) and each visitor's header makes it its own address, as a Space's proxy does;
the per-address limits at their defaults. Its runs, the visitors' vault, Gradio's cache
(GRADIO_TEMP_DIR) and the class board go to one temporary folder, which is also its TMPDIR (the
app's own temporary files: the Generate tab's GIFs, downloads), deleted at the end (Ctrl-C too).
That SSR really serves the page is checked first: Gradio's SSR line in the log (benchmarks.launch.
Server waits for it), a Node process among the server's children, and the page's HTML, rendered by
Node, naming Digit Lab.

The visitors (their numbers are options; the defaults, 34 visitors, are a Space's busy hour that a
2-core machine sustains without saturating):

- drawers (benchmarks.classroom.Drawer, plain HTTP): digits at the pen's pace, asking what a page
  asks that cannot make the saliency itself (/look_strokes once the pen stays up and at Clear),
  and every third digit the pen-up reading (/classify_strokes, the views' images fetched);
- generators (gradio_client): /show a few times as a slider is dragged, /previews, now and then
  /sample, /interpolate and /new_seed;
- trainers (gradio_client): /train, a one-epoch CNN, waited for to its end (the runs take turns in
  the queue, so several wait), then a rest;
- backprop (plain HTTP): /backprop_step on a drawn digit now and then;
- uploaders (gradio_client): /classify_upload with a PNG of a drawn digit;
- hostile (gradio_client): the hostile values tests/test_endpoint_fuzz.py draws for the endpoints
  above (its `endpoints`, `cases` and `call`), which must be refused in words.

An answer is "ok"; a refusal is gr.Error with words (gradio_client's AppError, or the JSON error
of a direct POST); anything else (a bare error, an HTTP failure, a timeout, an exception) is an
error. Figures: the errors, each endpoint's p95 per time window (`--window` minutes), the memory of
the server's process tree (Python, Node, training workers) and the disk of the runs folder, the
visitors' vault and Gradio's cache, at the start, after `--warmup` minutes and at the end (each the
median of the samples of the minute before it). Verdict: no error beyond refusals and memory after
warm-up to the end within 10%; the disk of each folder is reported with its growth an hour, and
held to the bound it has (DISK below) rather than to flatness.

    python -m benchmarks.space_soak                       # 30 minutes, 5-minute windows
    python -m benchmarks.space_soak --minutes 3 --window 1 --warmup 1 --no-write
"""
import argparse
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks import results
from benchmarks.launch import SPACE_ENV, Server, _tree, client_for, sketch_files
from benchmarks.soak_visitors import Fuzz, Record, backprop, drawer, generator, hostile, trainer, uploader
from visitors.folders import folder_bytes

TOLERANCE = 0.10  # memory and disk after warm-up to the end
SAMPLE_S = 15.0  # memory and disk sampled this often
POINT_S = 60.0  # a point (start, after warm-up, end) is the median of the samples of this long before it
VISITORS = {"drawers": 16, "generators": 6, "trainers": 4, "backprop": 3, "uploaders": 3, "hostile": 2}


# ---- memory, disk, SSR ------------------------------------------------------------------------

def processes(pid: int) -> dict[str, float]:
    """MiB resident by kind of process in the server's tree: python (the app), node, workers (the rest)."""
    from benchmarks.launch import _rss_kib

    found = {"python": 0.0, "node": 0.0, "workers": 0.0}
    for p in _tree(pid):
        try:
            name = Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        kind = "python" if p == pid else ("node" if name.startswith("node") else "workers")
        found[kind] += _rss_kib(p) / 1024
    return found


def ssr_served(server: Server) -> str:
    """Why the page is SSR, in words; raises when it is not."""
    import httpx

    node = [p for p in _tree(server.process.pid) if Path(f"/proc/{p}/comm").exists()
            and Path(f"/proc/{p}/comm").read_text().strip().startswith("node")]
    page = httpx.get(server.url, timeout=30)
    if not node:
        raise RuntimeError("no Node process under the server: SSR is off")
    if page.status_code != 200 or "Digit Lab" not in page.text:
        raise RuntimeError(f"the page through Node did not render Digit Lab (HTTP {page.status_code})")
    return f"Gradio's SSR line in the log, Node (pid {node[0]}) in the server's tree, the page's HTML rendered with 'Digit Lab' ({len(page.text):,} bytes)"


class Sampler(threading.Thread):
    """Memory and disk every SAMPLE_S seconds into `samples`."""

    def __init__(self, server: Server, folders: dict[str, Path], record: Record, stop: threading.Event, log):
        super().__init__(daemon=True)
        self.server, self.folders, self.record, self.stop_event, self.log = server, folders, record, stop, log
        self.samples: list[dict] = []

    def sample(self) -> dict:
        memory = processes(self.server.process.pid)
        # each folder apart: the runs without the vault (were it inside), the app's TMPDIR without the three
        others = lambda name: tuple(p for n, p in self.folders.items() if n != name and n != "app_tmp")  # noqa: E731
        disk = {name: folder_bytes(path, skip=others(name)) / 2**20 for name, path in self.folders.items()}
        entry = {"t": time.monotonic() - self.record.origin, "rss_mib": sum(memory.values()), **{f"rss_{k}": v for k, v in memory.items()},
                 **{f"disk_{k}": v for k, v in disk.items()}, "disk_mib": sum(disk.values()), "load": os.getloadavg()[0]}
        self.samples.append(entry)
        return entry

    def run(self) -> None:
        while True:
            entry = self.sample()
            with self.record.lock:
                calls = list(self.record.calls)
            errors = sum(c[3] == "error" for c in calls)
            runs = sum(c[1] == "/train (queued + run)" and c[3] == "ok" for c in calls)
            self.log(f"[soak] {entry['t'] / 60:5.1f} min: {len(calls)} calls, {sum(c[3] == 'refused' for c in calls)} refused, "
                     f"{errors} errors, {runs} runs finished; RSS {entry['rss_mib']:.0f} MiB (python {entry['rss_python']:.0f}, node {entry['rss_node']:.0f}, "
                     f"workers {entry['rss_workers']:.0f}); disk {entry['disk_mib']:.1f} MiB; load {entry['load']:.2f}", flush=True)
            if self.stop_event.wait(SAMPLE_S):
                return


FINAL = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b")
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def exceptions_in(log: str) -> dict[str, list[str]]:
    """The server log's tracebacks by kind, each as its final line: "refusals" (gr.Error, printed
    by a handler that did not turn printing off: words to the visitor, noise in the log),
    "ignored" (Python's "Exception ignored in": raised in a finaliser, no caller saw it) and
    "unexpected" (everything else: an exception a visitor may have met)."""
    found = {"refusals": [], "ignored": [], "unexpected": []}
    lines = log.splitlines()
    ignored = False
    for i, line in enumerate(lines):
        if "Exception ignored in" in line:
            ignored = True
        if not FINAL.match(line):
            continue
        following = next((l for l in lines[i + 1:] if l.strip()), "")
        if following.startswith(CHAINED):
            continue  # a cause; the group's last exception follows
        kind = "ignored" if ignored else ("refusals" if line.startswith("gradio.exceptions.Error") else "unexpected")
        found[kind].append(line[:200])
        ignored = False
    return found


def point(samples: list[dict], at: float) -> dict | None:
    """The median of each figure over the samples in the POINT_S before `at` (the nearest one if none)."""
    near = [s for s in samples if at - POINT_S <= s["t"] <= at + 1]
    if not near:
        earlier = [s for s in samples if s["t"] <= at + 1] or samples
        near = [min(earlier, key=lambda s: abs(s["t"] - at))] if earlier else []
    if not near:
        return None
    return {key: statistics.median(s[key] for s in near) for key in near[0]}


# ---- the soak ---------------------------------------------------------------------------------

def run(minutes: float = 30.0, window: float = 5.0, warmup: float = 5.0, visitors: dict | None = None,
        env: dict | None = None, log=print) -> dict:
    visitors = {**VISITORS, **(visitors or {})}
    # The server's temporary directory (TMPDIR) holds its runs, the vault, Gradio's cache and the class
    # board, as a Space's default runs folder lies under the app's own directory: where they lie
    # outside both, tabs/train/my_runs.py copies a finished run's files to the temp directory first.
    temp, mine = Path(tempfile.mkdtemp(prefix="space-soak-")), Path(tempfile.mkdtemp(prefix="space-soak-clients-"))
    folders = {"runs": temp / "runs", "visitors": temp / "visitors", "gradio_cache": temp / "gradio", "app_tmp": temp}
    for name, path in folders.items():
        path.mkdir(exist_ok=True)
    server_env = {**SPACE_ENV, "DIGIT_LAB_PROXY_HOPS": "1", "DIGIT_LAB_RUNS_DIR": str(folders["runs"]),
                  "DIGIT_LAB_VISITORS_DIR": str(folders["visitors"]), "GRADIO_TEMP_DIR": str(folders["gradio_cache"]),
                  "DIGIT_LAB_CLASS_DIR": str(temp / "class"),
                  # the app's own temporary files (the Generate tab's GIFs, downloads, CSVs) and Node's, measured too
                  "TMPDIR": str(temp), **(env or {})}
    record, stop, threads, clients = Record(), threading.Event(), [], []
    server, sampler, fuzz, ssr, started_at, interrupted = None, None, Fuzz(), "", None, False
    try:
        server = Server.__new__(Server)  # bound before it starts, so a Ctrl-C while it starts still stops it
        server.__init__(env_extra=server_env, timeout=600)
        ssr = ssr_served(server)
        log(f"[soak] app at {server.url} in {server.page_s:.0f} s; SSR: {ssr}")
        if visitors["hostile"] and fuzz.module is None:
            log(f"[soak] tests/test_endpoint_fuzz.py did not import ({fuzz.why}): no hostile visitors")
            visitors["hostile"] = 0
        downloads = mine / "downloads"
        pictures = [sketch_files(mine, digit, variant)["composite"] for digit in (0, 1, 7) for variant in range(3)]
        n = 0

        def address() -> str:
            nonlocal n
            n += 1
            return f"10.{20 + n // 250}.{n % 250}.{(7 * n) % 250 + 1}"

        def client(who: str):
            made = client_for(server.url, timeout=60, headers={"X-Forwarded-For": who}, download_files=downloads)
            clients.append(made)
            return made

        plan = []
        plan += [(drawer, (k, server.url, address(), record, stop, {})) for k in range(visitors["drawers"])]
        plan += [(backprop, (k, server.url, address(), record, stop)) for k in range(visitors["backprop"])]
        plan += [(generator, (k, client(address()), record, stop)) for k in range(visitors["generators"])]
        plan += [(trainer, (k, client(address()), record, stop)) for k in range(visitors["trainers"])]
        plan += [(uploader, (k, client(address()), record, stop, pictures)) for k in range(visitors["uploaders"])]
        plan += [(hostile, (k, client(address()), record, stop, fuzz)) for k in range(visitors["hostile"])]
        # The clock starts once every visitor's client has its config (through Node, as a page loads).
        record.origin = time.monotonic()
        sampler = Sampler(server, folders, record, stop, log)
        sampler.sample()  # the start: the page served, nobody yet
        started_at = sampler.samples[0]
        sampler.samples.clear()
        sampler.start()
        for target, args in plan:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            threads.append(thread)
            stop.wait(0.2)  # the visitors arrive over a few seconds
        log(f"[soak] {len(threads)} visitors: " + ", ".join(f"{v} {k}" for k, v in visitors.items()), flush=True)
        stop.wait(max(0.0, minutes * 60 - (time.monotonic() - record.origin)))
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
        log("[soak] interrupted: stopping the visitors and the server", flush=True)
    finally:
        stop.set()
        ended = time.monotonic() - record.origin
        for thread in threads:
            thread.join(max(0.0, 20 - (time.monotonic() - record.origin - ended)))
        if sampler is not None and sampler.is_alive():
            sampler.join(SAMPLE_S + 5)
        started = getattr(server, "process", None) is not None
        final = sampler.sample() if sampler is not None and started and server.process.poll() is None else None
        for made in clients:
            try:
                made.close()
            except Exception:
                pass
        log_text = server.log_path.read_text(errors="replace") if started and server.log_path.exists() else ""
        if started:
            tree = _tree(server.process.pid)
            server.stop()
            for pid in tree[1:]:  # Node and any worker the server left behind: ours, by their ids
                try:
                    os.kill(pid, 15)
                except OSError:
                    pass
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)
    samples = sampler.samples if sampler is not None else []
    if final is not None and samples and samples[-1] is not final:
        samples.append(final)
    return {"minutes": minutes, "window": window, "warmup": warmup, "ended_s": ended, "interrupted": interrupted,
            "visitors": visitors, "ssr": ssr, "calls": record.calls, "samples": samples, "start": started_at,
            "after_warmup": point(samples, warmup * 60), "end": point(samples, ended),
            "exceptions": exceptions_in(log_text), "slow_refusals": record.slow_refusals,
            "fuzz": fuzz.why or "tests/test_endpoint_fuzz.py"}


# Why the disk is reported, not judged, over a soak shorter than its bounds' own time: each folder
# is bounded by bytes and age (app.py, visitors/folders.py), not held flat. What visitors make grows
# with what they make, up to its cap; Gradio's cache holds every answer's images until
# delete_cache's pass (every 30 min) finds them over 2 h old, so it levels at about 2.5 h of them.
DISK = ("each folder is bounded rather than flat: runs by DIGIT_LAB_RUNS_MAX_MB (2 GiB) and 30 days, the visitors' "
        "work by DIGIT_LAB_VISITORS_MAX_MB (1 GiB), Gradio's cache by delete_cache (files over 2 h old, every 30 min: "
        "about 2.5 h of answers at the rate below), the app's own temp files by age")


def summarise(found: dict) -> dict:
    calls = found["calls"]
    errors = [c for c in calls if c[3] == "error"]
    windows = max(1, int(np.ceil(found["ended_s"] / (found["window"] * 60))))
    by_endpoint = {}
    for t, endpoint, seconds, outcome, _ in calls:
        if outcome == "error":
            continue
        w = min(windows - 1, int(t // (found["window"] * 60)))
        by_endpoint.setdefault(endpoint, [[] for _ in range(windows)])[w].append(seconds)
    a, b = found["after_warmup"], found["end"]
    drift = {}
    if a and b:
        hours = max(1e-9, (found["ended_s"] - found["warmup"] * 60) / 3600)
        for key in ("rss_mib", "rss_python", "rss_node", "disk_mib", "disk_runs", "disk_visitors", "disk_gradio_cache", "disk_app_tmp"):
            drift[key] = (b[key] - a[key]) / a[key] if a[key] else (0.0 if b[key] == a[key] else float("inf"))
            drift[f"{key}_per_hour"] = (b[key] - a[key]) / hours
    flat = bool(drift) and abs(drift["rss_mib"]) <= TOLERANCE  # disk: see DISK below
    return {"calls": len(calls), "ok": sum(c[3] == "ok" for c in calls), "refused": sum(c[3] == "refused" for c in calls),
            "errors": len(errors), "error_kinds": sorted({f"{c[1]}: {c[4][:150]}" for c in errors})[:8],
            "windows": windows, "by_endpoint": by_endpoint, "drift": drift,
            "verdict": not errors and flat and not found["exceptions"]["unexpected"]}


def report(found: dict, figures: dict) -> list[str]:
    w = found["window"]
    columns = ["endpoint", "calls", "refused", "errors"] + [f"p95 s, {k * w:g}-{(k + 1) * w:g} min" for k in range(figures["windows"])]
    rows = []
    outcomes = {}
    for _, endpoint, _, outcome, _ in found["calls"]:
        outcomes.setdefault(endpoint, {"ok": 0, "refused": 0, "error": 0})[outcome] += 1
    for endpoint in sorted(figures["by_endpoint"]) + sorted(set(outcomes) - set(figures["by_endpoint"])):
        per = figures["by_endpoint"].get(endpoint, [[]] * figures["windows"])
        counts = outcomes[endpoint]
        rows.append([endpoint, sum(counts.values()), counts["refused"], counts["error"],
                     *[f"{np.percentile(s, 95):.3f} ({len(s)})" if s else "" for s in per]])
    latency = results.table(columns, rows)
    points = [("start", found["start"]), (f"after warm-up ({found['warmup']:g} min)", found["after_warmup"]), ("end", found["end"])]
    keys = [("rss_mib", "RSS all, MiB"), ("rss_python", "python"), ("rss_node", "node"), ("rss_workers", "workers"),
            ("disk_runs", "runs dir, MiB"), ("disk_visitors", "visitors' dir"), ("disk_gradio_cache", "Gradio's cache"),
            ("disk_app_tmp", "the app's TMPDIR"),
            ("disk_mib", "disk all")]
    memory = results.table(["when"] + [name for _, name in keys],
                           [[when] + [round(p[k], 2) if p else "" for k, _ in keys] for when, p in points])
    drift = figures["drift"]
    peak = max((s["rss_mib"] for s in found["samples"]), default=float("nan"))
    ex = found["exceptions"]
    verdict = results.table(["figure", "value", "target", ""], [
        ["calls: answered / refused in words / errors", f"{figures['ok']} / {figures['refused']} / {figures['errors']}", "0 errors",
         "met" if not figures["errors"] else "NOT met"],
        ["unexpected exceptions in the server's log", len(ex["unexpected"]), "0", "met" if not ex["unexpected"] else "NOT met"],
        ["gr.Error refusals that print a traceback to the log / exceptions ignored in finalisers", f"{len(ex['refusals'])} / {len(ex['ignored'])}",
         "", ""],
        ["refusals in words slower than tests/test_endpoint_fuzz.py's 5 s", len(found["slow_refusals"]), "", ""],
        ["memory (all processes), after warm-up to the end", f"{drift.get('rss_mib', float('nan')):+.1%} (peak {peak:.0f} MiB)",
         f"within {TOLERANCE:.0%}", "met" if abs(drift.get("rss_mib", 1)) <= TOLERANCE else "NOT met"],
        ["disk (all folders), after warm-up to the end", f"{drift.get('disk_mib', float('nan')):+.1%}", f"within {TOLERANCE:.0%}",
         ("met" if abs(drift.get("disk_mib", 1)) <= TOLERANCE else "NOT met") + ": " + DISK],
        ["... of which the runs dir / the visitors' dir / Gradio's cache / the app's TMPDIR",
         " / ".join(f"{drift.get(k, float('nan')):+.1%} ({drift.get(k + '_per_hour', float('nan')):+.1f} MiB/h)"
                    for k in ("disk_runs", "disk_visitors", "disk_gradio_cache", "disk_app_tmp")), "", ""],
        ["memory: python / node, after warm-up to the end",
         " / ".join(f"{drift.get(k, float('nan')):+.1%} ({drift.get(k + '_per_hour', float('nan')):+.0f} MiB/h)" for k in ("rss_python", "rss_node")),
         "", ""],
        ["verdict", "PASS" if figures["verdict"] else "FAIL", "", ""],
    ])
    words = (f"{sum(found['visitors'].values())} visitors for {found['ended_s'] / 60:.1f} min"
             f"{' (interrupted)' if found['interrupted'] else ''}: " + ", ".join(f"{v} {k}" for k, v in found["visitors"].items())
             + f"; each one client and one X-Forwarded-For address. SSR: {found['ssr']}. Hostile values from {found['fuzz']}. "
             "p95 per window over the calls answered or refused (their count in brackets); memory and disk each the median of "
             f"the samples of the minute before the point, sampled every {SAMPLE_S:g} s.\n")
    sections = [words, latency, memory, verdict]
    if figures["error_kinds"]:
        sections.append("Errors (endpoint: what was said):\n\n" + "\n".join(f"- {e}" for e in figures["error_kinds"]) + "\n")
    for kind, lines in ex.items():
        if lines:
            counted = {}
            for line in lines:
                counted[line] = counted.get(line, 0) + 1
            sections.append(f"The server log's exceptions, {kind} (last line, times):\n\n"
                            + "\n".join(f"- `{line}` x{times}" for line, times in sorted(counted.items(), key=lambda i: -i[1])[:8]) + "\n")
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.space_soak", description="A soak as a Space runs: SSR, mixed visitors, memory and disk.")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the visitors come (default 30)")
    parser.add_argument("--window", type=float, default=5.0, help="minutes a p95 window")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before memory and disk must stay flat")
    for name, count in VISITORS.items():
        parser.add_argument(f"--{name}", type=int, default=count, help=f"visitors of this kind (default {count})")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="set in the server's environment")
    parser.add_argument("--no-write", action="store_true", help="print only; no results file")
    args = parser.parse_args()
    found = run(args.minutes, args.window, args.warmup, {name: getattr(args, name) for name in VISITORS},
                dict(item.split("=", 1) for item in args.env))
    figures = summarise(found)
    sections = report(found, figures)
    for section in sections:
        print(section)
    if found["interrupted"]:
        print("interrupted: no results file written")
    elif not args.no_write:
        print("wrote", results.write("space-soak", results.command_line("benchmarks.space_soak"), sections,
                                     title="A soak as a Space runs: SSR, mixed visitors, memory and disk"))


if __name__ == "__main__":
    main()
