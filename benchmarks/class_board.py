"""A class on one server: a teacher opens a class, S students (one gradio_client Client each, so
one session each, as one page each) join it and each finishes R short CNN runs through /train, all
pressing Start at once and again as soon as their run ends. Then the board is read as the teacher's
page and a class allowed to see it read it.

    python -m benchmarks.class_board                       # 40 students, 3 runs each, 5 steps a run
    python -m benchmarks.class_board --students 10 --runs 1 --steps 3
    python -m benchmarks.class_board --minutes 15            # a busy machine: stop pressing Start then

With --minutes the class stops pressing Start after that long (those still waiting leave the queue
with /stop_training), and the board is filled up to the full count with copies of the real runs'
entries, written into its storage, so that the refreshes are still measured on a board of S*R runs;
the results file says how many runs were trained and how many copied.

The runs are kept short by the app's own cap, DIGIT_LAB_TRAIN_MAX_STEPS (each run stops after
--steps optimiser steps, then is evaluated on the held-out digits and exported, as any run), one
run trains at a time (the CPU default), and the queue and the per-address limits are raised to a
class's size, since every student here comes from 127.0.0.1.

Figures:
- the training queue: each run's wait from Start to its first step-taking status; the wait of the
  last student to start their first run (the whole class pressed Start within a second), and the
  longest wait of any run;
- the board's refresh (/class_board) while the class trains, polled by the teacher once a second,
  as the teacher's page does;
- at S students and S*R runs, once training is over: the teacher alone refreshing back to back,
  then the teacher and every student refreshing at once; each with the latency (median, p95) and
  the server's CPU per refresh, net of its idle CPU (measured first);
- what the teacher's page adds to a refresh: the table and chart made from the board's JSON
  (tabs/board_view.py), timed in this process.
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import tempfile
import threading
import time

import numpy as np

from benchmarks.classroom import cpu_seconds, told
from benchmarks.launch import Server, client_for, hammer, summary

IDLE_S = 5.0


def student_runs(client, code: str, name: str, runs: int, settings, origin: float, timeout: float,
                 enough: threading.Event) -> tuple[list[dict], str]:
    """One student: join, then `runs` runs one after the other; each run's press, start and end
    (seconds since `origin`) and where in the queue it was first put; and the student's token.
    Once `enough` is set the student presses Start no more, and leaves the queue if still in it."""
    token = client.predict(code, name, api_name="/class_join")[1]["token"]
    done = []
    for k in range(runs):
        if enough.is_set():
            break
        pressed = time.monotonic() - origin
        job = client.submit(**settings(k), api_name="/train")
        statuses, started, place = 0, None, 0
        deadline = time.monotonic() + timeout
        left = False
        while not job.done() and time.monotonic() < deadline:
            if enough.is_set() and started is None and not left:
                client.predict(api_name="/stop_training")
                left = True
            outputs = job.outputs()
            for output in outputs[statuses:]:
                queued = told(output[0] if isinstance(output, (list, tuple)) else str(output))
                if queued and not place:
                    place = queued[0]
                if queued is None and started is None:
                    started = time.monotonic() - origin
            statuses = len(outputs)
            time.sleep(0.1)
        if not job.done():
            job.cancel()
            raise TimeoutError(f"{name}'s run {k + 1} did not end within {timeout} s")
        job.result()
        ended = time.monotonic() - origin
        if left:  # still waiting when the class stopped: how long, and where it was put
            done.append({"student": name, "run": k + 1, "pressed": pressed, "left": ended, "place": place})
            break
        done.append({"student": name, "run": k + 1, "pressed": pressed, "started": started if started is not None else ended,
                     "ended": ended, "place": place})
    return done, token


def replay(code: str, key: str, tokens: dict[str, str], runs: int) -> int:
    """Fill the board up to `runs` entries a student with copies of the class's real entries
    (their settings, figures and curves), written straight into the board's storage; how many."""
    from classroom import board

    real = board.board(code, key)["runs"]
    have = {}
    for run in real:
        have[run["nickname"]] = have.get(run["nickname"], 0) + 1
    added = 0
    for name, token in tokens.items():
        for k in range(have.get(name, 0), runs):
            source = real[(added + k) % len(real)]
            board.add_run(token, {**source, "run_id": f"replayed-{name}-{k}"})
            added += 1
    return added


def poll_board(url: str, code: str, key: str, stop: threading.Event) -> list[tuple[int, float]]:
    """The teacher's page while the class trains: the board once a second, (runs on it, seconds)."""
    client, seen = client_for(url, timeout=60), []
    while not stop.is_set():
        began = time.perf_counter()
        data = client.predict(code, key, api_name="/class_board")
        seen.append((len(data["runs"]), time.perf_counter() - began))
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - began)))
    client.close()
    return seen


