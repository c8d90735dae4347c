"""`python -m benchmarks.gpu`: the GPU figures, for a machine with a CUDA GPU (one short run).

A default CNN run and a default GAN run on CUDA (bf16 autocast, as training/runtime.py does there):
their seconds, held-out accuracy / label fidelity and Frechet ratio as their exports measure them;
then onnxruntime's CUDA provider against its CPU provider at batch 1 and 64 for both models.
Prints JSON and writes artifacts/gpu.json. Without CUDA it says so and exits with status 1, having measured nothing."""
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (1, 64)
REPEATS = 50


def train_and_export(kind: str, folder: Path) -> tuple[dict, Path]:
    from training import runtime
    from training.export import onnx_export as export

    if kind == "cnn":
        from training.train_cnn import CNNConfig as Config, train
    else:
        from training.train_gan import GANConfig as Config, train
    started, last = time.perf_counter(), None
    for event in train(Config(device="cuda")):
        last = event
    checkpoint = last.snapshot()
    trained = time.perf_counter() - started
    path = runtime.save_checkpoint(checkpoint, folder / f"{kind}.pt")
    exported = time.perf_counter()
    card = export.export(runtime.load_checkpoint(path), folder / f"{kind}.onnx")
    keep = ("held_out_accuracy", "label_fidelity", "frechet_ratio")
    return {"steps": last.step, "train_seconds": round(trained, 1), "export_seconds": round(time.perf_counter() - exported, 1),
            **{k: card["metrics"][k] for k in keep if card["metrics"].get(k) is not None}}, folder / f"{kind}.onnx"


def serving(path: Path) -> dict:
    """Median milliseconds a call, each provider, each batch size."""
    import numpy as np
    import onnxruntime as ort

    figures = {}
    for provider in ("CUDAExecutionProvider", "CPUExecutionProvider"):
        session = ort.InferenceSession(str(path), providers=[provider])
        if session.get_providers()[0] != provider:
            figures[provider] = "not available in this onnxruntime"
            continue
        inputs = {i.name: i for i in session.get_inputs()}
        for batch in BATCHES:
            feed = {}
            for name, spec in inputs.items():
                if spec.type == "tensor(int64)":
                    feed[name] = np.arange(batch, dtype=np.int64) % 10
                else:
                    shape = [batch] + [d if isinstance(d, int) else 1 for d in spec.shape[1:]]
                    feed[name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            session.run(None, feed)  # warm-up: CUDA kernels and allocations
            times = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                session.run(None, feed)
                times.append(time.perf_counter() - started)
            figures[f"{provider.removesuffix('ExecutionProvider').lower()}_batch_{batch}_ms"] = round(statistics.median(times) * 1e3, 3)
    return figures


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        sys.exit("benchmarks.gpu: no CUDA GPU is visible here (torch.cuda.is_available() is False); "
                 "run it where a GPU is lent. Nothing was measured.")
    result = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("cnn", "gan"):
            figures, onnx_path = train_and_export(kind, Path(folder))
            result[kind] = {**figures, "serving": serving(onnx_path)}
            print(json.dumps({kind: result[kind]}), flush=True)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "gpu.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
