"""Torch lives here: data sets, the training loops, export to ONNX, metrics, background runs.

Set here, before any module of the package imports torch (the environment is read once, when
torch's OpenMP library loads): OpenMP threads that wait for work sleep at once instead of spinning
(libgomp spins up to 300,000 times first). On the shared 2-core machine, with other processes
busy, a spinning thread held its core while the thread it waited for had none: our CNN's step
went at 0.2-0.4 steps/s on 2 threads against 1.2-2.5 on 1; waiting passively, 2.2-11 on 2 threads
(python -m benchmarks.threads compares them side by side). A value set outside is kept."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
