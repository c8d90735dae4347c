"""Backpropagation and gradient descent on one digit, for the CNN that reads the canvas: the served
ONNX file's own weights rebuilt as a torch copy (never the served file or session), the primer's
loss on it, every layer's gradient, and k steps of w := w - lr * dL/dw on a copy of the copy.

Torch lives here, in training/, and is imported when the Draw tab's backprop view (or its API,
/backprop_step) is first used, as a training run imports it: serving starts without it.

How the copy is rebuilt: the model card beside the .onnx (`<stem>.json`, written by
training/export/onnx_export.py) names the architecture and its activation (`arch`, `knobs`, `config`; the
file's own `arch` metadata when there is no card); training.train_cnn.build_cnn builds it. The
exported graph runs in eval mode, so torch.onnx folded each batch norm into the convolution before
it: the file holds `cnn.<layer>.weight` and `cnn.<layer>.weight_bias`. The copy is built the same
way (each BatchNorm2d an Identity, its convolution given a bias) and takes every array by name;
any name left over or missing on either side is refused, and the copy must then read a few
inputs as onnxruntime reads the file, so a copy never silently differs from it. The gradients are therefore those of the model as served (batch norm folded, dropout
off), which is what the visitor's digit meets.

The loss is the primer's categorical cross-entropy for one digit: L = -log p(digit), with
p = softmax(logits).
"""
import copy
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

import locales
from training import knobs
from training.layer_gradients import kind_of
from training.train_cnn import build_cnn

EXPORT_PREFIX = "cnn."  # training.export.ServedCNN wraps the CNN as `cnn`
FOLDED_BIAS = "weight_bias"  # torch.onnx's name for the bias a folded batch norm leaves
PARITY_TOLERANCE = 1e-4  # training.export.LOGIT_TOLERANCE: the copy's logits against the file's


class CopyRefused(locales.Explained, RuntimeError):
    """The ONNX file's weights do not fit the architecture its card names."""


class NoSuchFilter(locales.Explained, ValueError):
    """A filter number beyond the first layer's filters."""


@dataclass(frozen=True)
class Layer:
    name: str  # the module's path in the copy, e.g. features.0 (the file's cnn.features.0.weight)
    kind: str  # conv, depthwise, pointwise, dense
    shape: tuple  # its weight's


@dataclass
class Descent:
    """One digit, one target, k steps. Gradients are those at the start (before any step)."""

    digit: int
    learning_rate: float
    steps: int
    loss_before: float
    loss_after: float
    probabilities_before: np.ndarray  # [10]
    probabilities_after: np.ndarray  # [10]
    losses: list  # the loss before each step, then after the last: steps + 1 values
    layers: list  # [(Layer, gradient norm)], input side to output side
    input_gradient: np.ndarray  # [28,28] dL/dx
    weight: dict  # one weight's update: name, index, before, gradient (at the start), after
    weights: dict = field(repr=False, default_factory=dict)  # the stepped copy's state (numpy), to step on from
    # one filter of the first layer with weights: layer, index, count (its filters), weights and
    # dL/dw [in channels, k, k] at the start
    filter: dict = field(repr=False, default_factory=dict)

    @property
    def probability_before(self) -> float:
        return float(self.probabilities_before[self.digit])

    @property
    def probability_after(self) -> float:
        return float(self.probabilities_after[self.digit])

    def summary(self) -> dict:
        """The JSON /backprop_step returns."""
        return {
            "digit": self.digit, "learning_rate": self.learning_rate, "steps": self.steps,
            "loss": "cross-entropy: -log p(digit)",
            "loss_before": self.loss_before, "loss_after": self.loss_after,
            "probability_before": self.probability_before, "probability_after": self.probability_after,
            "probabilities_before": [float(p) for p in self.probabilities_before],
            "probabilities_after": [float(p) for p in self.probabilities_after],
            "losses": self.losses,
            "layers": [{"name": layer.name, "kind": layer.kind, "shape": list(layer.shape), "gradient_norm": norm}
                       for layer, norm in self.layers],
            "weight": self.weight,
            "filter": {"layer": self.filter["layer"], "index": self.filter["index"], "count": self.filter["count"],
                       "weights": np.round(self.filter["weights"], 8).tolist(),
                       "gradient": np.round(self.filter["gradient"], 10).tolist()} if self.filter else None,
            "input_gradient": np.round(self.input_gradient, 8).tolist(),
        }


