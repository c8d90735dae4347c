"""What the companions written beside a model share: where each goes, and an ONNX file written with its
metadata, checked by onnx's checker, and moved into place only once whole."""
import os
from pathlib import Path

import onnx
import onnxruntime as ort


class CompanionError(RuntimeError):
    pass


def layers_path(onnx_path) -> Path:
    path = Path(onnx_path)
    return path.with_name(path.stem + ".layers.onnx")


def discriminator_path(onnx_path) -> Path:
    path = Path(onnx_path)
    return path.with_name(path.stem + ".discriminator.onnx")



def open_session(model_or_path) -> ort.InferenceSession:
    payload = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(payload, providers=["CPUExecutionProvider"])


def set_metadata(model: onnx.ModelProto, values: dict) -> None:
    for key, value in values.items():
        entry = next((p for p in model.metadata_props if p.key == key), None) or model.metadata_props.add()
        entry.key, entry.value = key, value


def write(model: onnx.ModelProto, out: Path) -> None:
    partial = out.with_name(out.name + ".tmp")
    try:
        onnx.save(model, str(partial))
        onnx.checker.check_model(str(partial), full_check=True)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)

