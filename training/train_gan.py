"""Train the class-conditional GAN: `python -m training.train_gan --epochs 60 --out checkpoints`.

Hinge loss, spectral norm and a projection discriminator, DiffAugment-style translations of real
and fake alike, and an exponential moving average of the generator (the one that is exported).
`train()` is the one loop, a generator of Progress events shared by the CLI and the Train tab."""
from dataclasses import asdict, dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from models import Discriminator, Generator
from training import augment, data, runtime
from training.runtime import Progress

GRID_SEED = 1234  # the fixed latent behind the sample grid, so epochs can be compared


@dataclass
class GANConfig:
    dataset: str = "mnist-5k"
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-4  # the generator's Adam; betas (0, 0.9) as usual with spectral norm
    d_lr: float = 4e-4  # the discriminator learns faster (two time-scale update rule)
    z_dim: int = 32
    g_width: int = 96
    d_width: int = 48
    ema: float = 0.999
    augment: bool = True  # random translations before the discriminator
    seed: int = 0
    device: str = "auto"
    max_steps: int = 0  # stop after this many optimiser steps; 0 means no limit

    def __post_init__(self):
        if self.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(data.DATASETS)}")
        if min(self.epochs, self.batch_size, self.z_dim, self.g_width, self.d_width) < 1:
            raise ValueError("epochs, batch size, z dim and widths must be at least 1")
        if self.max_steps < 0 or self.seed < 0 or not (0 < self.lr <= 1 and 0 < self.d_lr <= 1) or not 0 <= self.ema < 1:
            raise ValueError("max steps and seed must be at least 0, lr and d lr in (0, 1], ema in [0, 1)")
        if self.g_width % 4:
            raise ValueError("g width must be a multiple of 4")


def build_generator(config: dict) -> Generator:
    return Generator(z_dim=config["z_dim"], width=config["g_width"])


def sample_grid(generator: torch.nn.Module, z_dim: int, device, per_digit: int = 10) -> torch.Tensor:
    """The fixed-latent grid: `per_digit` samples of each digit, [10*per_digit,1,28,28] in [0,1]."""
    g = torch.Generator().manual_seed(GRID_SEED)
    z = torch.randn(10 * per_digit, z_dim, generator=g).to(device)
    labels = torch.arange(10).repeat_interleave(per_digit).to(device)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        images = generator(z, labels).float()
    generator.train(was_training)
    return (images + 1) / 2


def _default_judge():
    """The shipped classifier reads the samples at epoch ends (label fidelity), where there is one."""
    from training.metrics import SHIPPED_CNN, Judge

    try:
        return Judge(SHIPPED_CNN)
    except Exception:
        return None


def train(cfg: GANConfig, resume: dict | None = None, judge="default") -> Iterator[Progress]:
    rt = runtime.start(cfg.device, cfg.seed)
    train_set = data.load(cfg.dataset)[0].to(rt.device)
    judge = _default_judge() if judge == "default" else judge

    generator = build_generator(asdict(cfg)).to(rt.device)
    discriminator = Discriminator(width=cfg.d_width).to(rt.device)
    ema = runtime.moving_average(generator, cfg.ema)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.d_lr, betas=(0.0, 0.9))
    per_epoch = data.steps_per_epoch(train_set, cfg.batch_size, rt.world)
    total = per_epoch * cfg.epochs if not cfg.max_steps else min(cfg.max_steps, per_epoch * cfg.epochs)
    step, metrics, history = 0, {}, []  # history: the held-out figures at each epoch's end, with the time
    if resume:
        generator.load_state_dict(resume["generator"])
        discriminator.load_state_dict(resume["discriminator"])
        ema.load_state_dict(resume["ema"])
        opt_g.load_state_dict(resume["optimizer_g"])
        opt_d.load_state_dict(resume["optimizer_d"])
        step, metrics, history = resume["step"], resume.get("metrics", {}), list(resume.get("history", []))
        rt.started -= resume.get("seconds", 0.0)  # the run's clock goes on from where it stopped
    g_net, d_net = rt.wrap(generator), rt.wrap(discriminator)
    maybe_augment = augment.translate if cfg.augment else (lambda images: images)

    def checkpoint(step: int, metrics: dict) -> dict:
        return {
            "kind": "gan", "model": ema.module.state_dict(),  # the exported generator: the moving average
            "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
            "ema": ema.state_dict(), "optimizer_g": opt_g.state_dict(), "optimizer_d": opt_d.state_dict(),
            "config": asdict(cfg), "step": step, "metrics": metrics, "world_size": rt.world,
            "seconds": rt.elapsed(), "history": list(history),
        }

    for epoch in range(step // per_epoch, cfg.epochs):
        done_this_epoch = step - epoch * per_epoch
        for index, (real, labels) in enumerate(data.batches(train_set, cfg.batch_size, cfg.seed, epoch, rt.rank, rt.world)):
            if index < done_this_epoch:
                continue
            real = real * 2 - 1
            z = torch.randn(len(labels), cfg.z_dim, device=rt.device)
            with rt.autocast:
                fake = g_net(z, labels)
                scores = d_net(maybe_augment(torch.cat([real, fake.detach()])), torch.cat([labels, labels]))
                d_real, d_fake = scores.float().chunk(2)
                d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            with rt.autocast:
                g_loss = -d_net(maybe_augment(fake), labels).float().mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            ema.update_parameters(generator)
            step += 1

            last = step == total
            epoch_end = last or index == per_epoch - 1
            samples = None
            if epoch_end:
                grid = sample_grid(ema.module, cfg.z_dim, rt.device)
                samples = grid[:, 0].cpu().numpy()
                if judge is not None:
                    metrics = {"label_fidelity": judge.fidelity(samples[:, None], torch.arange(10).repeat_interleave(10).numpy())}
                history.append({"epoch": epoch + 1, "step": step, "seconds": round(rt.elapsed(), 1), **metrics})
            losses = {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
            yield Progress(
                step, total, epoch + 1, losses, rt.elapsed(), lambda s=step, m=metrics: checkpoint(s, m),
                epoch_end=epoch_end, metrics=metrics if epoch_end else {}, samples=samples,
            )
            if last:
                return


if __name__ == "__main__":
    from training import cli

    cli.main("gan", GANConfig, train)
