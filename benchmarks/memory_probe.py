"""An app (app.py, or the bare one) run with memory instruments, for benchmarks/soak.py's diagnosis:
where its resident memory goes under load, measured, not guessed.

On SIGUSR1 the server writes a JSON line to $PROBE_OUT with: RSS; glibc's heap (bytes in use,
bytes freed but kept by malloc, mmapped blocks, arenas); Gradio's per-visitor state (sessions
held, their config entries, the Sketchpad's blob store, the temporary files it keeps track of);
and, with PROBE_TRACEMALLOC=1, Python's allocations grouped by the line that made them (the top
ones, and the growth since the previous report). PROBE_TRIM=1 calls malloc_trim(0) first, which
shows how much of RSS was memory malloc kept after it was freed.

    PROBE_APP=app.py PROBE_OUT=/tmp/probe.jsonl python benchmarks/memory_probe.py
"""
import ctypes
import gc
import json
import os
import runpy
import signal
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = 12


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        return libc
    except (OSError, AttributeError):
        return None


LIBC = _libc()
BLOCKS = []  # the launched gr.Blocks, recorded by the patched launch below
_previous = None


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def heap() -> dict:
    if LIBC is None:
        return {}
    info = LIBC.mallinfo2()
    mib = 1 / 2**20
    return {"in_use_mib": info.uordblks * mib, "free_kept_mib": info.fordblks * mib, "mmapped_mib": info.hblkhd * mib,
            "arena_mib": info.arena * mib, "top_releasable_mib": info.keepcost * mib}


def gradio_state() -> dict:
    if not BLOCKS:
        return {}
    blocks = BLOCKS[0]
    holder = blocks.state_holder
    sessions = list(holder.session_data.values())
    blobs = sum(len(getattr(b, "blob_storage", {}) or {}) for b in blocks.blocks.values())
    temp_files = sum(len(s) for s in getattr(blocks, "temp_file_sets", []))
    return {"sessions": len(sessions), "session_config_entries": sum(len(s.config_values) for s in sessions),
            "sketchpad_blobs_held": blobs, "temp_files_tracked": temp_files,
            "pending_message_queues": len(getattr(blocks._queue, "pending_messages_per_session", {}) or {})}


def python_allocations() -> dict:
    global _previous
    if not tracemalloc.is_tracing():
        return {}
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    top = [f"{s.size / 2**20:.2f} MiB {s.count} blocks {s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}"
           for s in snapshot.statistics("lineno")[:TOP]]
    growth = []
    if _previous is not None:
        growth = [f"{s.size_diff / 2**20:+.2f} MiB {s.count_diff:+d} blocks {s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}"
                  for s in snapshot.compare_to(_previous, "lineno")[:TOP]]
    _previous = snapshot
    traced, _ = tracemalloc.get_traced_memory()
    return {"python_traced_mib": traced / 2**20, "top": top, "growth": growth}


def report(*_):
    if os.environ.get("PROBE_TRIM") == "1" and LIBC is not None:
        LIBC.malloc_trim(0)
    line = {"time": time.time(), "rss_mib": status_kib("VmRSS") / 1024, "peak_rss_mib": status_kib("VmHWM") / 1024,
            "threads": status_kib("Threads"), "heap": heap(), "gradio": gradio_state(), **python_allocations()}
    with open(os.environ.get("PROBE_OUT", "/tmp/memory-probe.jsonl"), "a") as out:
        out.write(json.dumps(line) + "\n")


def main() -> None:
    import gradio as gr

    if os.environ.get("PROBE_TRACEMALLOC") == "1":
        tracemalloc.start(1)
    launch = gr.Blocks.launch

    def recorded_launch(self, *args, **kwargs):
        BLOCKS.append(self)
        capacity = os.environ.get("PROBE_SESSION_CAPACITY")
        if capacity:
            kwargs["state_session_capacity"] = int(capacity)
        return launch(self, *args, **kwargs)

    gr.Blocks.launch = recorded_launch
    signal.signal(signal.SIGUSR1, report)
    script = os.environ.get("PROBE_APP", "app.py")
    sys.path.insert(0, str(ROOT))
    sys.argv = [script]
    runpy.run_path(str(ROOT / script), run_name="__main__")


if __name__ == "__main__":
    main()
