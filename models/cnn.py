"""The digit classifier: a small MobileNet-style CNN (depthwise-separable convolutions, batch norm,
global average pooling).

Separable convolutions do a 3x3 conv's job with about a ninth of its arithmetic. onnxruntime runs
them fast (0.1 ms a digit on one core), where PyTorch eager's depthwise kernels are slow; the
served model is the ONNX export, so the choice is made for it (benchmarks/runtimes.py)."""
import torch
from torch import nn

from models.activations import activation

# MNIST's pixel statistics; the exported graph takes raw [0,1] pixels and normalises inside.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def conv_bn_act(c_in: int, c_out: int, kernel: int = 3, groups: int = 1, act: str = "relu") -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out), activation(act)]


def separable(c_in: int, c_out: int, act: str = "relu") -> list[nn.Module]:
    """A 3x3 depthwise conv (each channel on its own), then a 1x1 conv that mixes the channels."""
    return conv_bn_act(c_in, c_in, 3, groups=c_in, act=act) + conv_bn_act(c_in, c_out, 1, act=act)


class DigitCNN(nn.Module):
    """[N,1,28,28] pixels in [0,1], white ink on black -> [N,10] logits."""

    feature_dim = 128

    def __init__(self, num_classes: int = 10, dropout: float = 0.2, activation_name: str = "relu"):
        super().__init__()
        a = activation_name  # the `activation` knob: every hidden layer's
        self.features = nn.Sequential(
            *conv_bn_act(1, 32, act=a),  # [N,32,28,28]
            *separable(32, 32, a),
            nn.MaxPool2d(2),  # [N,32,14,14]
            *separable(32, 64, a),
            *separable(64, 64, a),
            nn.MaxPool2d(2),  # [N,64,7,7]
            *separable(64, 128, a),
            *separable(128, 128, a),
            nn.AdaptiveAvgPool2d(1),  # [N,128,1,1]
            nn.Flatten(),  # [N,128]: the penultimate features the GAN metrics use
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(128, num_classes))

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.features((pixels - MNIST_MEAN) / MNIST_STD)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(pixels))
