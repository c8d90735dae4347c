"""A client of the launched app's /train, as the tests of the Train tab's API use it: a new
visitor, /train's outputs by name, and waits on what a run streams."""
import re
import time

import numpy as np


def new_client(url, language: str | None = None):
    """A new visitor (its own session); `language` is what its browser would send as Accept-Language."""
    from gradio_client import Client

    return Client(url, verbose=False, headers={"Accept-Language": language} if language else None)


# /train's outputs as gradio_client returns them (the session states are not among them)
OUT = {name: i for i, name in enumerate(
    ("status", "loss", "score", "game", "game_note", "samples", "histogram", "note", "compare", "table", "choice", "files",
     "gradients"))}


def value(output):
    """A streamed output's value: the tab sends some as updates (value and visibility)."""
    return output.get("value") if isinstance(output, dict) and ("__type__" in output or "value" in output) else output


def step_of(status: str) -> int:
    """The step number in a streamed status line, 0 before the first step."""
    marker = "step "
    return int(status.split(marker, 1)[1].split(" ", 1)[0]) if marker in status and " of " in status else 0


def wait_for_step(job, at_least: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs = job.outputs()
        if outputs and step_of(outputs[-1][0]) >= at_least:
            return outputs[-1][0]
        assert not job.done(), f"the run ended early: {outputs[-1][0] if outputs else job.exception()}"
        time.sleep(0.1)
    raise AssertionError(f"no step {at_least} within {timeout} s")


def wait_until_free(url, timeout: float = 120) -> None:
    """Poll until no run holds the server: a stranger's Stop says whether one is going."""
    client, deadline = new_client(url), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.predict(api_name="/stop_training") == "No run is going.":
            return
        time.sleep(0.5)
    raise AssertionError("the server stayed busy")


def classify(client, tmp_path, value) -> dict:
    """/classify (the Draw tab's endpoint) on a Sketchpad value: the ten probabilities."""
    from gradio_client import handle_file
    from PIL import Image

    def png(array, name):
        path = tmp_path / f"{name}.png"
        Image.fromarray(np.asarray(array)).save(path)
        return handle_file(str(path))
    payload = {"background": png(value["background"], "background"),
               "layers": [png(layer, f"layer{i}") for i, layer in enumerate(value["layers"])],
               "composite": png(value["composite"], "composite")}
    label = client.predict(payload, api_name="/classify")[0]
    return {c["label"]: c["confidence"] for c in label["confidences"]}


def wait_for_text(job, pattern: str, timeout: float = 60) -> str:
    """The first streamed status matching `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = [output[0] for output in job.outputs() if re.search(pattern, output[0])]
        if said:
            return said[0]
        assert not job.done(), f"ended before saying {pattern!r}: {job.outputs()[-1][0] if job.outputs() else job.exception()}"
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} within {timeout} s")
