"""Torch modules only: architectures, no training code."""
from models.cnn import DigitCNN
from models.gan import Discriminator, Generator
from models.primer import PrimerCNN, PrimerDiscriminator, PrimerGenerator

__all__ = ["DigitCNN", "Generator", "Discriminator", "PrimerCNN", "PrimerGenerator", "PrimerDiscriminator"]
