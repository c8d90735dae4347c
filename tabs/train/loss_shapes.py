"""Why the loss function matters, drawn: each loss the Train tab offers, and its gradient, against
the probability it judges (the CNN's p of the right digit; the GAN's D(G(z))).

The gradient is the one backpropagation sends into the network: with respect to the right digit's
logit z (the CNN), or the discriminator's logit a (the generator's losses). The CNN's mean squared
error is the loop's (training.train_cnn.loss_of: the mean over the ten classes of (p_k - y_k)^2)
with the other nine digits sharing 1 - p evenly; tests/test_loss_shapes.py holds these formulas to
torch's autograd of the training code's own losses. Plain numpy: the tab imports no torch.
"""
import numpy as np

from locales import text
from tabs.train import plots as train_plots

P = np.round(np.arange(0.02, 0.995, 0.01), 2)  # the probability axis (p = 0 is -log's infinity)


def cnn_curves(p: np.ndarray) -> dict[str, np.ndarray]:
    """Cross-entropy and mean squared error for one digit, and each one's dL/dz of the right digit's logit."""
    return {"ce": -np.log(p), "ce_gradient": p - 1, "mse": (1 - p) ** 2 / 9, "mse_gradient": -2 / 9 * p * (1 - p) ** 2}


def gan_curves(d: np.ndarray) -> dict[str, np.ndarray]:
    """The generator's two losses for one fake, D = D(G(z)) = sigmoid(a), and each one's dL/da."""
    return {"g_primer": -np.log(d), "g_primer_gradient": d - 1, "g_minimax": np.log(1 - d), "g_minimax_gradient": -d}


COLOURS = {"ce": "#1f77b4", "ce_gradient": "#1f77b4", "mse": "#ff7f0e", "mse_gradient": "#ff7f0e",
           "g_primer": "#2ca02c", "g_primer_gradient": "#2ca02c", "g_minimax": "#d62728", "g_minimax_gradient": "#d62728"}


def _chart(curves: dict, which: str, lang: str) -> str:
    series = [{"name": text(f"train.shapes.{key}", lang), "colour": COLOURS[key], "dashed": key.endswith("_gradient"),
               "points": [(float(x), float(y)) for x, y in zip(P, values)]} for key, values in curves.items()]
    return train_plots.line_chart(series, text(f"train.shapes.{which}.title", lang), text(f"train.shapes.{which}.x", lang),
                                  text("train.shapes.y", lang), text("train.plot.empty", lang), chart_id=f"train-shapes-{which}")


def charts(lang: str) -> tuple[str, str]:
    """The CNN's chart and the GAN's, in `lang`."""
    return _chart(cnn_curves(P), "cnn", lang), _chart(gan_curves(P), "gan", lang)
