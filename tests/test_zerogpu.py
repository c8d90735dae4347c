"""Training on ZeroGPU, tested the way `spaces` 0.51.3 runs it, as far as a CPU machine allows:
tests/zerogpu_harness.py sets SPACES_ZERO_GPU, answers ZeroGPU's device API on loopback, and lets
the real spaces.GPU wrapper fork its worker and pickle the Spec in and every yielded value out.

Platform facts relied on (spaces 0.51.3 source):
- zero/wrappers.py generator_function_wrapper: a forked worker per call; `arg_queue.put(((args,
  kwargs), ...))` pickles the arguments, `res_queue.put(OkResult(res))` each yielded value; closing
  the caller's generator sets the worker's stop event, and the worker closes its generator.
- zero/client.py schedule: the visitor's X-IP-Token header, read from the Gradio request in the
  calling context (utils.py gradio_request_var: LocalContext.request), goes to /schedule with the
  requested duration; a 429 (quota), a 503 (no GPU) and a queue's "failed" event (no GPU within
  60 s) become gr.Errors titled "ZeroGPU ...".
- zero/decorator.py: off ZeroGPU spaces.GPU returns the function itself (no worker, no pickling).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test forks the real spaces wrapper's worker

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("spaces", reason="spaces==0.51.3 (requirements.txt) is not installed")


def harness(*scenarios: str, timeout: float = 300) -> dict:
    done = subprocess.run([sys.executable, "tests/zerogpu_harness.py", *scenarios], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    results = {r["scenario"]: r for r in (json.loads(line) for line in done.stdout.splitlines() if line.startswith("{"))}
    assert done.returncode == 0 and set(results) == set(scenarios), done.stderr[-3000:]
    return results


@pytest.fixture(scope="module")
def scenarios() -> dict:
    """Every scenario of the harness, in one process (its start, with gradio, spaces and torch, is most
    of a scenario's time; the harness resets what each scenario sets up)."""
    return harness("real", "stop", "quota", "no_gpu", "queue_timeout", "old_design", timeout=600)


def test_the_old_design_cannot_cross_the_process_boundary(scenarios):
    """In an earlier design spaces.GPU wrapped `_execute(run, make_events)`: a Run holds locks and
    events, and spaces refuses it at the first call. This is what the Spec design guards against."""
    refused = scenarios["old_design"]["refused"]
    assert refused and "PicklingError" in refused and "pickle" in refused


def test_stop_reaches_the_worker_and_its_last_step_comes_back(scenarios):
    stop = scenarios["stop"]
    assert stop["state"] == "finished" and stop["reason"] == "stopped by the visitor"
    # The checkpoint was written by the forked worker (another pid), at the step shown or the one after
    # (through spaces the worker takes one more step before it sees the stop event).
    assert stop["snapshot_from_worker"] and stop["snapshot_step"] in (stop["shown_step"], stop["shown_step"] + 1)
    assert stop["released"] and stop["device"] == "cpu"  # no CUDA here: the worker trains on its CPU


@pytest.mark.slow
def test_a_run_trains_in_the_gpu_worker_and_is_exported_here(scenarios):
    """The real loop (four steps) in spaces' worker, the real ONNX export in the main process (apart
    from spaces' patched torch), for the visitor whose token the handler's request carried."""
    from runs import executor

    real = scenarios["real"]
    assert real["state"] == "finished", real["error"]
    assert real["model"] and real["steps"] == 4 and real["card_device"] == "cpu"
    assert real["token"] and real["token"].count(".") == 2  # the visitor reached ZeroGPU from the run's thread
    assert int(real["duration"]) <= executor.ZEROGPU_SECONDS <= 120 / 1.5  # a fresh anonymous quota admits it


@pytest.mark.slow
def test_a_refused_run_trains_on_the_cpu_and_says_why_in_the_visitors_language(scenarios):
    results = scenarios
    quota = results["quota"]
    assert quota["state"] == "finished", quota["error"]
    assert quota["device"] == "cpu" and quota["steps"] == 2 and quota["snapshot_step"] == 2
    assert quota["note_key"] == "train.device.refused" and "exceeded your ZeroGPU quota" in quota["note_en"]
    assert "改在 CPU 上训练" in quota["note_zh"]
    assert "No GPU was available" in results["no_gpu"]["note_en"]
    assert "No GPU was available after 60s" in results["queue_timeout"]["note_en"]


def test_the_workers_budget_is_training_time_counted_from_the_first_step(tmp_path, monkeypatch):
    """A slow start-up (the data set on a busy CPU) has its own margin in the duration asked; the
    worker's budget of `seconds` is for steps. (On a loaded machine a 5 s budget counted from the
    worker's start once left the real run one step of its four.)"""
    import time

    from runs import executor, jobs, worker
    from training.runtime import Progress
    from training.settings import TrainSettings

    def slow_to_start(request, caps, corrections=(), device="auto", turns=None):
        time.sleep(0.6)  # start-up, longer than the budget
        started = time.perf_counter()
        for step in range(1, 1000):
            time.sleep(0.02)
            yield Progress(step, 999, 1, {"loss": 1.0}, time.perf_counter() - started, lambda s=step: {"step": s})

    monkeypatch.setattr(worker, "training_loop", slow_to_start)
    caps = TrainSettings(runs_dir=tmp_path)
    spec = worker.Spec(jobs.validate("cnn", "mnist-5k", 1, None, 64, 0, caps), caps, (), str(tmp_path / "cnn.pt"),
                         device="cpu", seconds=0.3)
    items = list(worker.worker(spec))
    steps = [item for item in items if item.get("type") != "stopped"]
    assert items[-1] == {"type": "stopped", "reason": "gpu_time", "seconds": 0} and len(steps) >= 5, items[-1]
    assert (tmp_path / "cnn.pt").is_file()  # the last step's snapshot, left for the export
