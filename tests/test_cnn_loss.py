"""The CNN's loss knob: cross-entropy or the primer's mean squared error on the softmax, the same
loop either way, and the held-out figures cross-entropy whichever trains."""
import pytest
import torch
import torch.nn.functional as F

from training import train_cnn


def test_mse_is_the_mean_squared_error_of_the_softmax_against_the_one_hot_label():
    logits, labels = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), torch.tensor([0, 1])
    p = logits.softmax(1)
    by_hand = ((p[0] - torch.tensor([1.0, 0, 0])) ** 2).sum() + ((p[1] - torch.tensor([0, 1.0, 0])) ** 2).sum()
    assert train_cnn.loss_of("mse", logits, labels).item() == pytest.approx(by_hand.item() / 6)  # mean of N x classes
    assert train_cnn.loss_of("ce", logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item())
    # label smoothing is cross-entropy's alone: mse is the same with or without it
    assert train_cnn.loss_of("mse", logits, labels, 0.1).item() == train_cnn.loss_of("mse", logits, labels).item()
    assert train_cnn.loss_of("ce", logits, labels, 0.1).item() != train_cnn.loss_of("ce", logits, labels).item()


def test_the_help_says_what_each_loss_is_and_that_label_smoothing_is_cross_entropys():
    from training import cli

    helped = " ".join(cli.build_parser("cnn", train_cnn.CNNConfig).format_help().split())  # as argparse wraps it
    assert "a CNN's cross-entropy (ce) or the primer's mean squared error of the softmax against the one-hot label (mse)" in helped
    assert "(ce, mse); default ce" in helped  # the CNN's own choices, not the GAN's
    assert "cross-entropy's label smoothing (mse ignores it); default: the arch's own (lab 0.1, seed 0.0)" in helped


@pytest.mark.slow
def test_mse_lowers_its_own_loss_and_is_held_out_on_cross_entropy():
    cfg = train_cnn.CNNConfig(arch="seed", loss="mse", max_steps=30, batch_size=32, device="cpu")
    events = list(train_cnn.train(cfg))
    losses = [e.losses["loss"] for e in events]
    assert losses[0] == pytest.approx(0.09, abs=0.01)  # a near-uniform softmax: (0.9^2 + 9 x 0.1^2) / 10
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses
    assert events[-1].metrics["held_out_loss"] > 0.1  # cross-entropy, not the small MSE
    assert events[-1].snapshot()["config"]["loss"] == "mse"
