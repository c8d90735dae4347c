"""Writing one torch module to an ONNX file, checked: what training/export/onnx_export.py (the served models)
and training/export/views.py (their companions) both do, so neither imports the other for it."""
from pathlib import Path

import onnx
import torch
from torch import nn


def to_onnx(module: nn.Module, inputs: tuple, input_names: list, output_names: list, path: Path) -> None:
    """Export with a dynamic batch dimension on every input, then run ONNX's full checker."""
    batch = torch.export.Dim("batch", min=1, max=100_000)
    program = torch.onnx.export(
        module.eval(), inputs, dynamo=True, input_names=input_names, output_names=output_names,
        dynamic_shapes=tuple({0: batch} for _ in inputs), verbose=False,
    )
    program.save(str(path), external_data=False)
    onnx.checker.check_model(str(path), full_check=True)
