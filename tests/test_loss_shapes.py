"""The Train tab's chart of each loss and its gradient: its formulas are the training code's own
losses, differentiated by torch, and it speaks both languages."""
import html

import numpy as np
import pytest
import torch

from tabs.train import loss_shapes
from training import train_cnn, train_gan

PROBABILITIES = [0.02, 0.3, 0.9]


@pytest.mark.parametrize("p", PROBABILITIES)
def test_the_cnn_curves_are_the_loops_losses_and_their_gradient_by_the_right_digits_logit(p):
    shown = loss_shapes.cnn_curves(np.array([p]))
    for name in ("ce", "mse"):
        z = torch.tensor([[np.log(p)] + [np.log((1 - p) / 9)] * 9], dtype=torch.float64, requires_grad=True)
        loss = train_cnn.loss_of(name, z, torch.tensor([0]))
        loss.backward()
        assert shown[name][0] == pytest.approx(loss.item(), rel=1e-9)
        assert shown[f"{name}_gradient"][0] == pytest.approx(z.grad[0, 0].item(), rel=1e-9)


@pytest.mark.parametrize("d", PROBABILITIES)
def test_the_gan_curves_are_the_generators_losses_and_their_gradient_by_ds_logit(d):
    shown = loss_shapes.gan_curves(np.array([d]))
    a = torch.tensor([np.log(d / (1 - d))], dtype=torch.float64, requires_grad=True)  # D's logit: sigmoid(a) = d
    primer = train_gan.generator_loss("bce", a)  # the loop's: -log D(G(z))
    (gradient,) = torch.autograd.grad(primer, a)
    assert shown["g_primer"][0] == pytest.approx(primer.item()) and shown["g_primer_gradient"][0] == pytest.approx(gradient.item())
    minimax = torch.log(1 - torch.sigmoid(a)).sum()
    (gradient,) = torch.autograd.grad(minimax, a)
    assert shown["g_minimax"][0] == pytest.approx(minimax.item()) and shown["g_minimax_gradient"][0] == pytest.approx(gradient.item())


def test_the_charts_name_each_curve_in_both_languages():
    cnn, gan = (html.unescape(chart) for chart in loss_shapes.charts("en"))
    assert cnn.count('class="mark-line"') == 4 and "mean squared error L = (1 - p)²/9" in cnn and 'role="img"' in cnn
    assert "-log D(G(z)), the primer's L_G" in gan and "log(1 - D(G(z))), the minimax game's" in gan
    chinese = "".join(loss_shapes.charts("zh-CN"))
    assert "均方误差" in chinese and "交叉熵" in chinese and "极小极大博弈" in chinese
