"""Companion ONNX files for the app's inside views, written beside each export.

- `<stem>.layers.onnx` beside a CNN's `<stem>.onnx`: the same graph with every stage's tensor as an
  output (each convolution's maps before the activation, after it, after pooling; the feature
  vector; the logits), and custom metadata `stages` (JSON) that describes them: name, kind, shape,
  one line of what it does, and each convolution's weights (for a depthwise convolution the 3x3
  kernel of each channel, for a 1x1 pointwise one the mix of the channels). The stages are found in
  the exported graph itself (Conv, Relu/Sigmoid/Tanh, MaxPool, Gemm nodes), not from a hard-coded
  architecture, so any CNN a visitor trains gets one too, and a shipped cnn.onnx without its
  checkpoint can get one with `python -m training.export.views layers exports/cnn.onnx`. With the
  torch model at hand, every stage is parity-checked against the tensors PyTorch computes (forward
  hooks on its leaf modules).
- `<stem>.discriminator.onnx` beside a GAN's `<stem>.onnx`: the discriminator from the checkpoint,
  input `image` [N,1,28,28] in [-1,1] (and `label` int64 [N] when conditional), output `score` [N]
  (hinge: the raw score; bce: the probability of "real"), metadata `loss`, `conditional`,
  `threshold`, `source` and the mean scores on real and generated digits.
"""
import argparse
import base64
import copy
import inspect
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

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
LAYERS_TOLERANCE, SCORE_TOLERANCE = 1e-4, 1e-3  # relative to each tensor's largest magnitude


class CompanionError(RuntimeError):
    pass


def layers_path(onnx_path) -> Path:
    path = Path(onnx_path)
    return path.with_name(path.stem + ".layers.onnx")


def discriminator_path(onnx_path) -> Path:
    path = Path(onnx_path)
    return path.with_name(path.stem + ".discriminator.onnx")


# ---------------------------------------------------------------- the CNN's stages, from its graph

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


def _session(model_or_path) -> ort.InferenceSession:
    payload = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(payload, providers=["CPUExecutionProvider"])


def _set_metadata(model: onnx.ModelProto, values: dict) -> None:
    for key, value in values.items():
        entry = next((p for p in model.metadata_props if p.key == key), None) or model.metadata_props.add()
        entry.key, entry.value = key, value


def _write(model: onnx.ModelProto, out: Path) -> None:
    partial = out.with_name(out.name + ".tmp")
    try:
        onnx.save(model, str(partial))
        onnx.checker.check_model(str(partial), full_check=True)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


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
    got = _session(companion).run(None, {input_name: probe})
    del companion.graph.output[:]
    for stage, value in zip(stages, got):
        stage["shape"] = list(value.shape[1:])
        companion.graph.output.append(helper.make_tensor_value_info(stage["name"], onnx.TensorProto.FLOAT, ["N", *stage["shape"]]))
    described = {"format": FORMAT, "input": input_name, "input_shape": [1, 28, 28], "model": cnn_onnx.name, "stages": stages}
    _set_metadata(companion, {STAGES_KEY: json.dumps(described)})
    figures = {"file": out.name, "stages": len(stages), "outputs": [s["name"] for s in stages]}
    if images is not None:
        figures["logit_parity"] = _same_logits(base, companion, stages, input_name, images)
    if module is not None and images is not None:
        figures["parity_max_relative_difference"] = check_layers_against_torch(companion, stages, input_name, module, images)
    _write(companion, out)
    figures["size_bytes"] = out.stat().st_size
    return figures


def _same_logits(base, companion, stages, input_name, images) -> float:
    images = np.asarray(images, np.float32)
    served = _session(base).run([base.graph.output[0].name], {input_name: images})[0]
    logits = _session(companion).run([stages[-1]["name"]], {input_name: images})[0]
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
    got = _session(companion).run([s["name"] for s in stages], {input_name: images})
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


# ---------------------------------------------------------------- the GAN's discriminator

def _plain(module):
    """A copy in eval mode, with spectral norm's power iteration off (eval mode): the exported graph
    computes the normalised weights as they are at the end of training. (Parametrizations are not
    removed: that deletes the property from a class the original shares.)"""
    return copy.deepcopy(module).eval()


def is_conditional(discriminator) -> bool:
    return len(inspect.signature(discriminator.forward).parameters) >= 2


def _ends_in_sigmoid(discriminator) -> bool:
    import torch

    leaves = [m for m in discriminator.modules() if not list(m.children())]
    return bool(leaves) and isinstance(leaves[-1], torch.nn.Sigmoid)


