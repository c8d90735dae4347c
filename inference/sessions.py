"""onnxruntime sessions for the served models: one per file, made once and shared by every request
(InferenceSession.run is thread-safe), with threads set for a server that many visitors share."""
import functools
import os
from pathlib import Path

import onnxruntime as ort

import locales
from inference.memory import hold_malloc

hold_malloc()  # before any request thread exists: see inference/memory.py

# DIGIT_LAB_EXPORTS points the app at another folder of models (the fault tests use a temporary one).
EXPORTS = Path(os.environ.get("DIGIT_LAB_EXPORTS") or Path(__file__).resolve().parent.parent / "exports")
# The models are tiny: batch-1 latency is best on the CPU, one thread a request, many requests at
# once. DIGIT_LAB_PROVIDERS=CUDAExecutionProvider,CPUExecutionProvider opts into a GPU.
PROVIDERS = os.environ.get("DIGIT_LAB_PROVIDERS", "CPUExecutionProvider").split(",")

HOW_TO_MAKE = {
    "cnn": "python -m training.train_cnn --out checkpoints && python -m training.export --checkpoint checkpoints/cnn.pt --out exports/cnn.onnx",
    "gan": "python -m training.train_gan --out checkpoints && python -m training.export --checkpoint checkpoints/gan.pt --out exports/gan.onnx",
}


PRIMER_CNN = "seed_cnn"  # exports/seed_cnn.onnx: the primer's CNN, trained with its recipe


class ModelUnavailable(locales.Explained, RuntimeError):
    """A model file (or a view's companion file) is missing or unreadable; its words say which
    file and the command that makes it."""


def shipped(kind: str) -> Path:
    return EXPORTS / f"{kind}.onnx"


@functools.lru_cache(maxsize=16)
def _open(path: str, modified: float) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, options, providers=[p for p in PROVIDERS if p in ort.get_available_providers()])


def session(kind: str, path: str | Path | None = None) -> ort.InferenceSession:
    """The session for `path` (the shipped model of `kind` when None). A file replaced on disk gets
    a fresh session; a missing or corrupt one raises ModelUnavailable."""
    path = Path(path) if path else shipped(kind)
    try:
        return _open(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        raise ModelUnavailable("serving.model.missing", file=path.name, command=HOW_TO_MAKE[kind]) from None
    except Exception as error:
        raise ModelUnavailable("serving.model.unreadable", file=path.name, error=type(error).__name__, command=HOW_TO_MAKE[kind]) from None
