"""The served CNN's weights back in a torch model, so a run can start from the model the Draw tab
serves and fine-tune it (on a visitor's own digits, say) though no checkpoint of it ships.

The export folds each batch norm into the convolution before it (exports/cnn.onnx holds the conv's
scaled weights and a bias, `<conv>.weight_bias`, and no statistics). Unfolding: the conv keeps the
folded weights W and its batch norm is given the statistics of W x on digits like those it will be
trained on (mean m, variance v), a gain sqrt(v + eps) and a shift m + bias. In eval mode that is
W x + bias exactly, the served model, whatever the digits; in train mode a batch's own statistics
are close to m and v only if the digits are alike: unfolded on plain digits and fine-tuned on
augmented ones, the served model lost 5 points on mnist-5k's held-out part in 60 steps at a tiny
learning rate (training/train_cnn.py passes a sample of the run's own batches, augmented)."""
from pathlib import Path

import numpy as np
import torch

from training import data, knobs

PREFIX = "cnn."  # the export wraps the classifier; its initializers are named cnn.<state_dict key>
CALIBRATION_DIGITS = 1000  # training digits whose activations set each unfolded batch norm's statistics
SERVED = {"lab": knobs.ROOT / "exports" / "cnn.onnx", "seed": knobs.ROOT / "exports" / "seed_cnn.onnx"}  # by arch


class NotServedCNN(ValueError):
    """The ONNX file does not hold the weights of a CNN this code builds."""


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}


def load(model: torch.nn.Module, path: str | Path = SERVED["lab"], calibration: data.Split | None = None) -> torch.nn.Module:
    """`model` (a freshly built CNN of the export's arch) with the ONNX file's weights, its batch
    norms unfolded on `calibration` (by default the first CALIBRATION_DIGITS of mnist-5k's training
    part). Raises NotServedCNN when a weight is missing or of another shape."""
    if not Path(path).is_file():
        raise NotServedCNN(f"no model to fine-tune at {path}")
    weights = _initializers(Path(path))
    state = model.state_dict()
    norms = {name for name, module in model.named_modules() if isinstance(module, torch.nn.BatchNorm2d)}
    convs = {}  # batch norm -> the conv whose folded bias it takes
    previous = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            previous = name
        elif name in norms:
            convs[name] = previous
    new = {}
    for key, value in state.items():
        owner = key.rsplit(".", 1)[0]
        if owner in norms:
            continue
        found = weights.get(PREFIX + key)
        if found is None or tuple(found.shape) != tuple(value.shape):
            raise NotServedCNN(f"{Path(path).name} has no weight {key} of shape {list(value.shape)}")
        new[key] = torch.from_numpy(found.copy())
    for norm in norms:  # identity first: the model is then the served one, and its activations true
        bias = weights.get(f"{PREFIX}{convs[norm]}.weight_bias")
        if bias is None or len(bias) != len(state[f"{norm}.bias"]):
            raise NotServedCNN(f"{Path(path).name} has no folded bias for {norm}")
        eps = dict(model.named_modules())[norm].eps
        new |= {f"{norm}.weight": torch.ones(len(bias)), f"{norm}.bias": torch.from_numpy(bias.copy()),
                f"{norm}.running_mean": torch.zeros(len(bias)), f"{norm}.running_var": torch.full((len(bias),), 1 - eps),
                f"{norm}.num_batches_tracked": torch.tensor(0)}
    model.load_state_dict(new)
    if norms:
        _unfold(model, norms, calibration)
    return model


@torch.no_grad()
def _unfold(model: torch.nn.Module, norms: set[str], calibration: data.Split | None) -> None:
    if calibration is None:
        calibration = data.load("mnist-5k")[0]
    images = calibration.images[:CALIBRATION_DIGITS].to(next(model.parameters()).device)
    seen, hooks = {}, []
    modules = dict(model.named_modules())
    for name in norms:
        hooks.append(modules[name].register_forward_hook(
            lambda module, inputs, output, name=name: seen.__setitem__(name, inputs[0].float())))
    was_training = model.training
    model.eval()
    model(images)
    for hook in hooks:
        hook.remove()
    for name in norms:
        norm, x = modules[name], seen[name]
        mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        norm.bias.copy_(mean + norm.bias)
        norm.weight.copy_((var + norm.eps).sqrt())
    model.train(was_training)