def scored(discriminator, loss: str):
    """The discriminator as the companion computes it: one score per image; for bce the probability
    of "real" (a sigmoid added unless the model ends in one)."""
    import torch

    conditional = is_conditional(discriminator)
    squash = loss == "bce" and not _ends_in_sigmoid(discriminator)

    class Scored(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = discriminator

        def forward(self, image, label=None):
            score = (self.inner(image, label) if conditional else self.inner(image)).reshape(-1)
            return torch.sigmoid(score) if squash else score

    return Scored().eval()


def loss_of(config: dict) -> str:
    return config.get("loss") or ("bce" if config.get("arch") == "seed" else "hinge")


def write_discriminator(discriminator, config: dict, out, real, fake, source: str = "the GAN's own discriminator, from its checkpoint") -> dict:
    """Export `discriminator` (torch, loaded) to `out` with its metadata, parity-check it on `real`
    and `fake` ([N,1,28,28] in [-1,1], with labels when conditional: tuples (images, labels)), and
    return figures for the model card."""
    import torch

    from training.export.onnx_file import to_onnx as _to_onnx

    out = Path(out)
    loss = loss_of(config)
    plain = _plain(discriminator)
    conditional = is_conditional(plain)
    model = scored(plain, loss)
    (real_images, real_labels), (fake_images, fake_labels) = real, fake
    example = (real_images[:2], real_labels[:2]) if conditional else (real_images[:2],)
    names = ["image", "label"] if conditional else ["image"]
    partial = out.with_name(out.name + ".export.tmp")
    try:
        _to_onnx(model, tuple(torch.as_tensor(e) for e in example), names, ["score"], partial)
        session = _session(partial)

        def run(images, labels):
            feeds = {"image": np.asarray(images, np.float32)} | ({"label": np.asarray(labels, np.int64)} if conditional else {})
            return session.run(["score"], feeds)[0]

        with torch.no_grad():
            expected = torch.cat([model(torch.as_tensor(i), torch.as_tensor(l) if conditional else None)
                                  for i, l in ((real_images, real_labels), (fake_images, fake_labels))]).numpy()
        on_real, on_fake = run(real_images, real_labels), run(fake_images, fake_labels)
        got = np.concatenate([on_real, on_fake])
        worst = float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-6))
        if worst > SCORE_TOLERANCE:
            raise CompanionError(f"parity failed: discriminator scores differ from PyTorch by {worst:.2e} of their scale")
        threshold = 0.5 if loss == "bce" else 0.0
        figures = {
            "file": out.name, "loss": loss, "conditional": conditional, "source": source, "threshold": threshold,
            "score": "probability that the image is real" if loss == "bce" else "raw hinge score: real digits were pushed above +1, generated ones below -1",
            "parity_max_relative_difference": worst,
            "real_mean": float(on_real.mean()), "generated_mean": float(on_fake.mean()),
            "real_judged_real": float((on_real > threshold).mean()), "generated_judged_generated": float((on_fake <= threshold).mean()),
            "measured_on": {"real": len(on_real), "generated": len(on_fake)},
        }
        onnx_model = onnx.load(str(partial))
        _set_metadata(onnx_model, {"loss": loss, "conditional": "true" if conditional else "false", "threshold": str(threshold),
                                   "source": source, "real_mean": f"{figures['real_mean']:.4f}", "generated_mean": f"{figures['generated_mean']:.4f}",
                                   "arch": str(config.get("arch", "lab"))})
        _write(onnx_model, out)
    finally:
        partial.unlink(missing_ok=True)
    figures["size_bytes"] = out.stat().st_size
    return figures


def build_discriminator(config: dict):
    """The discriminator of the checkpoint's arch (imported here: the CLI's other commands need no training code)."""
    from training.train_gan import build_discriminator as build

    return build(config)


def build_cnn(config: dict):
    try:
        from training.train_cnn import build_cnn as build
    except ImportError:
        from models import DigitCNN

        return DigitCNN()
    return build(config)


