"""Train the digit classifier: `python -m training.train_cnn --out checkpoints`, or the
primer's CNN with the primer's recipe: `python -m training.train_cnn --arch seed --out checkpoints`;
`--loss mse` trains on the primer's mean squared error instead of cross-entropy.

`train()` is the one training loop, a generator of Progress events: the CLI below draws them as a
progress bar, the app's Train tab as live plots. Stopping is the consumer closing the generator."""
from dataclasses import asdict, dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from models import DigitCNN, PrimerCNN
from training import augment, data, fonts, knobs, runtime
from training import mine as mine_set
from training.layer_gradients import GradientNorms
from training.runtime import Progress

# Train accuracy is measured on at most this many of the training digits: as many as the held-out
# part has, so the gap between the two is read to the same precision (1,000 made every epoch's end
# evaluate three times what the held-out figure needs, for a figure no sharper than the one beside it).
TRAIN_ACCURACY_DIGITS = 500
# Both CNNs train channels-last: on the CPU, oneDNN's convolutions then need no reordering of every
# activation; a step was faster in every comparison made (best of repeats at one thread on the shared
# machine: ours, depthwise, 2.7x; the primer's 1.5x). On a GPU it is the layout bf16 convolutions prefer.


@dataclass
class CNNConfig:
    """Every field is a setting declared in training/knob_list.py (its bounds, both archs' values,
    its words); None (unset) takes the arch's own value there."""

    arch: str | None = None  # "lab": Digit Lab's CNN and recipe; "seed": the primer's
    dataset: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None  # AdamW's (the one-cycle schedule's peak)
    weight_decay: float | None = None  # AdamW without weight decay is Adam
    loss: str | None = None  # "ce" or "mse" (loss_of below)
    label_smoothing: float | None = None  # cross-entropy's only; mse ignores it
    schedule: str | None = None
    augment: bool | None = None  # canvas-like pens, slants, sizes and shifts
    canvas_share: float | None = None  # of each batch, the share redrawn canvas-like
    typed_digits: bool | None = None  # digit data sets only
    ema: float | None = None  # the weights' moving average is what is evaluated and exported
    activation: str | None = None
    dropout: float | None = None  # before the last layer
    train_digits: int | None = None  # 0: the whole training split
    gan_digits: int | None = None  # drawn by the served conditional GAN (exports/gan.onnx)
    digits: str | None = None  # "dataset", "mine" or "mnist-5k+mine": a visitor's set given to train()
    fine_tune: bool | None = None  # start from a served model's weights (training/served.py), not at random
    seed: int | None = None
    device: str | None = None
    max_steps: int | None = None  # 0: no limit

    def __post_init__(self):
        knobs.settle(self, "cnn")


def loss_of(name: str, logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """The training loss: "ce", cross-entropy -log p(label) (with label smoothing), or "mse", the
    primer's mean squared error: the mean over the batch and the ten classes of (p_k - y_k)^2, p the
    softmax probabilities and y the one-hot label."""
    if name == "mse":
        return F.mse_loss(logits.softmax(1), F.one_hot(labels, logits.shape[1]).to(logits.dtype))
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)


def build_cnn(config: dict) -> torch.nn.Module:
    """The CNN a config describes (a checkpoint's; one from before the knobs existed is lab's)."""
    config = knobs.resolve("cnn", config)
    model = PrimerCNN if config["arch"] == "seed" else DigitCNN
    return model(dropout=config["dropout"], activation_name=config["activation"])


@torch.inference_mode()
def evaluate(model: torch.nn.Module, split: data.Split, batch_size: int = 0) -> dict[str, float]:
    """Held-out loss and accuracy of an unwrapped model (in eval mode: no dropout). The loss is
    cross-entropy whichever loss trains, so runs compare. By default a GPU takes 1,000 digits a
    batch (mnist-5k's held-out part in one), the CPU 64: there, batches of 250-1,000 were 3x slower
    a digit than 64, their activations no longer fitting in the caches."""
    batch_size = batch_size or (64 if split.images.device.type == "cpu" else 1000)
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


