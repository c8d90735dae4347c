"""inference/memory.py: the serving process holds glibc's malloc (two arenas, a fixed mmap
threshold, a periodic trim) as soon as the serving code is imported, and leaves it alone when
asked. The memory it saves is a figure for `python -m benchmarks.soak`, not a unit test."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import json, threading, inference.sessions as s, inference.memory as m; " \
        "print(json.dumps({'held': m.hold_malloc(), 'threads': [t.name for t in threading.enumerate()]}))"

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")


def imported(env_extra: dict) -> dict:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_importing_the_serving_code_holds_malloc():
    seen = imported({"DIGIT_LAB_MALLOC": ""})
    assert seen["held"]["arena_max"] == 2 and seen["held"]["mmap_threshold"] == 4 * 2**20
    assert "malloc-trim" in seen["threads"]


def test_digit_lab_malloc_default_leaves_glibc_alone():
    seen = imported({"DIGIT_LAB_MALLOC": "default"})
    assert seen["held"] == {} and "malloc-trim" not in seen["threads"]
