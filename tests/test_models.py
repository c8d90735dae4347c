import torch

from models import DigitCNN, Discriminator, Generator


def test_cnn_maps_any_batch_of_digits_to_ten_logits():
    cnn = DigitCNN().eval()
    for n in (1, 7):
        assert cnn(torch.rand(n, 1, 28, 28)).shape == (n, 10)
    assert cnn.embed(torch.rand(3, 1, 28, 28)).shape == (3, DigitCNN.feature_dim)


def test_cnn_is_small_enough_for_a_space():
    assert sum(p.numel() for p in DigitCNN().parameters()) < 500_000


def test_generator_images_are_in_range_and_follow_the_label():
    torch.manual_seed(0)
    generator = Generator(z_dim=16, width=32).eval()
    z = torch.randn(10, 16)
    images = generator(z, torch.arange(10))
    assert images.shape == (10, 1, 28, 28) and images.abs().max() <= 1
    assert generator.stem(z, torch.arange(10)).shape == (10, 32, 7, 7)
    # the same latent with another label gives another image: the label conditions the output
    assert not torch.allclose(images, generator(z, torch.zeros(10, dtype=torch.long)))


def test_discriminator_scores_each_image_and_reads_the_label():
    torch.manual_seed(0)
    discriminator = Discriminator(width=8)
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    scores = discriminator(images, torch.tensor([0, 1, 2, 3]))
    assert scores.shape == (4,)
    assert not torch.allclose(scores, discriminator(images, torch.tensor([9, 9, 9, 9])))