def refreshes(server: Server, url: str, args, clients: int, seconds: float, idle_cpu_s: float) -> dict:
    """`clients` callers refreshing the board back to back for `seconds`: latency and the server's CPU
    per refresh, net of what it burns idle."""
    before, began = cpu_seconds(server.process.pid), time.perf_counter()
    figures = hammer(url, "/class_board", args, clients, seconds, timeout=60)
    spent = cpu_seconds(server.process.pid) - before - idle_cpu_s * (time.perf_counter() - began)
    figures["cpu_ms_per_refresh"] = spent * 1e3 / max(1, figures["answers"])
    return figures


def page_render_ms(data: dict, repeats: int = 20) -> dict:
    """The teacher's page's own work on top of the JSON: summary, chart and table, in ms."""
    from tabs import board_view

    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        board_view.summary(data, "en")
        board_view.chart(data, "en", data["about"] or "activation")
        board_view.table(data, "en", "figure", "activation")
        timings.append(time.perf_counter() - began)
    return {"median_ms": statistics.median(timings) * 1e3, "p95_ms": float(np.percentile(timings, 95)) * 1e3}


def run(students: int = 40, runs: int = 3, steps: int = 5, seconds: float = 20.0, minutes: float | None = None) -> dict:
    env = {"DIGIT_LAB_CLASS_DIR": tempfile.mkdtemp(prefix="class-board-"), "DIGIT_LAB_RUNS_DIR": tempfile.mkdtemp(prefix="class-runs-"),
           "DIGIT_LAB_TRAIN_MAX_STEPS": str(steps), "DIGIT_LAB_TRAIN_QUEUE": str(students),
           "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5",
           # every student is 127.0.0.1 here; on a Space each would be an address of their own
           "DIGIT_LAB_PLACES_PER_ADDRESS": str(2 * students), "DIGIT_LAB_RATE_TRAIN": "10000/60",
           "DIGIT_LAB_CLASS_STUDENTS": str(max(200, students)), "DIGIT_LAB_CLASS_RUNS": str(max(30, runs))}
    os.environ["DIGIT_LAB_CLASS_DIR"] = env["DIGIT_LAB_CLASS_DIR"]  # replay() writes to the server's board
    server = Server(env_extra=env, timeout=600)
    try:
        teacher = client_for(server.url, timeout=60)
        code, key, _ = teacher.predict("activation", True, api_name="/class_open")

        def settings(k: int):  # half the class on Sigmoid, half on ReLU, as the lesson it is about
            return lambda run_k: {"kind": "cnn", "epochs": 1, "batch_size": 64, "train_digits": 500,
                                  "activation": ("sigmoid", "relu")[(k + run_k) % 2]}

        with concurrent.futures.ThreadPoolExecutor(students) as pool:
            made = list(pool.map(lambda _: client_for(server.url, timeout=60), range(students)))
        stop, enough = threading.Event(), threading.Event()
        poller = concurrent.futures.ThreadPoolExecutor(1).submit(poll_board, server.url, code, key, stop)
        origin = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(students) as pool:
            futures = [pool.submit(student_runs, c, code, f"student{k + 1:02d}", runs, settings(k), origin, 600.0 * runs, enough)
                       for k, c in enumerate(made)]
            if minutes:
                concurrent.futures.wait(futures, timeout=minutes * 60)
                enough.set()
            finished = [f.result() for f in futures]
        rows = [row for found, _ in finished for row in found]
        done, gave_up = [r for r in rows if "left" not in r], [r for r in rows if "left" in r]
        training_s = time.monotonic() - origin
        stop.set()
        replayed = replay(code, key, {f"student{k + 1:02d}": token for k, (_, token) in enumerate(finished)}, runs)
        polled = poller.result()
        for c in made:
            c.close()

        data = teacher.predict(code, key, api_name="/class_board")
        time.sleep(2.0)  # let the last run's clean-up settle before the idle reading
        before = cpu_seconds(server.process.pid)
        time.sleep(IDLE_S)
        idle = (cpu_seconds(server.process.pid) - before) / IDLE_S
        alone = refreshes(server, server.url, (code, key), 1, seconds, idle)
        together = refreshes(server, server.url, lambda i: (code, key) if i == 0 else (code,), students + 1, seconds, idle)
        teacher.close()
    finally:
        server.stop()

    first = [r for r in done if r["run"] == 1]
    last_first = max(first, key=lambda r: r["started"])
    waits = [r["started"] - r["pressed"] for r in done]
    return {"students": students, "runs_each": runs, "steps": steps, "runs_on_board": len(data["runs"]),
            "runs_trained": len(done), "runs_replayed": replayed, "minutes": minutes,
            "students_with_a_run": len({r["student"] for r in done}),
            "longest_left_waiting_s": max((r["left"] - r["pressed"] for r in gave_up), default=None),
            "left_waiting": len(gave_up),
            "students_on_board": len(data["students"]), "board_json_kib": len(json.dumps(data)) / 1024,
            "training_s": training_s, "run_s_median": statistics.median(r["ended"] - r["started"] for r in done),
            "last_student_first_wait_s": last_first["started"] - last_first["pressed"], "last_student_place": last_first["place"],
            "wait_median_s": statistics.median(waits), "wait_max_s": max(waits),
            "while_training": {"runs_at_end": polled[-1][0] if polled else 0, **summary([s for _, s in polled])},
            "idle_cpu_ms_per_s": idle * 1e3, "teacher_alone": alone, "whole_class": together,
            "page_render": page_render_ms(data)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.class_board", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3, help="runs each student finishes")
    parser.add_argument("--steps", type=int, default=5, help="DIGIT_LAB_TRAIN_MAX_STEPS: optimiser steps a run")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each refresh measurement lasts")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop pressing Start after this long; the board is then filled up with copies of the real runs")
    args = parser.parse_args()
    f = run(args.students, args.runs, args.steps, args.seconds, args.minutes)
    print(json.dumps(f, indent=1, default=str))

    from benchmarks import results

    def row(name, figures, clients):
        return [name, clients, figures["answers"], figures["errors"], figures["latency_median_ms"],
                figures["latency_p95_ms"], figures["cpu_ms_per_refresh"]]

    refresh = results.table(
        ["who refreshes", "callers", "refreshes", "errors", "median ms", "p95 ms", "server CPU ms a refresh"],
        [row("the teacher, back to back", f["teacher_alone"], 1), row("the teacher and every student at once", f["whole_class"], f["students"] + 1)])
    training = f["while_training"]
    queue = results.table(
        ["figure", "value"],
        [["runs on the board at the end", f"{f['runs_on_board']} of {f['students'] * f['runs_each']}"],
         ["of them trained through /train / copies of those", f"{f['runs_trained']} / {f['runs_replayed']}"],
         ["students on the board", f["students_on_board"]],
         ["the board's JSON", f"{f['board_json_kib']:.0f} KiB"],
         ["whole class, first press to last run's end", f"{f['training_s']:.0f} s"],
         ["a run, first step to its end (median; steps, held-out evaluation, ONNX export)", f"{f['run_s_median']:.2f} s"],
         ["students who finished a run", f"{f['students_with_a_run']} of {f['students']}"],
         ["wait of the last student to start a first run", f"{f['last_student_first_wait_s']:.0f} s (place {f['last_student_place']})"],
         *([["runs still waiting when the class stopped pressing Start / the longest had waited",
             f"{f['left_waiting']} / {f['longest_left_waiting_s']:.0f} s"]] if f["left_waiting"] else []),
         ["a run's wait, median / longest", f"{f['wait_median_s']:.0f} s / {f['wait_max_s']:.0f} s"],
         ["/class_board while the class trains, median / p95", f"{training['median_ms']:.0f} ms / {training['p95_ms']:.0f} ms ({training['calls']} refreshes)"],
         ["the teacher's page: table and chart from the JSON, median / p95", f"{f['page_render']['median_ms']:.1f} ms / {f['page_render']['p95_ms']:.1f} ms"],
         ["the server's idle CPU", f"{f['idle_cpu_ms_per_s']:.0f} ms a second"]])
    words = (f"A class of {f['students']} students (one gradio_client Client each) on one launched app.py, each finishing "
             f"{f['runs_each']} CNN runs through /train (epochs 1, batch 64, 500 training digits, Sigmoid and ReLU in turn), "
             f"each run cut to {f['steps']} optimiser steps by DIGIT_LAB_TRAIN_MAX_STEPS; one run trains at a time. "
             "The class pressed Start within a second, and again as each run ended. The refreshes were measured after "
             "the last run, with the whole class and its runs on the board; CPU is net of the server's idle CPU. "
             "Client and server share the machine's cores.\n")
    if f["runs_replayed"]:
        words += (f"\nThe class stopped pressing Start after {f['minutes']:g} minutes (--minutes): {f['runs_trained']} runs had been "
                  f"trained through /train; the board was then filled up to {f['runs_each']} runs a student with "
                  f"{f['runs_replayed']} copies of those runs' entries (settings, figures and curves), written into the "
                  "board's storage, so that the refreshes read a board of the full size.\n")
    print("wrote", results.write("class-board", results.command_line("benchmarks.class_board"),
                                 [words, "## The class and the queue\n", queue, "## The board's refresh at the end\n", refresh],
                                 title="A class board: 40 students, their runs and the board's refresh"))


if __name__ == "__main__":
    main()
