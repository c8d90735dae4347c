"""The discriminator companion, `<stem>.discriminator.onnx` beside a GAN's `<stem>.onnx`: input `image`
[N,1,28,28] in [-1,1] (and `label` int64 [N] when conditional), output `score` [N] (hinge: the raw
score; bce: the probability of "real"), metadata `loss`, `conditional`, `threshold`, `source` and
the mean scores on real and generated digits. Written from a checkpoint's discriminator, or fitted
afresh for a shipped generator whose checkpoint is gone."""
import copy
import inspect
from pathlib import Path

import numpy as np
import onnx

from training.export.companion_file import CompanionError, discriminator_path, open_session, set_metadata, write

SCORE_TOLERANCE = 1e-3  # relative to the scores' largest magnitude


def _plain(module):
    """A copy in eval mode, with spectral norm's power iteration off (eval mode): the exported graph
    computes the normalised weights as they are at the end of training. (Parametrizations are not
    removed: that deletes the property from a class the original shares.)"""
    return copy.deepcopy(module).eval()


def is_conditional(discriminator) -> bool:
    return len(inspect.signature(discriminator.forward).parameters) >= 2


def _ends_in_sigmoid(discriminator) -> bool:
    import torch

    leaves = [m for m in discriminator.modules() if not list(m.children())]
    return bool(leaves) and isinstance(leaves[-1], torch.nn.Sigmoid)


def scored(discriminator, loss: str):
    """The discriminator as the companion computes it: one score per image; for bce the probability
    of "real" (a sigmoid added unless the model ends in one)."""
    import torch

    conditional = is_conditional(discriminator)
    squash = loss == "bce" and not _ends_in_sigmoid(discriminator)

    class Scored(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = discriminator

        def forward(self, image, label=None):
            score = (self.inner(image, label) if conditional else self.inner(image)).reshape(-1)
            return torch.sigmoid(score) if squash else score

    return Scored().eval()


def loss_of(config: dict) -> str:
    return config.get("loss") or ("bce" if config.get("arch") == "seed" else "hinge")


def write_discriminator(discriminator, config: dict, out, real, fake, source: str = "the GAN's own discriminator, from its checkpoint") -> dict:
    """Export `discriminator` (torch, loaded) to `out` with its metadata, parity-check it on `real`
    and `fake` ([N,1,28,28] in [-1,1], with labels when conditional: tuples (images, labels)), and
    return figures for the model card."""
    import torch

    from training.export.onnx_file import to_onnx as _to_onnx

    out = Path(out)
    loss = loss_of(config)
    plain = _plain(discriminator)
    conditional = is_conditional(plain)
    model = scored(plain, loss)
    (real_images, real_labels), (fake_images, fake_labels) = real, fake
    example = (real_images[:2], real_labels[:2]) if conditional else (real_images[:2],)
    names = ["image", "label"] if conditional else ["image"]
    partial = out.with_name(out.name + ".export.tmp")
    try:
        _to_onnx(model, tuple(torch.as_tensor(e) for e in example), names, ["score"], partial)
        session = open_session(partial)

        def run(images, labels):
            feeds = {"image": np.asarray(images, np.float32)} | ({"label": np.asarray(labels, np.int64)} if conditional else {})
            return session.run(["score"], feeds)[0]

        with torch.no_grad():
            expected = torch.cat([model(torch.as_tensor(i), torch.as_tensor(l) if conditional else None)
                                  for i, l in ((real_images, real_labels), (fake_images, fake_labels))]).numpy()
        on_real, on_fake = run(real_images, real_labels), run(fake_images, fake_labels)
        got = np.concatenate([on_real, on_fake])
        worst = float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-6))
        if worst > SCORE_TOLERANCE:
            raise CompanionError(f"parity failed: discriminator scores differ from PyTorch by {worst:.2e} of their scale")
        threshold = 0.5 if loss == "bce" else 0.0
        figures = {
            "file": out.name, "loss": loss, "conditional": conditional, "source": source, "threshold": threshold,
            "score": "probability that the image is real" if loss == "bce" else "raw hinge score: real digits were pushed above +1, generated ones below -1",
            "parity_max_relative_difference": worst,
            "real_mean": float(on_real.mean()), "generated_mean": float(on_fake.mean()),
            "real_judged_real": float((on_real > threshold).mean()), "generated_judged_generated": float((on_fake <= threshold).mean()),
            "measured_on": {"real": len(on_real), "generated": len(on_fake)},
        }
        onnx_model = onnx.load(str(partial))
        set_metadata(onnx_model, {"loss": loss, "conditional": "true" if conditional else "false", "threshold": str(threshold),
                                   "source": source, "real_mean": f"{figures['real_mean']:.4f}", "generated_mean": f"{figures['generated_mean']:.4f}",
                                   "arch": str(config.get("arch", "lab"))})
        write(onnx_model, out)
    finally:
        partial.unlink(missing_ok=True)
    figures["size_bytes"] = out.stat().st_size
    return figures


