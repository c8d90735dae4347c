"""The digit classifier: a small VGG-style CNN with batch norm and global average pooling."""
import torch
from torch import nn

# MNIST's pixel statistics; the exported graph takes raw [0,1] pixels and normalises inside.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class DigitCNN(nn.Module):
    """[N,1,28,28] pixels in [0,1], white ink on black -> [N,10] logits."""

    feature_dim = 128

    def __init__(self, num_classes: int = 10, dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 32),  # [N,32,28,28]
            conv_block(32, 32),
            nn.MaxPool2d(2),  # [N,32,14,14]
            conv_block(32, 64),
            conv_block(64, 64),
            nn.MaxPool2d(2),  # [N,64,7,7]
            conv_block(64, 128),
            nn.AdaptiveAvgPool2d(1),  # [N,128,1,1]
            nn.Flatten(),  # [N,128]: the penultimate features the GAN metrics use
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(128, num_classes))

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.features((pixels - MNIST_MEAN) / MNIST_STD)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(pixels))
