"""The primer's two networks (its section 4 listings), runnable: `--arch seed` in the training scripts.

The CNN is the listing's own layers. The GAN is the listing's with its errors fixed and nothing
else changed that need not be; every fix is marked FIX below and listed in the README:

1. z is viewed as [N,100,1,1]: the listing's `z.view(-1, 100, 1, 1, 1)` is 5-D, which
   ConvTranspose2d refuses.
2. The generator's first layer spreads z over 7x7 (kernel 7, padding 0) instead of 2x2 (kernel 4,
   padding 1): the listing's layers grow 1 -> 2 -> 4 -> 8 pixels, and digits are 28x28
   (7 -> 14 -> 28 with the two stride-2 layers kept as written).
3. One channel out of the generator and into the discriminator, not three: digits are grey.
4. The discriminator returns one score per image: the mean of its 5x5 map of logits (the listing
   returns the map itself, so BCE compared a map, not a verdict per image).
5. The sigmoid + BCE of the listing is computed as BCE on logits (the same numbers, stable at
   saturation); the discriminator returns the logit, so the loop can also use our hinge loss.
6. The listing stacks its layers with no activation between them, which makes each network one
   linear map (and a linear discriminator can only compare the average image). The generator's
   hidden layers take the `activation` knob (ReLU by default, the primer's CNN's choice); the
   discriminator's take LeakyReLU(0.2), as in DCGAN, which the listing follows otherwise.
(7. the "real" batch is real 1x28x28 digits in [-1,1], not 64x64 noise: that is the training loop's.)

The GAN is unconditional, as in the primer: it is not told which digit to draw.
"""
import torch
from torch import nn

from models.activations import activation
from models.cnn import MNIST_MEAN, MNIST_STD


class PrimerCNN(nn.Module):
    """The primer's CNN. [N,1,28,28] pixels in [0,1], white ink on black -> [N,10] logits.
    Normalisation to MNIST's statistics happens inside, as in DigitCNN, so both export alike."""

    feature_dim = 128

    def __init__(self, num_classes: int = 10, dropout: float = 0.5, activation_name: str = "relu"):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1), activation(activation_name),  # [N,32,28,28]
            nn.MaxPool2d(kernel_size=2, stride=2),  # [N,32,14,14]
            nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1), activation(activation_name),  # [N,64,14,14]
            nn.MaxPool2d(kernel_size=2, stride=2),  # [N,64,7,7]
            nn.Flatten(),  # [N,3136], the listing's x.view(-1, 64*7*7)
            nn.Linear(64 * 7 * 7, 128), activation(activation_name),  # [N,128]: the penultimate features
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(128, num_classes))  # [N,10]

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.features((pixels - MNIST_MEAN) / MNIST_STD)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(pixels))


class PrimerGenerator(nn.Module):
    """The primer's generator, fixed. z [N,Z] standard normal -> image [N,1,28,28] in [-1,1].
    Unconditional: no label."""

    conditional = False

    def __init__(self, z_dim: int = 100, activation_name: str = "relu"):
        super().__init__()
        self.z_dim = z_dim
        # FIX 2: kernel 7, padding 0 (listing: kernel 4, padding 1, which makes 2x2 from 1x1)
        self.conv1 = nn.ConvTranspose2d(z_dim, 4 * 4 * 4, kernel_size=7, stride=1, padding=0)  # [N,64,7,7]
        self.conv2 = nn.ConvTranspose2d(4 * 4 * 4, 4 * 2 * 2, kernel_size=4, stride=2, padding=1)  # [N,16,14,14]
        self.conv3 = nn.ConvTranspose2d(4 * 2 * 2, 4 * 1 * 1, kernel_size=4, stride=2, padding=1)  # [N,4,28,28]
        self.conv4 = nn.Conv2d(4 * 1 * 1, 1, kernel_size=3, stride=1, padding=1)  # FIX 3: 1 channel [N,1,28,28]
        self.act1, self.act2, self.act3 = (activation(activation_name) for _ in range(3))  # FIX 6
        self.tanh = nn.Tanh()

    def stem(self, z: torch.Tensor) -> torch.Tensor:
        """The first feature map [N,64,7,7]."""
        return self.act1(self.conv1(z.view(-1, self.z_dim, 1, 1)))  # FIX 1: 4-D, not z.view(-1, 100, 1, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.act2(self.conv2(self.stem(z)))
        x = self.act3(self.conv3(x))
        return self.tanh(self.conv4(x))


class PrimerDiscriminator(nn.Module):
    """The primer's discriminator, fixed. image [N,1,28,28] in [-1,1] -> one logit per image [N]
    (sigmoid of it: the probability the image is real)."""

    conditional = False

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4 * 4 * 4, kernel_size=4, stride=1, padding=1)  # FIX 3: 1 channel in; [N,64,27,27]
        self.conv2 = nn.Conv2d(4 * 4 * 4, 4 * 2 * 2, kernel_size=4, stride=2, padding=1)  # [N,16,13,13]
        self.conv3 = nn.Conv2d(4 * 2 * 2, 4 * 1 * 1, kernel_size=4, stride=2, padding=1)  # [N,4,6,6]
        self.conv4 = nn.Conv2d(4 * 1 * 1, 1, kernel_size=4, stride=1, padding=1)  # [N,1,5,5]
        self.act = nn.LeakyReLU(0.2)  # FIX 6

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(image))
        x = self.act(self.conv2(x))
        x = self.act(self.conv3(x))
        # FIX 4 and 5: one logit per image, the mean of the map; the sigmoid is in the BCE loss
        return self.conv4(x).mean(dim=(1, 2, 3))  # [N]
