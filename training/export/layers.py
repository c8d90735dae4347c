"""The layers companion, `<stem>.layers.onnx` beside a CNN's `<stem>.onnx`: the same graph with every
stage's tensor as an output, and metadata `stages` describing them. The stages are found in the
exported graph itself, so any CNN a visitor trains gets one too; with the torch model at hand each
stage is parity-checked against the tensors PyTorch computes (forward hooks on its leaf modules)."""
import base64
import copy
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from training.export.companion_file import CompanionError, layers_path, open_session, set_metadata, write

STAGES_KEY = "stages"  # inference.inside reads the same key
FORMAT = 1
ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leaky_relu", "Elu": "elu", "Gelu": "gelu"}
POOLS = {"MaxPool": "max", "AveragePool": "average"}
DENSE = {"Gemm", "MatMul"}
PASS_THROUGH = {"Identity", "Dropout"}  # an eval-mode graph may keep these: the tensor is the same
DOES = {  # one English line a kind, for developers reading the file; the app has its own words (locales/)
    "conv": "a 3x3 convolution: each map is one filter slid over the previous maps",
    "depthwise": "a depthwise convolution: each channel filtered on its own by one small kernel",
    "pointwise": "a 1x1 convolution: each map is a weighted mix of the previous maps",
    "activation": "the activation function, applied to every value",
    "pool": "pooling: each output keeps the strongest (max) or mean response in its window",
    "dense": "a fully connected layer: every output weighs every input",
    "features": "the feature vector the last layer reads",
    "logits": "one score a digit; softmax turns them into probabilities",
}
LAYERS_TOLERANCE = 1e-4  # relative to each tensor's largest magnitude


def _encode(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array, np.float32)
    return {"shape": list(array.shape), "dtype": "float32", "data": base64.b64encode(array.tobytes()).decode("ascii")}