def build_discriminator(config: dict):
    """The discriminator of the checkpoint's arch (imported here: the CLI's other commands need no training code)."""
    from training.train_gan import build_discriminator as build

    return build(config)



def generated(generate, z_dim: int, count: int, conditional: bool, seed: int = 1):
    """`count` images in [-1,1] from `generate(z, labels)` (labels None when unconditional)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    z = torch.randn(count, z_dim, generator=g)
    labels = torch.arange(10).repeat_interleave(count // 10 + 1)[:count]
    return generate(z, labels if conditional else None), labels



def fit_discriminator(gan_onnx, card: dict, steps: int = 1500, seed: int = 0) -> dict:
    """For a shipped generator whose checkpoint (and so its discriminator) is gone: train a fresh
    discriminator of the GAN's own architecture and loss against the frozen generator's samples and
    the real training digits, then export it beside `gan_onnx`. Its metadata `source` says so: it
    judges this generator's digits, but it is not the one that played the game."""
    import torch
    import torch.nn.functional as F

    from training import data

    config = card["config"]
    torch.manual_seed(seed)
    train_set, held_out = data.load(config["dataset"])
    session = open_session(gan_onnx)
    z_dim = session.get_inputs()[0].shape[1]
    conditional = any(i.name == "label" for i in session.get_inputs())
    discriminator = build_discriminator(config).train()
    loss = loss_of(config)
    optimiser = torch.optim.Adam(discriminator.parameters(), lr=config.get("d_lr", 4e-4), betas=(0.0, 0.9))
    rng = np.random.default_rng(seed)
    batch = config.get("batch_size", 64)
    for step in range(steps):
        pick = rng.integers(0, len(train_set), batch)
        real, labels = train_set.images[pick] * 2 - 1, train_set.labels[pick]
        z = rng.standard_normal((batch, z_dim)).astype(np.float32)
        fake = torch.as_tensor(session.run(["image"], {"z": z} | ({"label": labels.numpy()} if conditional else {}))[0])
        # A quarter of the fakes are uniform noise: the game's discriminator met the generator's
        # early, noise-like digits; one fitted on a finished generator alone scored noise as real.
        fake[: batch // 4] = torch.rand(batch // 4, 1, 28, 28) * 2 - 1
        args = (torch.cat([real, fake]),) + ((torch.cat([labels, labels]),) if conditional else ())
        d_real, d_fake = discriminator(*args).reshape(-1).chunk(2)
        if loss == "bce":
            if _ends_in_sigmoid(discriminator):
                d_real, d_fake = torch.logit(d_real, 1e-6), torch.logit(d_fake, 1e-6)
            d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        else:
            d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        optimiser.zero_grad(set_to_none=True)
        d_loss.backward()
        optimiser.step()
    discriminator.eval()
    held_real = (held_out.images[:500] * 2 - 1).numpy(), held_out.labels[:500].numpy()

    def generate(z, labels):
        return session.run(["image"], {"z": z.numpy()} | ({"label": labels.numpy()} if labels is not None else {}))[0]

    fake, fake_labels = generated(generate, z_dim, 500, conditional, seed=seed + 1)
    source = f"fitted after training: {steps} steps against the frozen generator and noise (the game's discriminator was not kept)"
    return write_discriminator(discriminator, config, discriminator_path(gan_onnx), held_real, (fake, fake_labels.numpy()), source)

