"""Train the class-conditional GAN: `python -m training.train_gan --epochs 60 --out checkpoints`,
or the primer's unconditional GAN (fixed, see models/primer.py): `python -m training.train_gan --arch seed`.

Hinge loss, spectral norm and a projection discriminator, DiffAugment-style translations of real
and fake alike, and an exponential moving average of the generator (the one that is exported).
`train()` is the one loop, a generator of Progress events shared by the CLI and the Train tab.
Each step updates the side training/turns.py names: D and G (a plain run with `--d-steps 1`), D
alone (the other steps of a D:G ratio), or, in a paused run, the side a visitor asks for."""
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from models import Discriminator, Generator, PrimerDiscriminator, PrimerGenerator
from training import augment, data, knobs, runtime
from training.runtime import Progress
from training.turns import Turns, by_ratio

GRID_SEED = 1234  # the fixed latent behind the sample grid, so epochs can be compared


@dataclass
class GANConfig:
    """Every field is a setting declared in training/knob_list.py (its bounds, both archs' values,
    its words); None (unset) takes the arch's own value there."""

    arch: str | None = None  # "lab": our conditional GAN (hinge, spectral norm); "seed": the primer's, unconditional
    dataset: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None  # the generator's Adam
    d_lr: float | None = None  # the discriminator's (lab: the two time-scale update rule)
    beta1: float | None = None  # lab (0, 0.9) as usual with spectral norm, seed Adam's defaults
    beta2: float | None = None
    loss: str | None = None  # "hinge" or "bce" (the primer's L_D and L_G)
    activation: str | None = None  # the generator's hidden layers
    z_dim: int | None = None
    g_width: int | None = None  # lab only; the primer's widths are fixed
    d_width: int | None = None
    ema: float | None = None  # the exported generator is this moving average
    augment: bool | None = None  # random translations before the discriminator
    d_steps: int | None = None  # the D:G ratio: discriminator steps a generator step
    seed: int | None = None
    device: str | None = None
    max_steps: int | None = None  # 0: no limit

    def __post_init__(self):
        knobs.settle(self, "gan")


def build_generator(config: dict) -> torch.nn.Module:
    """The generator a config describes (a checkpoint's; one from before the knobs existed is lab's)."""
    config = knobs.resolve("gan", config)
    if config["arch"] == "seed":
        return PrimerGenerator(z_dim=config["z_dim"], activation_name=config["activation"])
    return Generator(z_dim=config["z_dim"], width=config["g_width"], activation_name=config["activation"])


def build_discriminator(config: dict) -> torch.nn.Module:
    """One score (a logit) per image; a conditional one takes (image, label)."""
    config = knobs.resolve("gan", config)
    return PrimerDiscriminator() if config["arch"] == "seed" else Discriminator(width=config["d_width"])


def generate(generator: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Images [N,1,28,28] in [-1,1]; an unconditional generator is not told the labels."""
    return generator(z, labels) if runtime.unwrap(generator).conditional else generator(z)


def discriminate(discriminator: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return discriminator(images, labels) if runtime.unwrap(discriminator).conditional else discriminator(images)



def losses(loss: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its scores (logits) on a real and a generated batch."""
    if loss == "bce":  # the primer's L_D = -1/2 E[log D(x)] - 1/2 E[log(1 - D(G(z)))], D = sigmoid(logit)
        return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))) / 2
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()


def generator_loss(loss: str, d_fake: torch.Tensor) -> torch.Tensor:
    if loss == "bce":  # the listing's BCE(D(G(z)), 1), i.e. -E[log D(G(z))]
        return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
    return -d_fake.mean()


def score_units(loss: str, scores: torch.Tensor) -> torch.Tensor:
    """D's output as the Train tab shows it: a probability under BCE, the raw score under hinge."""
    return torch.sigmoid(scores) if loss == "bce" else scores