def _constants(graph) -> dict[str, np.ndarray]:
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute:
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _attribute(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def find_stages(model: onnx.ModelProto) -> list[dict]:
    """The stages of a CNN's graph, in order: dicts with `tensor` (the graph's tensor name), `kind`
    (conv, depthwise, pointwise, activation, pool, dense, features, logits), `block` (stages of one
    convolution block share it; a depthwise conv and the 1x1 after it are one separable block) and
    what each kind needs to be drawn (weights, kernel, function)."""
    graph = model.graph
    constants = _constants(graph)
    alias: dict[str, str] = {}  # a pass-through node's output -> the tensor it passes on
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    stages, by_tensor, block = [], {}, 0

    def source(name):
        while name in alias:
            name = alias[name]
        return name

    def add(stage):
        stages.append(stage)
        by_tensor[stage["tensor"]] = stage
        return stage

    for node in graph.node:
        op, inputs = node.op_type, [source(n) for n in node.input]
        if op in PASS_THROUGH:
            alias[node.output[0]] = inputs[0]
            continue
        if op == "Conv":
            weight = constants.get(inputs[1])
            if weight is None or weight.ndim != 4:
                continue
            groups = int(_attribute(node, "group", 1))
            c_out, per_group, kh, kw = weight.shape
            c_in = per_group * groups
            kind = "depthwise" if groups > 1 and groups == c_in and per_group == 1 else "pointwise" if (kh, kw) == (1, 1) and groups == 1 else "conv"
            producer = by_tensor.get(inputs[0])
            joins = kind == "pointwise" and producer is not None and producer["kind"] == "activation" and by_tensor[producer["of"]]["kind"] == "depthwise"
            if not joins:
                block += 1
            tensor = node.output[0]
            follow = consumers.get(tensor, [])
            if len(follow) == 1 and follow[0].op_type == "BatchNormalization":  # an unfolded batch norm: part of the conv
                tensor = follow[0].output[0]
            add({"tensor": tensor, "kind": kind, "op": "Conv", "block": block, "kernel": [int(kh), int(kw)], "groups": groups,
                 "in_channels": int(c_in), "out_channels": int(c_out), "weight": _encode(weight)})
        elif op in ACTIVATIONS and inputs[0] in by_tensor and by_tensor[inputs[0]]["kind"] in ("conv", "depthwise", "pointwise", "dense"):
            of = by_tensor[inputs[0]]
            add({"tensor": node.output[0], "kind": "activation", "op": op, "function": ACTIVATIONS[op], "block": of["block"], "of": of["tensor"]})
        elif op in POOLS and stages:
            add({"tensor": node.output[0], "kind": "pool", "op": op, "pool": POOLS[op], "block": block,
                 "kernel": [int(k) for k in _attribute(node, "kernel_shape", [])]})
        elif op in DENSE:
            weight = constants.get(inputs[1])
            if weight is None or weight.ndim != 2:
                continue
            tensor = node.output[0]
            follow = consumers.get(tensor, [])
            if op == "MatMul" and len(follow) == 1 and follow[0].op_type == "Add":
                tensor = follow[0].output[0]
            block += 1
            add({"tensor": tensor, "kind": "dense", "op": op, "block": block, "input": inputs[0],
                 "units": int(weight.shape[0] if op == "Gemm" and _attribute(node, "transB", 0) else weight.shape[1])})
    dense = [s for s in stages if s["kind"] == "dense"]
    if not dense or not any(s["kind"] in ("conv", "depthwise", "pointwise") for s in stages):
        raise CompanionError("no convolution and fully connected layers found in this graph: not a CNN the inside view can show")
    last = dense[-1]
    # The feature vector is what the last layer reads; the logits what it writes (the graph's output).
    features = {"tensor": last.pop("input"), "kind": "features", "op": "", "block": last["block"]}
    if features["tensor"] in by_tensor:  # e.g. the primer's ReLU after its 128-unit layer
        earlier = by_tensor[features["tensor"]]
        stages.remove(earlier)
        features |= {"op": earlier["op"], "function": earlier.get("function"), "block": earlier["block"]}
    stages.insert(stages.index(last), features)
    last["kind"] = "logits"
    for s in dense[:-1]:
        s.pop("input", None)
    outputs = [o.name for o in graph.output]
    if last["tensor"] not in outputs and "logits" in outputs:
        last["tensor"] = "logits"
    for index, stage in enumerate(stages, 1):
        stage["name"] = f"stage{index:02d}_{stage['kind']}"
        stage["does"] = DOES[stage["kind"]]
    for stage in stages:
        if "of" in stage:
            stage["of"] = next(s["name"] for s in stages if s["tensor"] == stage["of"])
    return stages


def layers_model(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[dict]]:
    """A copy of the CNN's graph whose outputs are its stages, each under its stage name."""
    stages = find_stages(model)
    companion = copy.deepcopy(model)
    graph = companion.graph
    del graph.output[:]
    for stage in stages:
        graph.node.append(helper.make_node("Identity", [stage["tensor"]], [stage["name"]], name=f"expose_{stage['name']}"))
        graph.output.append(helper.make_tensor_value_info(stage["name"], onnx.TensorProto.FLOAT, None))
    return companion, stages



def write_layers(cnn_onnx, out=None, module=None, images=None) -> dict:
    """Write the layers companion of the CNN export `cnn_onnx` (default beside it). With `module`
    (the torch model) and `images` ([N,1,28,28] in [0,1]), check every stage against PyTorch.
    Returns figures for the model card."""
    cnn_onnx = Path(cnn_onnx)
    out = Path(out) if out else layers_path(cnn_onnx)
    base = onnx.load(str(cnn_onnx))
    companion, stages = layers_model(base)
    input_name = base.graph.input[0].name
    probe = np.zeros((1, 1, 28, 28), np.float32) if images is None else np.asarray(images[:1], np.float32)
    got = open_session(companion).run(None, {input_name: probe})
    del companion.graph.output[:]
    for stage, value in zip(stages, got):
        stage["shape"] = list(value.shape[1:])
        companion.graph.output.append(helper.make_tensor_value_info(stage["name"], onnx.TensorProto.FLOAT, ["N", *stage["shape"]]))
    described = {"format": FORMAT, "input": input_name, "input_shape": [1, 28, 28], "model": cnn_onnx.name, "stages": stages}
    set_metadata(companion, {STAGES_KEY: json.dumps(described)})
    figures = {"file": out.name, "stages": len(stages), "outputs": [s["name"] for s in stages]}
    if images is not None:
        figures["logit_parity"] = _same_logits(base, companion, stages, input_name, images)
    if module is not None and images is not None:
        figures["parity_max_relative_difference"] = check_layers_against_torch(companion, stages, input_name, module, images)
    write(companion, out)
    figures["size_bytes"] = out.stat().st_size
    return figures


def _same_logits(base, companion, stages, input_name, images) -> float:
    images = np.asarray(images, np.float32)
    served = open_session(base).run([base.graph.output[0].name], {input_name: images})[0]
    logits = open_session(companion).run([stages[-1]["name"]], {input_name: images})[0]
    worst = float(np.abs(served - logits).max())
    if worst > 1e-5:
        raise CompanionError(f"the layers companion's logits differ from the model's by {worst:.2e}")
    return worst


def _torch_tensors(module, images) -> list:
    """Every leaf module's input and output on `images` (cloned as they happen: in-place ReLUs
    would overwrite them), and the model's output: the tensors a stage may be."""
    import torch

    seen, hooks = [], []

    def record(_module, args, output):
        for value in (*args[:1], output):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                seen.append(value.detach().clone())

    def record_input(_module, args):
        if args and isinstance(args[0], torch.Tensor):
            seen.append(args[0].detach().clone())

    for m in module.modules():
        if not list(m.children()):
            hooks.append(m.register_forward_pre_hook(record_input))  # before an in-place op overwrites it
            hooks.append(m.register_forward_hook(record))
    try:
        with torch.no_grad():
            seen.append(module.eval()(torch.as_tensor(np.asarray(images, np.float32))).detach().clone())
    finally:
        for h in hooks:
            h.remove()
    return [t.numpy() for t in seen]


def _distinct(tensors: list) -> list:
    """The tensors less repeats of the same values (a leaf's output is the next leaf's input, and an
    in-place ReLU's input its output: two thirds of a CNN's are repeats). A repeat would match a
    stage exactly as well as its first, so leaving it out changes no result, only the time."""
    kept, seen = [], {}
    for t in tensors:
        flat = t.reshape(-1)
        key = (t.size, t.dtype.str, flat[:: max(1, t.size // 64)].tobytes())
        same = seen.setdefault(key, [])
        if not any(np.array_equal(flat, other) for other in same):
            same.append(flat)
            kept.append(t)
    return kept


def check_layers_against_torch(companion, stages, input_name, module, images) -> float:
    """Each stage's output must equal some tensor of PyTorch's forward pass (a leaf module's input
    or output) of the same shape, within LAYERS_TOLERANCE of its largest magnitude. Returns the
    worst relative difference; raises CompanionError naming the first stage that has no match."""
    images = np.asarray(images, np.float32)
    got = open_session(companion).run([s["name"] for s in stages], {input_name: images})
    candidates = _distinct(_torch_tensors(module, images))
    worst = 0.0
    for stage, value in zip(stages, got):
        scale = max(float(np.abs(value).max()), 1e-6)
        differences = [float(np.abs(c.reshape(value.shape) - value).max()) / scale for c in candidates if c.size == value.size]
        best = min(differences, default=float("inf"))
        if best > LAYERS_TOLERANCE:
            raise CompanionError(f"parity failed: stage {stage['name']} matches no PyTorch tensor (closest {best:.2e} of its scale)")
        worst = max(worst, best)
    return worst

