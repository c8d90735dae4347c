"""The class-conditional GAN: a generator with class-conditional batch norm and a projection
discriminator (Miyato & Koyama, 2018) with spectral norm on every layer."""
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from models.activations import activation


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose gain and bias are chosen by the class label."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.gain(label)[:, :, None, None] + self.bias(label)[:, :, None, None]


class UpBlock(nn.Module):
    """Nearest-neighbour 2x upsample, then conv, conditional BN, the activation (ReLU by default)."""

    def __init__(self, c_in: int, c_out: int, num_classes: int, activation_name: str = "relu"):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm = ConditionalBatchNorm(c_out, num_classes)
        self.act = activation(activation_name)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(self.up(x)), label))


class Generator(nn.Module):
    """z [N,Z] standard normal, label [N] int64 -> image [N,1,28,28] in [-1,1]."""

    conditional = True

    def __init__(self, z_dim: int = 32, num_classes: int = 10, width: int = 96, activation_name: str = "relu"):
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.embed = nn.Embedding(num_classes, z_dim)
        self.project = nn.Linear(2 * z_dim, width * 7 * 7)  # [N,width*49]
        self.project_norm = ConditionalBatchNorm(width, num_classes)
        self.act = activation(activation_name)  # the `activation` knob: every hidden layer's
        self.up1 = UpBlock(width, width // 2, num_classes, activation_name)  # [N,width/2,14,14]
        self.up2 = UpBlock(width // 2, width // 4, num_classes, activation_name)  # [N,width/4,28,28]
        self.to_image = nn.Conv2d(width // 4, 1, 3, padding=1)  # [N,1,28,28]

    def stem(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The first feature map [N,width,7,7]; GANSpace reads its principal directions here."""
        x = self.project(torch.cat([z, self.embed(label)], dim=1)).view(-1, self.width, 7, 7)
        return self.act(self.project_norm(x, label))

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        x = self.up2(self.up1(self.stem(z, label), label), label)
        return torch.tanh(self.to_image(x))


class Discriminator(nn.Module):
    """image [N,1,28,28] in [-1,1], label [N] -> realness score [N] (hinge loss)."""

    conditional = True

    def __init__(self, num_classes: int = 10, width: int = 32):
        super().__init__()
        act = nn.LeakyReLU(0.2, inplace=True)
        self.body = nn.Sequential(
            spectral_norm(nn.Conv2d(1, width, 4, stride=2, padding=1)), act,  # [N,w,14,14]
            spectral_norm(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)), act,  # [N,2w,7,7]
            spectral_norm(nn.Conv2d(2 * width, 4 * width, 3, padding=1)), act,  # [N,4w,7,7]
        )
        # Global sum pooling, not average: with spectral norm bounding every layer, averaging over
        # the 7x7 positions would shrink the scores 49-fold and starve the hinge loss.
        self.score = spectral_norm(nn.Linear(4 * width, 1))
        self.project = spectral_norm(nn.Embedding(num_classes, 4 * width))

    def forward(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.body(image).sum(dim=(2, 3))  # [N,4w]
        return self.score(h).squeeze(1) + (self.project(label) * h).sum(dim=1)
