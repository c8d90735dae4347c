"""Every endpoint the running app lists, driven with hostile values (property-based, hypothesis):
no call ends in a bare error, every refusal says what was wrong, each answer comes in time, and the
app still reads a digit afterwards. The endpoints come from the app itself (gradio_client's
view_api), so a new endpoint is covered without being named here.

Each parameter gets None and "nan" (the values that used to crash Gradio's own reading of a
value), then hypothesis draws more: numbers far out of range, infinities spelt as text (JSON has
no infinity to send), long text, lists, dicts, paths, forged file dicts, strokes too many or NaN.
The app runs with no training places (DIGIT_LAB_PLACES_PER_ADDRESS=0), so a /train whose settings
pass is refused in words at once rather than training: the checks before it are what is tested.
"""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.draw_digits import page_digit

REFUSED_WITHIN = 5.0  # seconds: a refusal is checked before any work (generous for a shared 2-core machine)
ANSWERED_WITHIN = 30.0  # seconds for any answer (a hostile value that is valid does real work)
RANDOM_CALLS = 2  # drawn calls an endpoint, beyond None and "nan" for each parameter
CLIENTS = 4  # visitors calling at once: a call's time is mostly round trips, not the server's work
BARE = ("has not enabled verbose error reporting", "Error raised.")

LONG = "x" * 100_000
STROKES_TOO_MANY = json.dumps({"size": 280, "up": True, "strokes": [[1, 1, 2, 2]] * 5000})
STROKES_NAN = '{"size": 280, "up": true, "strokes": [[NaN, 1, Infinity, 2, -Infinity, 3]]}'
FORGED_FILE = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
HOSTILE = st.one_of(
    st.sampled_from([None, -1, 0, 10**12, -(10**12), 1e308, "nan", "inf", "-Infinity", "", LONG, [], [1, 2, 3],
                     {}, {"a": 1}, "/etc/passwd", "../../app.py", FORGED_FILE, True, 2.5, "\x00",
                     STROKES_TOO_MANY, STROKES_NAN, [[None]] * 3]),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)


@pytest.fixture(scope="module")
def fuzz_app():
    """Its own app, with no training places; DIGIT_LAB_URL drives one already running instead
    (to measure another version of the app: a /train it accepts is stopped after its first update)."""
    import os

    from tests.conftest import launch_app, stop_app

    if os.environ.get("DIGIT_LAB_URL"):
        yield os.environ["DIGIT_LAB_URL"]
        return
    process, url = launch_app({"DIGIT_LAB_PLACES_PER_ADDRESS": "0"}, timeout=600)
    yield url
    stop_app(process)


def endpoints(client) -> dict[str, tuple[list[str], dict, list[str]]]:
    """Each endpoint's parameter names, a plain value for each it requires (the API page's
    example; None for a file, whose example would be fetched from the web), and one parameter of
    each kind."""
    api = client.view_api(return_format="dict", print_info=False)
    listed = {}
    for endpoint, info in api["named_endpoints"].items():
        required = {p["parameter_name"]: None if isinstance(p.get("example_input"), dict) else p.get("example_input")
                    for p in info["parameters"] if not p.get("parameter_has_default")}
        # None and "nan" go once to each kind of parameter (six alike sliders are read alike)
        kinds = {}
        for p in info["parameters"]:
            kinds.setdefault(json.dumps([p.get("component"), p["python_type"], p.get("parameter_default")]), p["parameter_name"])
        listed[endpoint] = [p["parameter_name"] for p in info["parameters"]], required, list(kinds.values())
    return listed


def cases(names: list[str], required: dict, kinds: list[str]) -> list[dict]:
    """The calls for one endpoint, drawn by hypothesis: None and "nan" for each kind of parameter, then
    RANDOM_CALLS more, each with one parameter hostile and the rest as a client would leave them."""
    drawn = []

    @settings(max_examples=RANDOM_CALLS, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(name=st.sampled_from(names), value=HOSTILE)
    def draw(name, value):
        drawn.append({**required, name: value})

    for name in kinds:  # the values that used to crash
        draw = example(name=name, value=None)(example(name=name, value="nan")(draw))
    draw()
    return drawn


class Tally:
    def __init__(self):
        self.calls, self.refused, self.bare, self.slow, self.seconds = 0, 0, [], [], {}
        self.lock = threading.Lock()

    def add(self, endpoint: str, seconds: float, refused: bool = False, bare=None, slow=None):
        with self.lock:
            self.calls += 1
            self.refused += refused
            self.seconds[endpoint] = self.seconds.get(endpoint, 0.0) + seconds
            if bare:
                self.bare.append(bare)
            if slow:
                self.slow.append(slow)


def _short(values: dict) -> dict:
    return {k: repr(v)[:40] for k, v in values.items()}


def call(client, endpoint: str, values: dict, tally: Tally) -> None:
    """One call, recorded in `tally`. A stream (a run) that starts is stopped after its first update."""
    from gradio_client.exceptions import AppError, ValidationError

    started = time.monotonic()
    job = client.submit(api_name=endpoint, **values)
    while not job.done() and not job.outputs() and time.monotonic() - started < ANSWERED_WITHIN:
        time.sleep(0.01)
    seconds = time.monotonic() - started
    if not job.done():
        if job.outputs():
            job.cancel()
            client.predict(api_name="/stop_training")
        tally.add(endpoint, seconds, slow=None if job.outputs() else (endpoint, _short(values), "no answer"))
        return
    try:
        job.result()
    except (AppError, ValidationError) as error:
        said = str(error).strip()
        bare = (endpoint, _short(values), said[:200]) if not said or any(b in said for b in BARE) else None
        slow = (endpoint, _short(values), f"refused in {seconds:.1f} s") if seconds > REFUSED_WITHIN else None
        tally.add(endpoint, seconds, refused=True, bare=bare, slow=slow)
    except Exception as error:  # anything else is not an answer in words
        tally.add(endpoint, seconds, bare=(endpoint, _short(values), f"{type(error).__name__}: {str(error)[:200]}"))
    else:
        tally.add(endpoint, seconds)


@pytest.mark.slow
def test_every_endpoint_answers_hostile_values_in_words_and_in_time(fuzz_app):
    from gradio_client import Client

    clients = [Client(fuzz_app, verbose=False) for _ in range(CLIENTS)]
    listed = endpoints(clients[0])
    assert {"/classify", "/classify_strokes", "/classify_upload", "/train", "/backprop_step", "/sample"} <= set(listed)
    calls = [(endpoint, values) for endpoint, (names, required, kinds) in listed.items()
             for values in (cases(names, required, kinds) if names else [{}])]
    tally, started = Tally(), time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda k: [call(clients[k], e, v, tally) for e, v in calls[k::CLIENTS]], range(CLIENTS)))
    seconds = time.monotonic() - started
    slowest = sorted(((round(s, 1), e) for e, s in tally.seconds.items()), reverse=True)[:4]
    print(f"{tally.calls} calls to {len(listed)} endpoints in {seconds:.0f} s: {tally.refused} refused in words, "
          f"{len(tally.bare)} bare errors, {len(tally.slow)} slow; the most time (s): {slowest}")
    assert not tally.bare, tally.bare
    assert not tally.slow, tally.slow
    # ... and the app still reads a digit
    label = clients[0].predict(page_digit(7, np.random.default_rng(0), 0.8), api_name="/classify_strokes")[0]
    assert label["label"] == "7", label
    for client in clients:
        client.close()