def pixel_gradients(discriminator: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """D's scores (logits) on `images` [N,1,28,28] in [-1,1], and each image's own dL_G/dx [N,28,28]:
    the gradient of its generator loss with respect to its pixels. The generator's next update moves
    its pixels along -dL_G/dx (through G's weights). D is read in eval mode (no spectral-norm power
    step) and left as it was."""
    x = images.detach().float().clone().requires_grad_(True)
    was_training, wanted = discriminator.training, [p.requires_grad for p in discriminator.parameters()]
    discriminator.eval().requires_grad_(False)
    try:
        with torch.enable_grad():
            scores = discriminate(discriminator, x, labels).float()
            (generator_loss(loss, scores) * len(x)).backward()  # the sum of each sample's own L_G
    finally:
        discriminator.train(was_training)
        for parameter, flag in zip(discriminator.parameters(), wanted):
            parameter.requires_grad_(flag)
    return scores.detach(), x.grad[:, 0]


def _weights(*modules: torch.nn.Module) -> list[list[torch.Tensor]]:
    return [[p.detach().clone() for p in module.parameters()] for module in modules]


def _moved(before: list[torch.Tensor], module: torch.nn.Module) -> float:
    """How far a step moved `module`'s weights (the norm of the change)."""
    return float(torch.sqrt(sum(((p.detach() - b).double() ** 2).sum() for p, b in zip(module.parameters(), before))))


def grid_latents(z_dim: int, device, per_digit: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed latents behind the sample grid (and labels: `per_digit` of each digit)."""
    g = torch.Generator().manual_seed(GRID_SEED)
    z = torch.randn(10 * per_digit, z_dim, generator=g).to(device)
    return z, torch.arange(10).repeat_interleave(per_digit).to(device)


def sample_grid(generator: torch.nn.Module, z_dim: int, device, per_digit: int = 10) -> torch.Tensor:
    """The fixed-latent grid, [10*per_digit,1,28,28] in [0,1]: `per_digit` samples of each digit
    for a conditional generator, 10*per_digit samples for an unconditional one."""
    z, labels = grid_latents(z_dim, device, per_digit)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        images = generate(generator, z, labels).float()
    generator.train(was_training)
    return (images + 1) / 2


def _default_judge():
    """The shipped classifier reads the samples at epoch ends (label fidelity), where there is one."""
    from training.metrics import SHIPPED_CNN, Judge

    try:
        return Judge(SHIPPED_CNN)
    except Exception:
        return None


def train(cfg: GANConfig, resume: dict | None = None, judge="default", phases=None,
          turns: Turns | None = None) -> Iterator[Progress]:
    """Train, yielding a Progress per step; `judge` reads the sample grid at epoch ends (None: no
    figures); `phases` (a runtime.Phases) times the parts of each step; `turns` (training/turns.py)
    names each step's side, and an asked step's event carries the generator's grid as it now is,
    with each sample's dL_G/dx, and how far each side's weights moved."""
    phase = phases or runtime.untimed
    rt = runtime.start(cfg.device, cfg.seed)
    train_set = data.load(cfg.dataset)[0].to(rt.device)
    judge = _default_judge() if judge == "default" else judge

    # Channels-last, as the CNNs: oneDNN's convolutions then skip a reorder of every activation (our
    # GAN's step 1.2-1.6x faster in four paired rounds on 1 shared thread, the primer's 1.1x median).
    generator = runtime.place(build_generator(asdict(cfg)), rt.device, channels_last=True)
    discriminator = runtime.place(build_discriminator(asdict(cfg)), rt.device, channels_last=True)
    ema = runtime.moving_average(generator, cfg.ema) if cfg.ema else None
    served = ema.module if ema else generator  # the generator that is sampled and exported
    opt_g = runtime.adam(generator, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = runtime.adam(discriminator, lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))
    per_epoch = data.steps_per_epoch(train_set, cfg.batch_size, rt.world)
    total = per_epoch * cfg.epochs if not cfg.max_steps else min(cfg.max_steps, per_epoch * cfg.epochs)
    step, metrics, history = 0, {}, []  # history: the held-out figures at each epoch's end, with the time
    if resume:
        generator.load_state_dict(resume["generator"])
        discriminator.load_state_dict(resume["discriminator"])
        if ema and "ema" in resume:
            ema.load_state_dict(resume["ema"])
        opt_g.load_state_dict(resume["optimizer_g"])
        opt_d.load_state_dict(resume["optimizer_d"])
        step, metrics, history = resume["step"], resume.get("metrics", {}), list(resume.get("history", []))
        rt.started -= resume.get("seconds", 0.0)  # the run's clock goes on from where it stopped
    g_net, d_net = rt.wrap(generator), rt.wrap(discriminator)
    maybe_augment = augment.translate if cfg.augment else (lambda images: images)

    def checkpoint(step: int, metrics: dict) -> dict:
        return {
            "kind": "gan", "model": served.state_dict(),  # the exported generator: the moving average, if any
            "generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
            "optimizer_g": opt_g.state_dict(), "optimizer_d": opt_d.state_dict(),
            "config": asdict(cfg), "step": step, "metrics": metrics, "world_size": rt.world,
            "seconds": rt.elapsed(), "history": list(history), **({"ema": ema.state_dict()} if ema else {}),
        }

    def game_grid(shown: torch.nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`shown`'s grid (samples [100,28,28] in [0,1]), D's scores on it, each sample's dL_G/dx."""
        _, labels = grid_latents(cfg.z_dim, rt.device)
        images = sample_grid(shown, cfg.z_dim, rt.device)
        scores, gradients = pixel_gradients(discriminator, images * 2 - 1, labels, cfg.loss)
        return images[:, 0].cpu().numpy(), score_units(cfg.loss, scores).cpu().numpy(), gradients.cpu().numpy()

    def judge_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """The exported generator's grid, D's scores and dL_G/dx on it, and what the judge reads."""
        samples, scores, gradients = game_grid(served)
        labels, figures = grid_latents(cfg.z_dim, rt.device)[1].cpu().numpy(), {}
        if judge is not None and generator.conditional:
            figures["label_fidelity"] = judge.fidelity(samples[:, None], labels)
        elif judge is not None:
            figures["confident_share"] = judge.confident_share(samples[:, None])
        return samples, scores, gradients, figures

    with runtime.reused_buffers(rt.device):
        for epoch in range(step // per_epoch, cfg.epochs):
            done_this_epoch = step - epoch * per_epoch
            batches = data.batches(train_set, cfg.batch_size, cfg.seed, epoch, rt.rank, rt.world)
            for index, (real, labels) in enumerate(runtime.timed(batches, phase, "data")):
                if index < done_this_epoch:
                    continue
                with phase("data"):
                    real = real * 2 - 1  # the real batch: digits [N,1,28,28] in [-1,1], as tanh makes (FIX 7 in models/primer.py)
                    z = torch.randn(len(labels), cfg.z_dim, device=rt.device)
                # This step's side (training/turns.py): D, G or both; the other side is only read.
                side, asked = turns.side(step, cfg.d_steps) if turns else (by_ratio(step, cfg.d_steps), False)
                update_d, update_g = side != "g", side != "d"
                before = _weights(generator, discriminator) if asked else None
                with phase("forward"), rt.autocast, torch.set_grad_enabled(update_g):
                    fake = generate(g_net, z, labels)
                with phase("augment"), rt.autocast:
                    seen = maybe_augment(torch.cat([real, fake.detach()]))
                with phase("forward"), rt.autocast, torch.set_grad_enabled(update_d):
                    d_real, d_fake = discriminate(d_net, seen, torch.cat([labels, labels])).float().chunk(2)
                    d_loss = losses(cfg.loss, d_real, d_fake)
                if update_d:
                    with phase("backward"):
                        opt_d.zero_grad(set_to_none=True)
                        d_loss.backward()
                    with phase("optimiser"):
                        opt_d.step()
                with phase("augment"), rt.autocast:
                    seen = maybe_augment(fake)
                # The generator's step needs D's gradient for the images only: D's own weights would get
                # gradients the next step throws away, so they are frozen, and D is called unwrapped
                # (under torchrun there is nothing of D's to all-reduce).
                discriminator.requires_grad_(False)
                with phase("forward"), rt.autocast, torch.set_grad_enabled(update_g):
                    g_loss = generator_loss(cfg.loss, discriminate(discriminator, seen, labels).float())
                if update_g:
                    with phase("backward"):
                        opt_g.zero_grad(set_to_none=True)
                        g_loss.backward()
                discriminator.requires_grad_(True)
                if update_g:
                    with phase("optimiser"):
                        opt_g.step()
                    if ema:
                        with phase("ema"):
                            ema.update_parameters(generator)
                step += 1

                last = step == total
                epoch_end = last or index == per_epoch - 1
                samples = sample_scores = sample_gradients = turn = None
                if epoch_end:
                    with phase("eval"):
                        samples, sample_scores, sample_gradients, metrics = judge_grid()
                if asked:  # a visitor's step: the generator being trained (not its average), as it now is
                    samples, sample_scores, sample_gradients = game_grid(generator)
                    turn = {"side": side, "moved": {"generator": _moved(before[0], generator),
                                                    "discriminator": _moved(before[1], discriminator)}}
                if epoch_end:
                    history.append({"epoch": epoch + 1, "step": step, "seconds": round(rt.elapsed(), 1), **metrics})
                with phase("events"):
                    step_losses = {
                        "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                        "d_real": score_units(cfg.loss, d_real.detach()).mean().item(),
                        "d_fake": score_units(cfg.loss, d_fake.detach()).mean().item(),
                    }
                    event = Progress(
                        step, total, epoch + 1, step_losses, rt.elapsed(), lambda s=step, m=metrics: checkpoint(s, m),
                        epoch_end=epoch_end, metrics=metrics if epoch_end else {}, samples=samples, sample_scores=sample_scores,
                        sample_gradients=sample_gradients, turn=turn,
                    )
                yield event
                if last:
                    return


if __name__ == "__main__":
    from training import cli

    cli.main("gan", GANConfig, train)
