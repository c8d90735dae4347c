"""Train the digit classifier: `python -m training.train_cnn --epochs 12 --out checkpoints`.

`train()` is the one training loop, a generator of Progress events: the CLI below draws them as a
progress bar, the app's Train tab as live plots. Stopping is the consumer closing the generator."""
from dataclasses import asdict, dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from models import DigitCNN
from training import augment, data, fonts, runtime
from training.runtime import Progress


@dataclass
class CNNConfig:
    dataset: str = "mnist-5k"
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-2  # the one-cycle schedule's peak (AdamW)
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    augment: bool = True  # canvas-like pens, slants, sizes and shifts
    canvas_share: float = 0.5  # of each batch, the share redrawn canvas-like; the rest stay as written
    typed_digits: bool = True  # also learn the digits typed in matplotlib's fonts (digit data sets only)
    ema: float = 0.99  # decay of the weights' moving average that is evaluated and exported; 0 means none
    seed: int = 0
    device: str = "auto"
    max_steps: int = 0  # stop after this many optimiser steps; 0 means no limit

    def __post_init__(self):
        if self.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(data.DATASETS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_steps < 0 or self.seed < 0:
            raise ValueError("epochs and batch size must be at least 1, max steps and seed at least 0")
        if not 0 < self.lr <= 1 or not 0 <= self.label_smoothing < 1 or self.weight_decay < 0:
            raise ValueError("lr must be in (0, 1], label smoothing in [0, 1), weight decay at least 0")
        if not 0 <= self.canvas_share <= 1 or not 0 <= self.ema < 1:
            raise ValueError("canvas share must be in [0, 1], ema in [0, 1)")


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: data.Split, batch_size: int = 500) -> dict[str, float]:
    """Held-out loss and accuracy of an unwrapped model."""
    was_training = model.training
    model.eval()
    loss, correct = 0.0, 0
    for start in range(0, len(split), batch_size):
        images, labels = split.images[start : start + batch_size], split.labels[start : start + batch_size]
        logits = model(images).float()
        loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    model.train(was_training)
    return {"held_out_loss": loss / len(split), "held_out_accuracy": correct / len(split)}


def train(cfg: CNNConfig, resume: dict | None = None, extra: data.Split | None = None) -> Iterator[Progress]:
    """Train, yielding a Progress per step. `resume` continues a checkpoint; `extra` adds examples
    (the Draw tab's corrections) to the training set, repeated so they count."""
    rt = runtime.start(cfg.device, cfg.seed)
    train_set, held_out = data.load(cfg.dataset)
    if extra is not None and len(extra):
        train_set = train_set.plus(extra, times=max(1, len(train_set) // (20 * len(extra))))  # about 5% of each epoch
    if cfg.typed_digits and cfg.dataset in data.DIGITS:
        train_set = train_set.plus(fonts.typed_digits())
    train_set, held_out = train_set.to(rt.device), held_out.to(rt.device)

    model = DigitCNN().to(rt.device)
    average = runtime.moving_average(model, cfg.ema) if cfg.ema else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = data.steps_per_epoch(train_set, cfg.batch_size, rt.world)
    total = per_epoch * cfg.epochs if not cfg.max_steps else min(cfg.max_steps, per_epoch * cfg.epochs)
    step, metrics, history = 0, {}, []  # history: the held-out figures at each epoch's end, with the time
    if resume:
        model.load_state_dict(resume.get("trained", resume["model"]))
        if average and "average" in resume:
            average.load_state_dict(resume["average"])
        optimizer.load_state_dict(resume["optimizer"])
        step, metrics, history = resume["step"], resume.get("metrics", {}), list(resume.get("history", []))
        rt.started -= resume.get("seconds", 0.0)  # the run's clock goes on from where it stopped
    # Built after a resume's optimiser state, positioned at its step: a resumed run may also be
    # longer than the first one (more --epochs or --max-steps), and the cycle stretches to fit.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, last_epoch=step - 1)
    net = rt.wrap(model)
    served = average.module if average else model  # what is evaluated and exported

    def checkpoint(step: int, metrics: dict) -> dict:
        return {
            "kind": "cnn", "model": served.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": schedule.state_dict(), "config": asdict(cfg), "step": step, "metrics": metrics,
            "world_size": rt.world, "seconds": rt.elapsed(), "history": list(history),
            **({"trained": model.state_dict(), "average": average.state_dict()} if average else {}),
        }

    for epoch in range(step // per_epoch, cfg.epochs):
        done_this_epoch = step - epoch * per_epoch  # non-zero only when resuming mid-epoch
        for index, (images, labels) in enumerate(data.batches(train_set, cfg.batch_size, cfg.seed, epoch, rt.rank, rt.world)):
            if index < done_this_epoch:
                continue
            if cfg.augment:
                images = augment.canvas_like(images, cfg.canvas_share)
            with rt.autocast:
                logits = net(images)
                loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if average:
                average.update_parameters(model)
            step += 1
            losses = {"loss": loss.item(), "accuracy": (logits.argmax(1) == labels).float().mean().item()}
            last = step == total
            epoch_end = last or index == per_epoch - 1
            if epoch_end:
                metrics = evaluate(served, held_out)
                history.append({"epoch": epoch + 1, "step": step, "seconds": round(rt.elapsed(), 1), **metrics})
            yield Progress(
                step, total, epoch + 1, losses, rt.elapsed(), lambda s=step, m=metrics: checkpoint(s, m),
                epoch_end=epoch_end, metrics=metrics if epoch_end else {},
            )
            if last:
                return


if __name__ == "__main__":
    from training import cli

    cli.main("cnn", CNNConfig, train)