def _generated(generate, z_dim: int, count: int, conditional: bool, seed: int = 1):
    """`count` images in [-1,1] from `generate(z, labels)` (labels None when unconditional)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    z = torch.randn(count, z_dim, generator=g)
    labels = torch.arange(10).repeat_interleave(count // 10 + 1)[:count]
    return generate(z, labels if conditional else None), labels


def companions(checkpoint: dict, exported, out, held_out) -> dict:
    """The companions of one export (training.export calls this): `exported` is the .onnx just
    written (maybe still under its temporary name), `out` where it is going. Returns the card's
    `companions` entry."""
    import torch

    kind, config = checkpoint["kind"], checkpoint["config"]
    out = Path(out)
    if kind == "cnn":
        cnn = build_cnn(config)
        cnn.load_state_dict(checkpoint["model"])
        return {"layers": write_layers(exported, layers_path(out), cnn.eval(), held_out.images[:64].numpy())}
    if "discriminator" not in checkpoint:
        return {"discriminator": None}
    discriminator = build_discriminator(config)
    discriminator.load_state_dict(checkpoint["discriminator"])
    discriminator.eval()
    session = _session(exported)
    z_dim = session.get_inputs()[0].shape[1]
    conditional = any(i.name == "label" for i in session.get_inputs())

    def generate(z, labels):
        feeds = {"z": z.numpy()} | ({"label": labels.numpy()} if labels is not None else {})
        return session.run(["image"], feeds)[0]

    fake, fake_labels = _generated(generate, z_dim, 500, conditional)
    real = (held_out.images[:500] * 2 - 1).numpy(), held_out.labels[:500].numpy()
    with torch.no_grad():
        return {"discriminator": write_discriminator(discriminator, config, discriminator_path(out), real, (fake, fake_labels.numpy()))}


# ---------------------------------------------------------------- shipped models without checkpoints

def fit_discriminator(gan_onnx, card: dict, steps: int = 1500, seed: int = 0) -> dict:
    """For a shipped generator whose checkpoint (and so its discriminator) is gone: train a fresh
    discriminator of the GAN's own architecture and loss against the frozen generator's samples and
    the real training digits, then export it beside `gan_onnx`. Its metadata `source` says so: it
    judges this generator's digits, but it is not the one that played the game."""
    import torch
    import torch.nn.functional as F

    from training import data

    config = card["config"]
    torch.manual_seed(seed)
    train_set, held_out = data.load(config["dataset"])
    session = _session(gan_onnx)
    z_dim = session.get_inputs()[0].shape[1]
    conditional = any(i.name == "label" for i in session.get_inputs())
    discriminator = build_discriminator(config).train()
    loss = loss_of(config)
    optimiser = torch.optim.Adam(discriminator.parameters(), lr=config.get("d_lr", 4e-4), betas=(0.0, 0.9))
    rng = np.random.default_rng(seed)
    batch = config.get("batch_size", 64)
    for step in range(steps):
        pick = rng.integers(0, len(train_set), batch)
        real, labels = train_set.images[pick] * 2 - 1, train_set.labels[pick]
        z = rng.standard_normal((batch, z_dim)).astype(np.float32)
        fake = torch.as_tensor(session.run(["image"], {"z": z} | ({"label": labels.numpy()} if conditional else {}))[0])
        # A quarter of the fakes are uniform noise: the game's discriminator met the generator's
        # early, noise-like digits; one fitted on a finished generator alone scored noise as real.
        fake[: batch // 4] = torch.rand(batch // 4, 1, 28, 28) * 2 - 1
        args = (torch.cat([real, fake]),) + ((torch.cat([labels, labels]),) if conditional else ())
        d_real, d_fake = discriminator(*args).reshape(-1).chunk(2)
        if loss == "bce":
            if _ends_in_sigmoid(discriminator):
                d_real, d_fake = torch.logit(d_real, 1e-6), torch.logit(d_fake, 1e-6)
            d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        else:
            d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        optimiser.zero_grad(set_to_none=True)
        d_loss.backward()
        optimiser.step()
    discriminator.eval()
    held_real = (held_out.images[:500] * 2 - 1).numpy(), held_out.labels[:500].numpy()

    def generate(z, labels):
        return session.run(["image"], {"z": z.numpy()} | ({"label": labels.numpy()} if labels is not None else {}))[0]

    fake, fake_labels = _generated(generate, z_dim, 500, conditional, seed=seed + 1)
    source = f"fitted after training: {steps} steps against the frozen generator and noise (the game's discriminator was not kept)"
    return write_discriminator(discriminator, config, discriminator_path(gan_onnx), held_real, (fake, fake_labels.numpy()), source)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.export.views", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    layers = sub.add_parser("layers", help="write <stem>.layers.onnx beside an exported CNN, from its graph")
    layers.add_argument("cnn", type=Path)
    fitted = sub.add_parser("fit-discriminator", help="fit and write <stem>.discriminator.onnx for a generator whose checkpoint is gone")
    fitted.add_argument("gan", type=Path)
    fitted.add_argument("--steps", type=int, default=1500)
    fitted.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.what == "layers":
            card_path, entry = args.cnn.with_suffix(".json"), "layers"
            figures = write_layers(args.cnn, images=_held_out_images())
        else:
            card_path, entry = args.gan.with_suffix(".json"), "discriminator"
            figures = fit_discriminator(args.gan, json.loads(card_path.read_text()), args.steps, args.seed)
        if card_path.is_file():  # the model card describes its companions too
            card = json.loads(card_path.read_text())
            card.setdefault("companions", {})[entry] = figures
            card_path.write_text(json.dumps(card, indent=2) + "\n")
    except (CompanionError, OSError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps(figures, indent=1))


def _held_out_images():
    try:
        from training import data

        return data.load("mnist-5k")[1].images[:64].numpy()
    except Exception:
        return None


if __name__ == "__main__":
    main()