def train(cfg: CNNConfig, resume: dict | None = None, extra: data.Split | None = None, phases=None,
          mine: "mine_set.Mine | None" = None, start=None) -> Iterator[Progress]:
    """Train, yielding a Progress per step. `resume` continues a checkpoint; `extra` adds examples
    (the Draw tab's corrections) to the training set, repeated so they count; `phases` (a
    runtime.Phases) times the parts of each step. `mine`: a visitor's set, its train part joining
    the data set's (`cfg.digits` "mnist-5k+mine") or replacing it ("mine"), its held-out part scored
    at each epoch's end beside the data set's (mine_accuracy, mine_loss), whatever it trains on.
    `cfg.fine_tune`: begin from the weights of `start` (a CNN's ONNX file; by default the shipped
    one of the arch), where a resume is a whole run continued."""
    phase = phases or runtime.untimed
    rt = runtime.start(cfg.device, cfg.seed)
    train_set, held_out = data.load(cfg.dataset)
    if cfg.train_digits:
        train_set = data.stratified_subset(train_set, cfg.train_digits, cfg.seed)
    only_mine = cfg.digits == "mine"
    if cfg.digits != "dataset":
        if mine is None:
            raise ValueError(f"training on digits {cfg.digits!r} needs a set of your own (--mine FILE)")
        train_set = mine_set.training_set(train_set, mine.train, cfg.digits)
    mine_held_out = mine.held_out.to(rt.device) if mine is not None and len(mine.held_out) else None
    # train accuracy is read on the real training digits the run uses (not typed or GAN-made ones)
    own_digits = data.stratified_subset(train_set, min(len(train_set), TRAIN_ACCURACY_DIGITS), seed=0).to(rt.device)
    if cfg.gan_digits and not only_mine:
        train_set = train_set.plus(data.gan_digits(cfg.gan_digits, cfg.seed, knobs.SERVED_GAN))
    if extra is not None and len(extra):
        train_set = train_set.plus(extra, times=max(1, len(train_set) // (20 * len(extra))))  # about 5% of each epoch
    if cfg.typed_digits and cfg.dataset in data.DIGITS and not only_mine:
        train_set = train_set.plus(fonts.typed_digits())
    train_set, held_out = train_set.to(rt.device), held_out.to(rt.device)

    model = build_cnn(asdict(cfg))
    if cfg.fine_tune and not resume:
        from training import served

        # The batch norms unfolded on digits like the run's own batches (augmented as they will be):
        # a batch's statistics in train mode then match the served model's, which moves little.
        pick = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(cfg.seed))[:served.CALIBRATION_DIGITS]
        sample = train_set.images[pick.to(train_set.images.device)]
        sample = augment.canvas_like(sample, cfg.canvas_share) if cfg.augment else sample
        served.load(model, start or served.SERVED[cfg.arch], calibration=data.Split(sample, train_set.labels[pick.to(sample.device)]))
    model = runtime.place(model, rt.device, channels_last=True)
    average = runtime.moving_average(model, cfg.ema) if cfg.ema else None
    optimizer = runtime.adam(model, decoupled=True, lr=cfg.lr, weight_decay=cfg.weight_decay)
    batch_size = min(cfg.batch_size, len(train_set) // rt.world)  # a set of 10 digits still makes a batch
    per_epoch = data.steps_per_epoch(train_set, batch_size, rt.world)
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
    if cfg.schedule == "one-cycle":
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, last_epoch=step - 1)
    else:  # constant, as the primer's listing
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    net = rt.wrap(model)
    served = average.module if average else model  # what is evaluated and exported
    gradients = GradientNorms(model, total)

    def checkpoint(step: int, metrics: dict) -> dict:
        return {
            "kind": "cnn", "model": served.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": schedule.state_dict(), "config": asdict(cfg), "step": step, "metrics": metrics,
            "world_size": rt.world, "seconds": rt.elapsed(), "history": list(history),
            **({"trained": model.state_dict(), "average": average.state_dict()} if average else {}),
        }

    with runtime.reused_buffers(rt.device):
        for epoch in range(step // per_epoch, cfg.epochs):
            done_this_epoch = step - epoch * per_epoch  # non-zero only when resuming mid-epoch
            batches = data.batches(train_set, batch_size, cfg.seed, epoch, rt.rank, rt.world)
            for index, (images, labels) in enumerate(runtime.timed(batches, phase, "data")):
                if index < done_this_epoch:
                    continue
                if cfg.augment:
                    with phase("augment"):
                        images = augment.canvas_like(images, cfg.canvas_share)
                with phase("forward"), rt.autocast:
                    logits = net(images)
                    loss = loss_of(cfg.loss, logits.float(), labels, cfg.label_smoothing)
                with phase("backward"):
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                with phase("events"):  # the event's layer gradients, read before the step uses them
                    norms = gradients.read() if gradients.due(step + 1) else None
                with phase("optimiser"):
                    optimizer.step()
                    schedule.step()
                if average:
                    with phase("ema"):
                        average.update_parameters(model)
                step += 1
                last = step == total
                epoch_end = last or index == per_epoch - 1
                if epoch_end:
                    with phase("eval"):
                        metrics = evaluate(served, held_out) | {"train_accuracy": evaluate(served, own_digits)["held_out_accuracy"]}
                        if mine_held_out is not None:
                            yours = evaluate(served, mine_held_out)
                            metrics |= {"mine_loss": yours["held_out_loss"], "mine_accuracy": yours["held_out_accuracy"]}
                    history.append({"epoch": epoch + 1, "step": step, "seconds": round(rt.elapsed(), 1), **metrics})
                with phase("events"):
                    losses = {"loss": loss.item(), "accuracy": (logits.argmax(1) == labels).float().mean().item()}
                    event = Progress(
                        step, total, epoch + 1, losses, rt.elapsed(), lambda s=step, m=metrics: checkpoint(s, m),
                        epoch_end=epoch_end, metrics=metrics if epoch_end else {}, gradients=norms,
                    )
                yield event
                if last:
                    return


if __name__ == "__main__":
    from training import cli

    cli.main("cnn", CNNConfig, train)
