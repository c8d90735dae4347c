"""Exports in a process of their own: a run's checkpoint through training.export in a child that
stays warm between runs, is renewed every RENEW_AFTER exports and leaves after IDLE_S unused.

Why not in the server: torch's ONNX exporter needs 300-400 MiB while it works and keeps a little of
every export alive (one of torch's shape environments each, which no clearing of torch's caches
frees), so a server exporting every visitor's run grew with every run. In the child, the peak and
what stays behind are the child's, and go with it. The child's torch is also a plain one on
ZeroGPU, where spaces patches the server's torch to pose as CUDA and torch.onnx trips on that.

The protocol is runs/child.py's frames: (checkpoint path, .onnx path) in; {"card": ...} or
{"error": words} out. One export at a time: the others wait for the lock, as they would for the cores.
"""
import subprocess
import sys
import threading
import time
from pathlib import Path

from runs.child import ROOT, frames_out, plain_environment, receive, send

RENEW_AFTER = 16  # exports before a fresh child: what the exporter keeps stays bounded
IDLE_S = 300.0  # a child unused this long leaves, and its memory with it
EXPORT_TIMEOUT = 600  # seconds: the GAN's export measures its quality on two shared cores

_lock = threading.Lock()  # one export at a time, and guards the four below
_child: subprocess.Popen | None = None
_exports = 0  # by the current child
_last_used = 0.0
_idle: threading.Timer | None = None  # the child's leaving, IDLE_S after its last use


class ExportError(RuntimeError):
    """The export refused the checkpoint (training.export's own ExportError, in its words) or its
    process ended."""


def warm() -> None:
    """Start the child now (it imports torch and the exporter while a run trains), unless one is
    there or busy."""
    if _lock.acquire(blocking=False):
        try:
            _running()
            _touch()
        finally:
            _lock.release()


def export(checkpoint: Path, out: Path) -> dict:
    """Write `out` and its card from the checkpoint file, in the child; the card, or ExportError."""
    global _exports
    with _lock:
        child = _running()
        watchdog, started = threading.Timer(EXPORT_TIMEOUT, child.kill), time.monotonic()
        watchdog.daemon = True
        watchdog.start()
        try:
            send(child.stdin, (str(checkpoint), str(out)))
            answer = receive(child.stdout)
        except OSError:  # the child ended before it could read: its stdin is gone
            answer = None
        finally:
            watchdog.cancel()
        _exports += 1
        _touch()
        if answer is None:
            _retire(kill=True)
            slow = time.monotonic() - started >= EXPORT_TIMEOUT
            ended = f"it took over {EXPORT_TIMEOUT} s" if slow else f"exit status {child.returncode}"
            raise ExportError(f"the export's process ended ({ended})")
        if _exports >= RENEW_AFTER:
            _retire()
    if "error" in answer:
        raise ExportError(answer["error"])
    return answer["card"]


def _running() -> subprocess.Popen:
    global _child, _exports
    if _child is None or _child.poll() is not None:
        _child = subprocess.Popen([sys.executable, "-m", "runs.exporter"], cwd=ROOT, env=plain_environment(),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        _exports = 0
    return _child


def _touch() -> None:
    """Used now: the child leaves if nothing uses it for IDLE_S from here."""
    global _last_used, _idle
    _last_used = time.monotonic()
    if _idle is not None:
        _idle.cancel()
    _idle = threading.Timer(IDLE_S, _leave_if_idle)
    _idle.daemon = True
    _idle.start()


def _retire(kill: bool = False) -> None:
    """The child leaves: its stdin closed, it finishes and exits (killed if asked, or if it hangs)."""
    global _child
    child, _child = _child, None
    if child is None:
        return
    if kill:
        child.kill()
    try:
        child.stdin.close()
        child.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        child.kill()
        child.wait()


def _leave_if_idle() -> None:
    if _lock.acquire(blocking=False):
        try:
            if time.monotonic() - _last_used >= IDLE_S:
                _retire()
        finally:
            _lock.release()


def main() -> None:
    """The child: exports until its stdin closes."""
    frames = frames_out()
    from inference.memory import hold_malloc

    hold_malloc()  # what an export frees goes back to the system between exports
    import torch

    from training import data, runtime, settings
    from training.export import onnx_export

    # As many threads as a run trains with (all cores but one, or DIGIT_LAB_TRAIN_THREADS): the
    # server keeps a core for its visitors. On two busy cores a GAN's export took 13-14 s of CPU
    # with one thread and 17-17.5 s with two, and no less time.
    torch.set_num_threads(settings.load().torch_threads())

    while (job := receive(sys.stdin.buffer)) is not None:
        checkpoint, out = job
        try:
            send(frames, {"card": onnx_export.export(runtime.load_checkpoint(Path(checkpoint)), Path(out))})
        except (runtime.CheckpointError, onnx_export.ExportError, data.DatasetUnavailable) as error:
            send(frames, {"error": str(error)})
        except Exception as error:
            send(frames, {"error": f"export failed: {type(error).__name__}: {error}"})


if __name__ == "__main__":
    main()
