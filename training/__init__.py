"""Torch lives here: data sets, the training loops, export to ONNX, metrics, background runs.

Set here, before any module of the package imports torch (the environment is read once, when
torch's OpenMP library loads): an OpenMP thread that waits for work spins 1,000 times, then sleeps
(GOMP_SPINCOUNT; libgomp's own is 300,000). A step of our CNN is some 200 short parallel regions,
so a thread that sleeps at once (OMP_WAIT_POLICY=PASSIVE, this file's choice until 2026-12-05) is
woken 200 times a step: 26 steps/s on 2 idle cores against 35 with the short spin. With the cores
busy elsewhere, a long spin holds a core while the thread it waits for has none (6-10 steps/s with
libgomp's own count); the short one loses little there (13 against passive's 15). Measured side by
side in fresh processes: python -m benchmarks.threads [--busy N]. A value set outside is kept."""
import os

if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
