"""The primer's networks (models/primer.py): shapes at batch 1 and 64, every activation, and a few
optimiser steps lowering each one's loss, as the primer's listings would if they could run."""
import pytest
import torch
import torch.nn.functional as F

from models import PrimerCNN, PrimerDiscriminator, PrimerGenerator
from models.activations import ACTIVATIONS
from training import knobs, train_gan


@pytest.mark.parametrize("n", [1, 64])
@pytest.mark.parametrize("act", knobs.ACTIVATIONS)
def test_primer_cnn_reads_any_batch_into_ten_logits(n, act):
    cnn = PrimerCNN(activation_name=act).eval()
    assert cnn(torch.rand(n, 1, 28, 28)).shape == (n, 10)
    assert cnn.embed(torch.rand(n, 1, 28, 28)).shape == (n, PrimerCNN.feature_dim)


def test_primer_cnn_is_the_listing():
    cnn = PrimerCNN()
    convs = [m for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in cnn.modules() if isinstance(m, torch.nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [(1, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (1, 1))]
    assert [(l.in_features, l.out_features) for l in linears] == [(64 * 7 * 7, 128), (128, 10)]
    assert cnn.head[0].p == 0.5
    assert sum(p.numel() for p in cnn.parameters()) * 4 < 10 * 2**20  # its ONNX file fits a Space without LFS


@pytest.mark.parametrize("n", [1, 64])
@pytest.mark.parametrize("act", knobs.ACTIVATIONS)
def test_primer_gan_makes_one_channel_digits_and_judges_each_with_one_score(n, act):
    generator, discriminator = PrimerGenerator(activation_name=act).eval(), PrimerDiscriminator()
    images = generator(torch.randn(n, 100))  # z [N,100]: viewed as [N,100,1,1] inside (the listing's 5-D view fixed)
    assert images.shape == (n, 1, 28, 28) and images.abs().max() <= 1
    assert generator.stem(torch.randn(n, 100)).shape == (n, 64, 7, 7)
    assert discriminator(images).shape == (n,)  # one logit per image, not a map
    assert not generator.conditional and not discriminator.conditional


def test_the_activation_knob_names_the_models_activations():
    assert set(knobs.ACTIVATIONS) == set(ACTIVATIONS)
    sigmoid = PrimerGenerator(activation_name="sigmoid")
    assert isinstance(sigmoid.act1, torch.nn.Sigmoid)
    with pytest.raises(ValueError, match="activation"):
        PrimerCNN(activation_name="elu")


def test_a_few_steps_lower_the_primer_cnns_loss():
    torch.manual_seed(0)
    cnn = PrimerCNN(dropout=0.0)
    images, labels = torch.rand(32, 1, 28, 28), torch.arange(32) % 10
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-3)
    before = F.cross_entropy(cnn(images), labels).item()
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(cnn(images), labels).backward()
        optimizer.step()
    assert F.cross_entropy(cnn(images), labels).item() < before


def test_a_few_steps_lower_each_side_of_the_primer_gans_loss():
    torch.manual_seed(0)
    generator, discriminator = PrimerGenerator(), PrimerDiscriminator()
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    z = torch.randn(16, 100)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=3e-4)
    fake = generator(z).detach()

    def d_loss():
        return train_gan.losses("bce", discriminator(real), discriminator(fake))

    before = d_loss().item()
    for _ in range(5):
        opt_d.zero_grad()
        d_loss().backward()
        opt_d.step()
    assert d_loss().item() < before
    opt_g = torch.optim.Adam(generator.parameters(), lr=3e-4)

    def g_loss():
        return train_gan.generator_loss("bce", discriminator(generator(z)))

    before = g_loss().item()
    for _ in range(5):
        opt_g.zero_grad()
        g_loss().backward()
        opt_g.step()
    assert g_loss().item() < before
