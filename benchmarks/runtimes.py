"""onnxruntime vs PyTorch eager on one CPU thread, the CNN and the generator, batch 1 and 64.

Each pair is measured side by side in one process: short alternating rounds of ORT calls and torch
calls, so that whatever else the machine is doing slows both alike. The ONNX file is the shipped
one (exports/<kind>.onnx) when present, else the PyTorch module exported into a temporary folder by
the same code path the shipped models go through. The PyTorch module holds the checkpoint's weights
when one is found, else random ones: the arithmetic, and so the speed, is the same.

    python -m benchmarks.runtimes [--quick]
"""
import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = {kind: [ROOT / "checkpoints" / "shipped" / f"{kind}.pt", ROOT / "checkpoints" / f"{kind}.pt"] for kind in ("cnn", "gan")}
TARGET_CNN_BATCH1_SPEEDUP = 4.0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def summary_ms(seconds: list[float]) -> dict:
    return {"median_ms": statistics.median(seconds) * 1e3, "p95_ms": percentile(seconds, 95) * 1e3, "calls": len(seconds)}


def _checkpoint(kind: str):
    from training.runtime import CheckpointError, load_checkpoint

    for path in CHECKPOINTS[kind]:
        try:
            return load_checkpoint(path, kind), str(path)
        except CheckpointError:
            continue
    return None, None


def shipped_config(kind: str) -> dict | None:
    """The training config in the shipped model's card, if there is one."""
    card = ROOT / "exports" / f"{kind}.json"
    try:
        return json.loads(card.read_text())["config"]
    except (OSError, ValueError, KeyError):
        return None


def torch_module(kind: str):
    """(module in eval mode, its config, where its weights came from). The GAN's architecture comes
    from the checkpoint, else from the shipped model's card, else from GANConfig's defaults."""
    from dataclasses import asdict

    from models import DigitCNN
    from training.export.onnx_export import ServedCNN
    from training.train_gan import GANConfig, build_generator

    checkpoint, source = _checkpoint(kind)
    if kind == "cnn":
        cnn = DigitCNN()
        if checkpoint:
            try:
                cnn.load_state_dict(checkpoint["model"])
            except RuntimeError:  # a checkpoint of an older architecture: time random weights
                source = None
        module, config = ServedCNN(cnn), None  # what cnn.onnx computes: logits and features
    else:
        config = checkpoint["config"] if checkpoint else (shipped_config("gan") or asdict(GANConfig()))
        module = build_generator(config)
        if checkpoint:
            module.load_state_dict(checkpoint["model"])
    return module.eval(), config, (source or "random weights (no checkpoint found; same architecture, same speed)")


def onnx_file(kind: str, module, config: dict | None, workdir: Path) -> tuple[Path, str]:
    """The shipped export when it has the module's architecture, else `module` exported into
    `workdir` by the same code path as the shipped models."""
    shipped = ROOT / "exports" / f"{kind}.onnx"
    card = shipped_config(kind)
    same = kind == "cnn" or (card is not None and all(card.get(k) == config.get(k) for k in ("z_dim", "g_width")))
    if shipped.is_file() and same:
        return shipped, str(shipped.relative_to(ROOT))
    import torch

    from training.export.onnx_export import _to_onnx

    path = workdir / f"{kind}.onnx"
    warnings.filterwarnings("ignore", message=".*axis name.*", category=UserWarning)  # the exporter's noise
    if kind == "cnn":
        _to_onnx(module, (torch.rand(2, 1, 28, 28),), ["image"], ["logits", "features"], path)
    else:
        _to_onnx(module, (torch.randn(2, module.z_dim), torch.arange(2)), ["z", "label"], ["image"], path)
    why = "no shipped file" if not shipped.is_file() else "the shipped file has another architecture"
    return path, f"exported from the PyTorch module into a temporary folder ({why})"


