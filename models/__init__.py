"""Torch modules only: architectures, no training code."""
from models.cnn import DigitCNN
from models.gan import Discriminator, Generator

__all__ = ["DigitCNN", "Generator", "Discriminator"]
