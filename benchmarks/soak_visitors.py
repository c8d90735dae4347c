"""The simulated visitors of the Space soak (benchmarks/space_soak.py): what each kind of visitor
does at a human pace, one client and one address each, and how an answer is judged: "ok", a
refusal in words, or an error."""
import json
import random
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.classroom import Drawer

TIMEOUT_S = 120.0  # one call's longest wait (a run's: RUN_TIMEOUT_S)
RUN_TIMEOUT_S = 900.0
HOSTILE_ENDPOINTS = ("/classify_strokes", "/classify_upload", "/backprop_step", "/show", "/previews", "/sample",
                     "/interpolate", "/train")


def ask(client, *args, api_name: str, **kwargs):
    """client.predict, bounded in time."""
    return client.submit(*args, api_name=api_name, **kwargs).result(timeout=TIMEOUT_S)


class Record:
    """Every call: (seconds since the start, endpoint, seconds it took, outcome, what was said)."""

    def __init__(self):
        self.calls, self.lock, self.origin = [], threading.Lock(), time.monotonic()
        self.slow_refusals: list[str] = []

    def add(self, endpoint: str, seconds: float, outcome: str, said: str = "") -> None:
        with self.lock:
            self.calls.append((time.monotonic() - self.origin - seconds, endpoint, seconds, outcome, said[:200]))

    def timed(self, endpoint: str, function, *args, **kwargs):
        """Call function(*args) and record it; returns its result, or None when it failed."""
        started = time.monotonic()
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            outcome, said = judge(error)
            self.add(endpoint, time.monotonic() - started, outcome, said)
            return None
        self.add(endpoint, time.monotonic() - started, "ok")
        return result


BARE = ("has not enabled verbose error reporting", "Error raised.")


def judge(error: BaseException) -> tuple[str, str]:
    """("refused", words) for gr.Error with words, else ("error", what it was)."""
    import httpx
    from gradio_client.exceptions import AppError

    if isinstance(error, AppError):
        said = str(error).strip()
        return ("error" if not said or any(b in said for b in BARE) else "refused"), said
    if isinstance(error, httpx.HTTPStatusError):
        try:
            said = error.response.json().get("error")
        except Exception:
            said = None
        if said:
            return "refused", str(said)
        return "error", f"HTTP {error.response.status_code}: {error.response.text[:150]}"
    return "error", f"{type(error).__name__}: {error}"


class Fuzz:
    """What tests/test_endpoint_fuzz.py draws and how it judges a call, reused when it imports
    cleanly (pytest and hypothesis installed); None otherwise, and the hostile visitors stay home."""

    def __init__(self):
        try:
            from tests import test_endpoint_fuzz as fuzz
        except Exception as error:  # noqa: BLE001 (whatever stops the import, the soak goes on without it)
            self.module, self.why = None, f"{type(error).__name__}: {error}"
            return
        self.module, self.why = fuzz, ""

    def calls(self, client) -> list[tuple[str, dict]]:
        listed = self.module.endpoints(client)
        return [(endpoint, values) for endpoint, (names, required, kinds) in listed.items() if endpoint in HOSTILE_ENDPOINTS
                for values in self.module.cases(names, required, kinds)]


class FuzzTally:
    """The tally test_endpoint_fuzz.call() fills, written into the soak's record: its refusals
    in words are refusals, its bare and slow answers errors."""

    def __init__(self, record: Record):
        self.record = record

    def add(self, endpoint: str, seconds: float, refused: bool = False, bare=None, slow=None):
        # A refusal in words past the fuzz test's 5 s is still a refusal here; it is counted apart.
        outcome = "error" if bare or (slow and not refused) else ("refused" if refused else "ok")
        self.record.add(f"{endpoint} (hostile)", seconds, outcome, str(bare or slow or ""))
        if slow and refused:
            with self.record.lock:
                self.record.slow_refusals.append(str(slow)[:200])


# ---- the visitors -----------------------------------------------------------------------------

def pause(stop: threading.Event, low: float, high: float, rng) -> bool:
    """Wait like a person (or until stop); True when the soak goes on."""
    return not stop.wait(rng.uniform(low, high))


def drawer(k: int, url: str, address: str, record: Record, stop: threading.Event, files: dict) -> None:
    from tests.draw_digits import page_digit

    page = Drawer(url, k)
    page.http.headers["X-Forwarded-For"] = address
    rng, digits = random.Random(k), 0
    try:
        while not stop.is_set():
            looks = []
            # the page that asks the server for the saliency: /look_strokes once the pen stays up, and at Clear
            started = time.monotonic()
            try:
                page.digit(False, looks, [], look_on_server=True)
                record.add("/look_strokes", looks[-1] if looks else time.monotonic() - started, "ok")
            except Exception as error:
                outcome, said = judge(error)
                record.add("/look_strokes", time.monotonic() - started, outcome, said)
            digits += 1
            if digits % 3 == 0:  # the pen-up reading, as a page that cannot read for itself asks it
                strokes = json.loads(page_digit(rng.randrange(10), page.rng, rng.uniform(0.4, 0.8)))["strokes"]
                record.timed("/classify_strokes", page.call, strokes, True)
            if not pause(stop, 1.0, 5.0, rng):
                break
    finally:
        page.http.close()


