"""The same training script under torchrun: two gloo processes on the CPU."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "gan"])
def test_torchrun_two_cpu_processes(tmp_path, kind):
    small = ["--g-width", "16", "--d-width", "8"] if kind == "gan" else []
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", f"training.train_{kind}", "--max-steps", "3", "--batch-size", "16", "--device", "cpu",
         "--out", str(tmp_path), *small],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    checkpoint = torch.load(tmp_path / f"{kind}.pt", weights_only=True)
    assert checkpoint["world_size"] == 2 and checkpoint["step"] == 3
