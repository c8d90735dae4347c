"""Digit Lab's training runs through the real `spaces` 0.51.3 ZeroGPU wrapper, on a CPU machine.
tests/test_zerogpu.py runs this file in its own process (SPACES_ZERO_GPU patches torch for good)
and reads the JSON it prints, one object a scenario.

What is real: spaces.GPU's generator wrapper, its fork of a worker process, its pickling of the
arguments in and every yielded value out, its stop event on close, its HTTP client and its refusals.
What stands in: ZeroGPU's device API (a loopback HTTP server answering /schedule, /allow, /release
as the platform would) and the two calls that need a real NVIDIA device in the worker
(spaces.zero.torch.init: `torch.Tensor([0]).cuda()`; and .move: moving packed tensors to CUDA).
"""
import base64
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEDULE = {"mode": "ok"}
SEEN: list[tuple[str, dict]] = []
VISITOR_TOKEN = "x." + base64.urlsafe_b64encode(b'{"user": "visitor"}').decode().rstrip("=") + ".y"


class DeviceAPI(BaseHTTPRequestHandler):
    """ZeroGPU's device API as spaces/zero/api.py calls it."""

    def do_POST(self):
        url = urlparse(self.path)
        SEEN.append((url.path, {k: v[0] for k, v in parse_qs(url.query).items()}))
        status, body, kind = 200, b"{}", "application/json"
        if url.path == "/schedule":
            mode = SCHEDULE["mode"]
            if mode == "quota":  # what a spent quota answers: 429 with the seconds left and the wait
                status, body = 429, json.dumps({"left": 10, "wait": 3600}).encode()
            elif mode == "no_gpu":
                status, body = 503, b"{}"
            elif mode == "queue_timeout":  # queued, then no GPU within 60 s (here at once)
                body, kind = b"event: failed\n\n", "text/event-stream"
            else:
                body = json.dumps({"idle": False, "nvidiaIndex": 0, "nvidiaUUID": "GPU-stand-in",
                                   "allowToken": "allow-1"}).encode()
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main(scenarios: list[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), DeviceAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(SPACES_ZERO_GPU="true", SPACES_ZERO_DEVICE_API_URL=f"http://127.0.0.1:{server.server_port}")
    import gradio  # noqa: F401 (as in app.py: gradio first, then spaces through runs.executor)
    import spaces
    import spaces.zero.torch as zero_torch

    zero_torch.init = lambda nvidia_uuid: None  # the worker's CUDA init: no NVIDIA device here
    zero_torch.move = lambda callback=None: None
    from gradio.context import LocalContext

    from runs import executor, jobs, worker
    from training.settings import TrainSettings

    assert executor.on_zerogpu(), "spaces.GPU did not wrap the worker: is SPACES_ZERO_GPU read?"

    class Headers(dict):
        pass

    class Visitor:  # the gr.Request spaces reads: its headers carry ZeroGPU's visitor token
        headers = Headers({"x-ip-token": VISITOR_TOKEN})
        session_hash = "visitor"

    LocalContext.request.set(Visitor())
    caps = TrainSettings(max_seconds=120, runs_dir=Path(tempfile.mkdtemp(prefix="zerogpu-runs-")), threads=1)
    request = jobs.validate("cnn", "mnist-5k", 1, None, 64, 0, caps)
    real_loop, real_export = worker.training_loop, jobs._export

    def fake_loop(request, caps, corrections=(), device="auto", steps=10_000, turns=None):
        from training.runtime import Progress

        started = time.perf_counter()
        for step in range(1, steps + 1):
            time.sleep(0.01)
            yield Progress(step, steps, 1, {"loss": 1.0 / step}, time.perf_counter() - started,
                           lambda s=step: {"kind": "cnn", "step": s, "pid": os.getpid(), "config": {}},
                           epoch_end=step % 50 == 0, metrics={"held_out_accuracy": 0.5} if step % 50 == 0 else {})

    exported = []

    def fake_export(run, last):
        exported.append(last.snapshot())
        run.model_path = str(run.folder / "cnn.onnx")

    def run_once(owner, stop_after=None, capped=caps):
        SEEN.clear()
        run = jobs.start(request, owner, caps=capped)
        if stop_after is not None:
            while run.view().step < stop_after and not run.done.is_set():
                time.sleep(0.01)
            jobs.stop(owner, jobs.STOPPED_BY_VISITOR)
        assert run.done.wait(240), "the run did not end"
        view = run.view()
        schedule = next((params for path, params in SEEN if path == "/schedule"), {})
        return view, schedule

    for scenario in scenarios:
        exported.clear()
        SCHEDULE["mode"] = "ok"
        if scenario == "real":  # the real loop in the worker, the real export here, four steps
            worker.training_loop, jobs._export = real_loop, real_export
            view, schedule = run_once("visitor", capped=replace(caps, max_steps=4))
            card = json.loads(Path(view.card_path).read_text()) if view.card_path else {}
            result = {"state": view.state, "error": view.error, "device": view.device, "steps": card.get("steps"),
                      "card_device": card.get("device"), "model": bool(view.model_path and Path(view.model_path).is_file()),
                      "duration": schedule.get("durationSeconds"), "token": schedule.get("token")}
        elif scenario == "stop":
            worker.training_loop, jobs._export = fake_loop, fake_export
            view, schedule = run_once("visitor", stop_after=20)
            snapshot = exported[0] if exported else {}
            result = {"state": view.state, "shown_step": view.step, "snapshot_step": snapshot.get("step"),
                      "snapshot_from_worker": snapshot.get("pid") not in (None, os.getpid()),
                      "reason": str(view.stop_reason), "device": view.device,
                      "released": any(path == "/release" for path, _ in SEEN)}
        elif scenario == "quota":  # refused: the real loop on the CPU, in a process of its own (a few steps)
            SCHEDULE["mode"] = "quota"
            worker.training_loop, jobs._export = real_loop, fake_export
            view, schedule = run_once("visitor", capped=replace(caps, max_steps=2))
            note, snapshot = view.device_note, (exported[0] if exported else {})
            result = {"state": view.state, "error": view.error, "device": view.device, "steps": view.step,
                      "note_key": getattr(note, "key", None), "note_en": str(note),
                      "note_zh": note.say("zh-CN") if note else None, "snapshot_step": snapshot.get("step")}
        elif scenario in ("no_gpu", "queue_timeout"):  # recognised as refusals (the fallback itself: quota)
            SCHEDULE["mode"] = scenario
            notes = []
            spec = worker.Spec(request, caps, (), str(caps.runs_dir / "unused.pt"))
            stream, first = executor._start(spec, lambda note=None, **_: notes.append(note))
            stream.close()  # never started: no process was made
            result = {"note_key": notes[0].key if notes else None, "note_en": str(notes[0]) if notes else None,
                      "first": first}
        elif scenario == "old_design":  # the earlier design: a Run (locks, events) handed to spaces.GPU
            import pickle

            old = spaces.GPU(duration=420)(lambda run, make_events: None)
            try:
                old(jobs.Run(request, "visitor", caps, []), None)
                result = {"refused": None}
            except (pickle.PicklingError, TypeError) as error:
                result = {"refused": f"{type(error).__name__}: {error}"}
        else:
            raise SystemExit(f"unknown scenario {scenario}")
        print(json.dumps({"scenario": scenario, **result}), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