def one_thread_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def inputs(kind: str, batch: int, z_dim: int, rng: np.random.Generator) -> dict:
    if kind == "cnn":
        return {"image": rng.random((batch, 1, 28, 28), dtype=np.float32)}
    return {"z": rng.standard_normal((batch, z_dim), dtype=np.float32), "label": rng.integers(0, 10, batch).astype(np.int64)}


def side_by_side(run_ort, run_torch, budget_s: float, rounds: int = 10) -> tuple[list, list]:
    """Alternate rounds of ORT calls and torch calls for about budget_s in all; per-call seconds."""
    for _ in range(3):  # warm both (allocations, kernel choice)
        run_ort(), run_torch()
    ort_times, torch_times = [], []
    for _ in range(rounds):
        for run, times in ((run_ort, ort_times), (run_torch, torch_times)):
            deadline = time.perf_counter() + budget_s / (2 * rounds)
            while True:
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
                if start >= deadline:
                    break
    return ort_times, torch_times


def measure(kind: str, batches=(1, 64), budget_s: float = 4.0, workdir: Path | None = None) -> dict:
    import torch

    torch.set_num_threads(1)
    module, config, weights = torch_module(kind)
    with tempfile.TemporaryDirectory() as tmp:
        path, onnx_source = onnx_file(kind, module, config, Path(workdir or tmp))
        session = one_thread_session(path)
        z_dim = module.z_dim if kind == "gan" else 0
        rng = np.random.default_rng(0)
        result = {"onnx": onnx_source, "torch_weights": weights, "batches": {}}
        for batch in batches:
            feed = inputs(kind, batch, z_dim, rng)
            tensors = [torch.from_numpy(v) for v in feed.values()]
            first_output = [session.get_outputs()[0].name]

            def run_torch():
                with torch.inference_mode():
                    return module(*tensors)

            ort_times, torch_times = side_by_side(lambda: session.run(first_output, feed), run_torch, budget_s)
            ort_s, torch_s = summary_ms(ort_times), summary_ms(torch_times)
            result["batches"][batch] = {
                "onnxruntime": ort_s, "torch": torch_s,
                "speedup_median": torch_s["median_ms"] / ort_s["median_ms"],
                "speedup_p95": torch_s["p95_ms"] / ort_s["p95_ms"],
            }
    return result


def run(quick: bool = False) -> dict:
    budget = 1.5 if quick else 4.0
    figures = {"threads": 1, "cnn": measure("cnn", budget_s=budget), "gan": measure("gan", budget_s=budget)}
    speedup = figures["cnn"]["batches"][1]["speedup_median"]
    figures["target"] = {"cnn_batch1_speedup_at_least": TARGET_CNN_BATCH1_SPEEDUP, "cnn_batch1_speedup": speedup,
                         "met": speedup >= TARGET_CNN_BATCH1_SPEEDUP}
    return figures


def rows(figures: dict) -> list[tuple[str, str, str]]:
    """(what, figure, note) rows for the table."""
    out = []
    for kind in ("cnn", "gan"):
        out.append((f"{kind}: what was timed", f"torch weights: {figures[kind]['torch_weights']}", f"onnx: {figures[kind]['onnx']}"))
        for batch, f in figures[kind]["batches"].items():
            o, t = f["onnxruntime"], f["torch"]
            out.append((f"{kind} batch {batch}: onnxruntime / torch eager (1 thread)",
                        f"{o['median_ms']:.3f} / {t['median_ms']:.3f} ms median; p95 {o['p95_ms']:.3f} / {t['p95_ms']:.3f} ms",
                        f"ORT {f['speedup_median']:.2f}x faster (median)"))
    target = figures["target"]
    out.append(("target: ORT >= 4x torch, CNN batch 1", f"{target['cnn_batch1_speedup']:.2f}x", "met" if target["met"] else "NOT met"))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements (noisier)")
    figures = run(parser.parse_args().quick)
    for row in rows(figures):
        print(" | ".join(row))
    print(json.dumps(figures, indent=1, default=str))
