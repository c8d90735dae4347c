"""A run's worker (runs/worker.py) in a process of its own, started fresh with a plain torch.

On ZeroGPU, spaces patches the main process's torch to pose as CUDA, and real CPU training there
trips on it ("Low-level CUDA init reached": tests/zerogpu_harness.py found it), so a run that ZeroGPU
refused trains here instead. The protocol is the executor's: a pickled Spec in, pickled plain dicts
out (length-prefixed frames on the child's stdout), the checkpoint left at Spec.checkpoint. Closing
the generator asks the child to stop after its current step (a line on its stdin) and waits until
it has written that checkpoint and exited.
"""
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_VARIABLES = ("SPACES_ZERO", "ZEROGPU")  # left out of the child's environment: no spaces patch there


def plain_environment() -> dict:
    """This process's environment less the platform's variables: a child there gets a plain torch."""
    return {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_VARIABLES)}


def frames_out():
    """In a child: its real stdout, kept for the frames alone; anything printed goes to stderr."""
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return frames


def send(stream, item) -> None:
    data = pickle.dumps(item)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def events(spec) -> Iterator[dict]:
    """The worker's dicts, from a child process."""
    child = subprocess.Popen([sys.executable, "-m", "runs.child"], cwd=ROOT, env=plain_environment(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    send(child.stdin, spec)
    try:
        while (item := receive(child.stdout)) is not None:
            if item.get("type") == "error":
                raise RuntimeError(item["error"])
            yield item
    finally:
        try:
            child.stdin.write(b"stop\n")
            child.stdin.close()
        except OSError:  # it has ended already
            pass
        while receive(child.stdout) is not None:  # its last steps, until it has saved and exited
            pass
        child.wait(timeout=120)


def main() -> None:
    frames = frames_out()
    spec = receive(sys.stdin.buffer)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.buffer.readline(), stop.set()), daemon=True).start()
    from runs.worker import worker

    stream = worker(spec)
    try:
        for item in stream:
            send(frames, item)
            if stop.is_set():
                break
    except Exception as error:
        send(frames, {"type": "error", "error": f"{type(error).__name__}: {error}"})
    finally:
        stream.close()
        frames.close()


if __name__ == "__main__":
    main()
