"""Torch lives here: data sets, the training loops, their settings and metrics, backprop on one digit;
export to ONNX in training/export/ (the web app's runs of these loops are in runs/).

Set here, before any module of the package imports torch (the environment is read once, when
torch's OpenMP library loads): an OpenMP thread that waits for work spins 1,000 times, then sleeps
(GOMP_SPINCOUNT; libgomp's own is 300,000). A step of our CNN is many short parallel operations,
and a thread that sleeps at once (OMP_WAIT_POLICY=PASSIVE, this file's choice until 2026-12-05) must
be woken for each: 28.3 steps/s on 2 idle cores against 38.9 with the short spin. With the cores
busy elsewhere a long spin holds a core the working thread needs; beside one busy process: short
14.8, passive 16.0, libgomp's own 13.5. Measured side by side in fresh processes:
python -m benchmarks.threads [--busy N]. A value set outside is kept."""
import os

if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
