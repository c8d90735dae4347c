"""The test suite's time, and where its CPU goes: the README's `pytest` with a sampler that reads,
every half second, the CPU time of each process under each pytest worker (Chromium, Node, the
launched apps, their export processes, the worker itself, anything else a test started), and a
pytest plugin (this module) that notes which test each worker is running. On two cores the suite is
bound by CPU, so its CPU seconds, not its waits, are what a faster suite must cut. Writes
benchmarks/results/<date>-tests.md.

    python -m benchmarks.suite_cpu                                   # the whole suite
    python -m benchmarks.suite_cpu -- tests/test_keep_browser.py -n 0    # pytest's arguments after --

A process that starts and ends between two samples is not seen: short ones (a `pip index`) go
uncounted, so the totals are a little low.
"""
import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.launch import _tree

LOG = "DIGIT_LAB_SUITE_LOG"  # where the plugin in each worker appends "time pid start|end nodeid"
SAMPLE_S = 0.5
KINDS = ("chromium", "node", "app", "exporter", "worker", "other")


# ---- the plugin, loaded by each worker (-p benchmarks.suite_cpu) -------------------------------

_noting = False  # this process runs tests (not xdist's controller, which hears of every worker's)


def pytest_configure(config):
    global _noting
    controller = bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")
    _noting = bool(os.environ.get(LOG)) and not controller


def _note(what: str, nodeid: str) -> None:
    if _noting:
        with open(os.environ[LOG], "a") as log:
            log.write(f"{time.time():.2f} {os.getpid()} {what} {nodeid}\n")


def pytest_runtest_logstart(nodeid, location):
    _note("start", nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _note("end", nodeid)


# ---- the sampler ------------------------------------------------------------------------------

def kind(command: str, pid: int, workers: set) -> str:
    if pid in workers:
        return "worker"
    if "chrom" in command:
        return "chromium"
    if command.startswith("node") or "/node " in command:
        return "node"
    if "runs.exporter" in command:
        return "exporter"
    if re.search(r"\bapp\.py\b|draw_baseline_app\.py", command):
        return "app"
    return "other"


def usage(pid: int) -> tuple[float, str] | None:
    """(CPU seconds so far, command line) of a process, or None once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rfind(")") + 2:].split()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), command
    except (OSError, IndexError, ValueError):
        return None


class Sampler(threading.Thread):
    """CPU seconds under `root` by (worker pid, kind) and time, into `samples`."""

    def __init__(self, root: int, log: Path):
        super().__init__(daemon=True)
        self.root, self.log, self.samples, self.stop = root, log, [], threading.Event()

    def workers(self) -> set[int]:
        try:
            return {int(line.split()[1]) for line in self.log.read_text().splitlines() if line.strip()}
        except OSError:
            return set()

    def run(self) -> None:
        seen: dict[int, float] = {}
        while not self.stop.is_set():
            workers = self.workers()
            owner = dict.fromkeys(_tree(self.root), self.root)  # the root's, before a worker has logged a test
            for worker in (workers - {self.root}) & owner.keys():
                owner.update(dict.fromkeys(_tree(worker), worker))
            now, rows = time.time(), collections.Counter()
            for pid, top in owner.items():
                if (found := usage(pid)) is None:
                    continue
                cpu, command = found
                spent, seen[pid] = cpu - seen.get(pid, 0.0), cpu
                if spent > 0:
                    rows[(top, kind(command, pid, workers | {self.root}))] += spent
            self.samples.append((now, rows))
            self.stop.wait(SAMPLE_S)


def attribute(samples, log: Path):
    """CPU seconds by (test file, kind) and by (test, kind), and each test's wall time."""
    running = collections.defaultdict(list)  # worker -> [(time, nodeid or None)]
    starts, wall = {}, {}
    for line in log.read_text().splitlines():
        stamp, pid, what, nodeid = line.split(" ", 3)
        running[int(pid)].append((float(stamp), nodeid if what == "start" else None))
        if what == "start":
            starts[nodeid] = float(stamp)
        else:
            wall[nodeid] = float(stamp) - starts.get(nodeid, float(stamp))
    times = {pid: [t for t, _ in marks] for pid, marks in running.items()}
    by_file, by_test = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
    for now, rows in samples:
        for (worker, what), spent in rows.items():
            index = bisect.bisect_right(times.get(worker, []), now) - 1
            test = running[worker][index][1] if index >= 0 and running[worker][index][1] else "(between tests: start-up, collection)"
            by_file[test.split("::")[0]][what] += spent
            by_test[test][what] += spent
    return by_file, by_test, wall


def report(by_file, by_test, wall, elapsed: float, outcome: str) -> list[str]:
    from benchmarks import results

    total = collections.Counter()
    for spent in by_file.values():
        total.update(spent)
    cpu = sum(total.values())
    summary = results.table(["figure", "value"], [
        ["wall time", f"{elapsed // 60:.0f} m {elapsed % 60:02.0f} s"], ["pytest's last line", outcome],
        ["CPU seconds seen (all processes under pytest)", f"{cpu:,.0f}"],
        ["cores busy on average", f"{cpu / elapsed:.2f}"],
        *[[f"... of which {what}", f"{total[what]:,.0f} ({total[what] / cpu:.0%})"] for what in KINDS if total[what]]])

    def rows(found, count):
        ranked = sorted(found.items(), key=lambda item: -sum(item[1].values()))[:count]
        return [[name, f"{sum(spent.values()):.0f}", *[f"{spent[what]:.0f}" for what in KINDS]] + ([f"{wall.get(name, 0):.0f}"] if found is by_test else [])
                for name, spent in ranked]
    files = results.table(["test file", "CPU s", *KINDS], rows(by_file, 25))
    tests = results.table(["test", "CPU s", *KINDS, "wall s"], rows(by_test, 15))
    words = ("Kinds: chromium (the browser tests' Chromium), node (Gradio's SSR), app (the launched "
             "`python app.py`s), exporter (their runs' export processes), worker (the pytest process "
             "itself: in-process training, clients, assertions), other (command lines, torchrun, pip).")
    return [summary, words, "### By test file, the 25 costliest", files, "### By test, the 15 costliest", tests]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="pytest's own arguments (after --); none: the whole suite")
    args = parser.parse_args(argv)
    from benchmarks import results

    log = Path(tempfile.mkdtemp(prefix="suite-cpu-")) / "tests.log"
    log.touch()
    env = {**os.environ, LOG: str(log), "PYTHONPATH": os.pathsep.join(filter(None, [str(results.ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    suite = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "benchmarks.suite_cpu", "-p", "no:cacheprovider", *args.pytest_args],
                             cwd=results.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = Sampler(suite.pid, log)
    sampler.start()
    last = ""
    for line in suite.stdout:
        sys.stdout.write(line)
        last = line.strip() or last
    suite.wait()
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    sections = report(*attribute(sampler.samples, log), elapsed, last.strip("= "))
    path = results.write("tests", results.command_line("benchmarks.suite_cpu", argv), sections,
                         title="The test suite's time, and where its CPU goes")
    print(f"wrote {path}")
    sys.exit(suite.returncode)


if __name__ == "__main__":
    main()
