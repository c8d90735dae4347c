"""Keep the serving process's memory flat under concurrent load.

Measured with benchmarks/soak.py and benchmarks/memory_probe.py (glibc's own counters inside the
server): after 240 /classify calls from 32 visitors at once, the app held 382 MiB, of which glibc's
heap had only 71 MiB in use and 124 MiB freed but kept. Gradio runs each call on one of up to 40
worker threads; glibc gives threads their own malloc arenas (up to 8 per core) and keeps what is
freed in each, and the images a call decodes and makes (0.25-1 MiB each) land in whichever arena
its thread has. So the process keeps the peak of every arena at once.

`hold_malloc()` (called once as the serving code is imported, before the worker threads exist)
sets, through glibc's mallopt, what MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ would set before
Python starts:
- two arenas (one a core here) rather than up to 16;
- a fixed mmap threshold of 4 MiB, so a block that large (a huge upload's pixels) is mapped for
  its own use and given back to the system when freed, instead of glibc raising the threshold
  after the first large free and keeping such blocks in the arenas from then on. A reading's own
  buffers (0.1-1 MiB: the strokes' fine grid, the ink, the views) stay below it and are reused
  from the arenas: mapping each anew cost the server more CPU than its readings' arithmetic (40
  visitors drawing, python -m benchmarks.classroom: 53 ms of CPU a drawn digit with 128 KiB, glibc's
  own start, against 40 ms with 4 MiB; 43 ms with `--env DIGIT_LAB_MALLOC=default`). It costs
  memory: 314 MiB after python -m benchmarks.soak's first three rounds, against 294 MiB;
- and, every few seconds, malloc_trim: what is still freed but kept inside the arenas goes back.
DIGIT_LAB_MALLOC=default leaves glibc as it is (to measure the difference). Elsewhere than glibc
(macOS, musl) it does nothing.

Measured one factor at a time (same soak, 240 calls from 32 visitors after 120 sequential ones):
glibc as it is, 382 MiB; held as here, 284 MiB; onnxruntime's CPU memory arena switched off
instead (SessionOptions.enable_cpu_mem_arena), 482 MiB: worse, as every run then mallocs its
buffers anew, so the arena stays on.
"""
import ctypes
import ctypes.util
import os
import threading
import time

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
ARENAS = 2
MMAP_THRESHOLD = 4 * 2**20  # above every buffer of a reading; kept fixed
TRIM_THRESHOLD = 4 * 2**20  # free memory at the top of the heap beyond this goes back at once
TRIM_EVERY_S = 5.0  # how often free pages inside the arenas go back to the system

_held = None


def hold_malloc() -> dict:
    """Set glibc's malloc for a long-running threaded server; what was set (empty if nothing).
    Safe to call more than once."""
    global _held
    if _held is not None:
        return _held
    _held = {}
    if os.environ.get("DIGIT_LAB_MALLOC", "").strip().lower() == "default":
        return _held
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _held
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    for name, option, value in (("arena_max", M_ARENA_MAX, ARENAS), ("mmap_threshold", M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                                ("trim_threshold", M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        if mallopt(option, value) == 1:
            _held[name] = value
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        threading.Thread(target=_trim_now_and_then, args=(trim,), name="malloc-trim", daemon=True).start()
        _held["trim_every_s"] = TRIM_EVERY_S
    return _held


def _trim_now_and_then(trim) -> None:
    """Give free pages inside the arenas back to the system every few seconds (malloc_trim walks
    the arenas in about a millisecond here). Long-lived objects (each visitor's Gradio session)
    end up scattered among the freed buffers of past calls, so without this the arenas' freed
    memory grew by about 10 MiB with each round of 240 calls from new visitors."""
    while True:
        time.sleep(TRIM_EVERY_S)
        trim(0)
