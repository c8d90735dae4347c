"""The primer's three activation functions, by the names the `activation` knob uses
(training/knobs.py lists the same names without torch):
ReLU max(0, x), Sigmoid 1/(1+e^-x), Tanh (e^x-e^-x)/(e^x+e^-x)."""
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()
