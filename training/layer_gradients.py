"""Each weight layer's gradient norm while a CNN trains, input side to output side: so a run shows
where the gradient fades (the vanishing gradient of a Sigmoid network) rather than saying so.

Read from the .grad tensors the step's own backward left, before the optimiser step: no extra
backward, and a read only every few steps (one device sync for all the layers). The layers are
those with weights, Conv2d and Linear, in the modules' order (batch norm's scale is not one); a
layer's norm is that of all its own parameters' gradients, weight and bias, as /backprop_step
reports them (training/backprop.py). What a read returns is plain data (names, numbers), so it
crosses a ZeroGPU worker's pipe as it is."""
import torch
from torch import nn

EVERY = 5  # read every this many steps at least...
POINTS = 100  # ...and at most about this many times a run, so a long run's chart stays light


def kind_of(module: nn.Module) -> str | None:
    """conv, depthwise, pointwise or dense (the Inside view's words, locales `inside.stage.*`);
    None for a module without weights of its own."""
    if isinstance(module, nn.Conv2d):
        if module.groups > 1 and module.groups == module.in_channels:
            return "depthwise"
        return "pointwise" if module.kernel_size == (1, 1) else "conv"
    return "dense" if isinstance(module, nn.Linear) else None


class GradientNorms:
    """`due(step)` says whether step `step` is read; `read()` the norms now, input side first."""

    def __init__(self, model: nn.Module, total_steps: int):
        self.layers = [(name, kind_of(m), m) for name, m in model.named_modules() if kind_of(m)]
        self.total = total_steps
        self.every = max(EVERY, -(-total_steps // POINTS))

    def due(self, step: int) -> bool:
        return step == 1 or step % self.every == 0 or step == self.total

    @torch.no_grad()
    def read(self) -> list[dict]:
        """[{"name", "kind", "shape", "gradient_norm"}] a layer; a layer without gradients reads 0."""
        norms = []
        for _, _, module in self.layers:
            grads = [p.grad for p in module.parameters(recurse=False) if p.grad is not None]
            squares = [g.float().pow(2).sum() for g in grads]
            norms.append(torch.stack(squares).sum().sqrt() if squares else torch.zeros((), device=_device(module)))
        values = torch.stack(norms).tolist() if norms else []  # one sync for them all
        return [{"name": name, "kind": kind, "shape": list(module.weight.shape), "gradient_norm": float(value)}
                for (name, kind, module), value in zip(self.layers, values)]


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device