def _card(path: Path) -> dict:
    card_path = path.with_suffix(".json")
    try:
        return json.loads(card_path.read_text())
    except (OSError, ValueError):
        return {}


def architecture(path: Path, graph: onnx.ModelProto) -> dict:
    """The CNN config the card beside `path` names (its arch, activation and dropout), else the
    file's `arch` metadata; what build_cnn needs."""
    card = _card(path)
    settings = {**card.get("config", {}), **card.get("knobs", {})}
    if card.get("arch"):
        settings["arch"] = card["arch"]
    if not settings.get("arch"):
        settings["arch"] = next((p.value for p in graph.metadata_props if p.key == "arch"), "lab")
    return knobs.resolve("cnn", {k: settings[k] for k in ("arch", "activation", "dropout") if k in settings})


def _fold_batch_norms(model: nn.Module) -> nn.Module:
    """Each Conv2d -> BatchNorm2d pair becomes one Conv2d with a bias, as in the exported graph."""
    for sequence in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(1, len(sequence)):
            conv, norm = sequence[i - 1], sequence[i]
            if isinstance(norm, nn.BatchNorm2d) and isinstance(conv, nn.Conv2d) and conv.bias is None:
                conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
                sequence[i] = nn.Identity()
    return model


def _file_weights(graph: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The file's weights by the copy's names: cnn.features.0.weight_bias -> features.0.bias."""
    found = {}
    for tensor in graph.graph.initializer:
        if not tensor.name.startswith(EXPORT_PREFIX):
            continue  # the graph's own constants (shapes, MNIST's mean and std)
        name = tensor.name[len(EXPORT_PREFIX):]
        name = re.sub(rf"\.{FOLDED_BIAS}$", ".bias", name)
        found[name] = numpy_helper.to_array(tensor).copy()
    return found


def _version(path: Path) -> tuple:
    """When a file was written, and its size: a file replaced on disk differs (a missing one is ())."""
    stat = path.stat() if path.exists() else None
    return (stat.st_mtime_ns, stat.st_size) if stat else ()


@functools.lru_cache(maxsize=8)
def _rebuilt(path: str, version: tuple, card_version: tuple) -> nn.Module:
    """The copy of `path` as its file and card were at those times (a replaced file is rebuilt)."""
    graph = onnx.load(path)
    model = _fold_batch_norms(build_cnn(architecture(Path(path), graph))).eval()
    weights = _file_weights(graph)
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    wrong = [k for k in own if k in weights and tuple(own[k].shape) != weights[k].shape]
    if missing or extra or wrong:
        raise CopyRefused("backprop.error.weights", file=Path(path).name, names=", ".join((missing + extra + wrong)[:4]))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    _check_parity(model, path)
    return model


def _check_parity(model: nn.Module, path: str) -> None:
    """The copy must read as the file does (the same architecture, activation and weights): both
    run on a few fixed random inputs; CopyRefused when their logits differ by more than export's
    own tolerance (training/export/onnx_export.py)."""
    probe = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # once per file, on a server's shared cores
    served = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    expected = served.run(["logits"], {served.get_inputs()[0].name: probe})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(probe)).numpy()
    difference = float(np.abs(got - expected).max())
    if not difference <= PARITY_TOLERANCE:
        raise CopyRefused("backprop.error.parity", file=Path(path).name, difference=f"{difference:.2g}")


def rebuild(path: str | Path) -> nn.Module:
    """A torch copy of the CNN in the ONNX file `path`, in eval mode, for this caller alone.
    Raises FileNotFoundError, or CopyRefused when the weights do not fit."""
    path = Path(path)
    path.stat()  # FileNotFoundError for a missing file
    model = copy.deepcopy(_rebuilt(str(path.resolve()), _version(path), _version(path.with_suffix(".json"))))
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


def layers(model: nn.Module) -> list[Layer]:
    """The layers with weights, input side to output side (the modules' own order)."""
    return [Layer(name, kind_of(module), tuple(module.weight.shape)) for name, module in model.named_modules() if kind_of(module)]


def loss_of(model: nn.Module, image: torch.Tensor, digit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(L = -log p(digit), the ten probabilities) for one image [1,1,28,28]. The softmax is taken
    in float64, so a loss near 0 (p near 1) keeps its digits instead of rounding to 0."""
    log_p = torch.log_softmax(model(image).double(), dim=1)[0]
    return -log_p[digit], log_p.exp()


def _pixels(image: np.ndarray) -> torch.Tensor:
    image = np.asarray(image, np.float32)
    if image.shape != (28, 28):
        raise ValueError(f"the CNN reads a 28x28 image, not {image.shape}")
    return torch.from_numpy(image.copy())[None, None]


def _pick_weight(model: nn.Module, digit: int, chosen: str | None) -> tuple[str, tuple]:
    """The weight whose update is shown: `chosen` ("head.1.weight[7,12]"), else the weight into
    `digit`'s logit of the output layer whose gradient is largest (the one the step moves most)."""
    parameters = dict(model.named_parameters())
    if chosen:
        match = re.fullmatch(r"\s*([\w.]+)\s*\[([\d,\s]+)\]\s*", chosen)
        if not match or match.group(1) not in parameters:
            raise ValueError(f"no weight {chosen!r}; name one as e.g. head.1.weight[7,12]")
        index = tuple(int(i) for i in match.group(2).split(","))
        try:
            parameters[match.group(1)][index].item()
        except (IndexError, RuntimeError):
            raise ValueError(f"no weight {chosen!r}: {match.group(1)} has shape {list(parameters[match.group(1)].shape)}") from None
        return match.group(1), index
    name = f"{layers(model)[-1].name}.weight"
    row = parameters[name].grad[digit]
    return name, (digit, int(row.abs().argmax()))


def first_filter(model: nn.Module, index: int) -> dict:
    """Filter `index` of the first layer with weights (the first convolution): its weights and
    their gradient dL/dw [in channels, k, k], copied (a step changes the weights in place)."""
    first = layers(model)[0]
    weight = dict(model.named_parameters())[f"{first.name}.weight"]
    if not 0 <= index < weight.shape[0]:
        raise NoSuchFilter("backprop.error.filter", value=index, most=weight.shape[0] - 1)
    return {"layer": first.name, "index": index, "count": int(weight.shape[0]),
            "weights": weight.detach()[index].numpy().copy(), "gradient": weight.grad[index].numpy().copy()}


def descend(model_path: str | Path, image: np.ndarray, digit: int | None, learning_rate: float, steps: int = 1,
            weight: str | None = None, start: dict | None = None, filter_index: int = 0) -> Descent:
    """Backprop the primer's loss for `digit` (None: the digit the copy reads) through a copy of
    the CNN in `model_path` for the 28x28 `image` (white ink on black, [0,1]), then `steps` steps
    of gradient descent on that copy (0: the gradients alone). `start`: a previous Descent's
    `weights`, to step on from there instead of from the file. `filter_index`: the first layer's
    filter whose weights and gradient are reported (NoSuchFilter beyond its filters)."""
    if (digit is not None and not 0 <= digit <= 9) or steps < 0 or not learning_rate > 0:
        raise ValueError("digit 0-9 (or None), steps >= 0 and a positive learning rate")
    model = rebuild(model_path)
    if start:
        model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in start.items()})
    x = _pixels(image).requires_grad_(True)
    if digit is None:
        with torch.no_grad():
            digit = int(model(x).argmax())
    loss, probabilities_before = loss_of(model, x, digit)
    loss.backward()
    parameters = dict(model.named_parameters())
    norms = []
    for layer in layers(model):
        grads = [p.grad for n, p in parameters.items() if n.rsplit(".", 1)[0] == layer.name]
        norms.append((layer, float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))))
    name, index = _pick_weight(model, digit, weight)
    chosen_filter = first_filter(model, filter_index)
    before, gradient = parameters[name].detach()[index].item(), parameters[name].grad[index].item()
    x_alone = x.detach()  # later steps need no input gradient
    losses = [loss.item()]
    loss_after, probabilities_after = loss.detach(), probabilities_before.detach()
    for step in range(steps):
        if step:  # the first step's gradients are the ones above
            model.zero_grad()
            loss_of(model, x_alone, digit)[0].backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= learning_rate * p.grad  # w := w - lr * dL/dw
            loss_after, probabilities_after = loss_of(model, x_alone, digit)
        losses.append(float(loss_after))
    return Descent(
        digit=digit, learning_rate=float(learning_rate), steps=steps,
        loss_before=losses[0], loss_after=float(loss_after),
        probabilities_before=probabilities_before.detach().numpy().astype(np.float64),
        probabilities_after=probabilities_after.detach().numpy().astype(np.float64),
        losses=losses, layers=norms, input_gradient=x.grad[0, 0].numpy().copy(),
        weight={"name": name, "index": list(index), "before": before, "gradient": gradient,
                "after": parameters[name].detach()[index].item()},
        weights={k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
        filter=chosen_filter,
    )