def generator(k: int, client, record: Record, stop: threading.Event) -> None:
    rng = random.Random(1000 + k)
    while not stop.is_set():
        digit, seed = str(rng.randrange(10)), rng.randrange(1000)
        sliders = [0.0] * 6
        for _ in range(rng.randrange(2, 6)):  # a slider dragged: the image follows
            sliders[rng.randrange(6)] = round(rng.uniform(-3, 3), 2)
            record.timed("/show", ask, client, digit, seed, 1.0, *sliders, api_name="/show")
            if stop.wait(rng.uniform(0.3, 1.0)):
                return
        record.timed("/previews", ask, client, digit, seed, 1.0, *sliders, api_name="/previews")
        roll = rng.random()
        if roll < 0.3:
            record.timed("/sample", ask, client, int(digit), seed, api_name="/sample")
        elif roll < 0.5:
            record.timed("/interpolate", ask, client, digit, seed, str(rng.randrange(10)), seed + 1, 9, 1.0, api_name="/interpolate")
        elif roll < 0.7:
            record.timed("/new_seed", ask, client, api_name="/new_seed")
        if not pause(stop, 3.0, 10.0, rng):
            return


def trainer(k: int, client, record: Record, stop: threading.Event) -> None:
    rng = random.Random(2000 + k)
    if stop.wait(rng.uniform(0, 30)):  # they do not all press Start at once
        return
    while not stop.is_set():
        started = time.monotonic()
        try:
            job = client.submit(kind="cnn", epochs=1, api_name="/train")
            status = ""
            deadline = started + RUN_TIMEOUT_S
            while not job.done() and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.5)
            if not job.done():
                job.cancel()
                if stop.is_set():
                    client.predict(api_name="/stop_training")
                    return  # the soak ended mid-run: not a figure
                raise TimeoutError(f"a run did not end within {RUN_TIMEOUT_S:.0f} s")
            outputs = job.result(timeout=30)
            status = str(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
            if "finished" not in status:
                raise RuntimeError(f"the run ended without finishing: {status[:150]}")
            record.add("/train (queued + run)", time.monotonic() - started, "ok")
        except Exception as error:
            outcome, said = judge(error)
            record.add("/train (queued + run)", time.monotonic() - started, outcome, said)
        if not pause(stop, 30.0, 90.0, rng):
            return


def backprop(k: int, url: str, address: str, record: Record, stop: threading.Event) -> None:
    import httpx

    from tests.draw_digits import page_digit

    rng, pick = random.Random(3000 + k), np.random.default_rng(3000 + k)
    session = f"backprop{k:03d}"
    with httpx.Client(timeout=TIMEOUT_S, headers={"X-Forwarded-For": address}) as http:
        while not stop.is_set():
            digit = rng.randrange(10)
            strokes = page_digit(digit, pick, rng.uniform(0.4, 0.8))
            args = [strokes, str(digit), rng.choice([0.001, 0.01, 0.1]), rng.randrange(1, 4), rng.choice(["lab", "seed"]), rng.randrange(8), None]

            def step():
                response = http.post(url + "gradio_api/run/backprop_step", json={"data": args, "session_hash": session})
                response.raise_for_status()
                return response.json()

            record.timed("/backprop_step", step)
            if not pause(stop, 5.0, 15.0, rng):
                return


def uploader(k: int, client, record: Record, stop: threading.Event, pictures: list[Path]) -> None:
    from gradio_client import handle_file

    rng = random.Random(4000 + k)
    while not stop.is_set():
        picture = rng.choice(pictures)
        record.timed("/classify_upload", ask, client, handle_file(str(picture)), api_name="/classify_upload")
        if not pause(stop, 5.0, 15.0, rng):
            return


def hostile(k: int, client, record: Record, stop: threading.Event, fuzz: Fuzz) -> None:
    rng = random.Random(5000 + k)
    calls = fuzz.calls(client)
    rng.shuffle(calls)
    tally = FuzzTally(record)
    n = 0
    while not stop.is_set() and calls:
        endpoint, values = calls[n % len(calls)]
        n += 1
        try:
            fuzz.module.call(client, endpoint, values, tally)
        except Exception as error:  # call() itself failing (a stream it could not stop): an error
            record.add(f"{endpoint} (hostile)", 0.0, "error", f"{type(error).__name__}: {error}")
        if not pause(stop, 2.0, 6.0, rng):
            return
