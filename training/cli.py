"""The command line both training scripts share: flags made from the config dataclass, a tqdm bar
over the loop's Progress events, the checkpoint saved at the end (or on Ctrl-C), and one-line errors."""
import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

import locales
from training import knob_list, runtime
from training.data import DatasetUnavailable
from training.runtime import CheckpointError, Progress


def _flag_type(knob):
    if knob.type is bool:
        return lambda text: {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[text.lower()]
    return knob.type


def _default_words(knob, kind: str) -> str:
    if knob.per_arch(kind):
        return "default: the arch's own (" + ", ".join(f"{arch} {knob.own(kind, arch)}" for arch in knob.archs) + ")"
    return f"default {knob.own(kind)}"


def build_parser(kind: str, config_cls) -> argparse.ArgumentParser:
    """A flag for every setting training/knob_list.py declares for `kind`, worded by its locale keys."""
    parser = argparse.ArgumentParser(
        prog=f"python -m training.train_{kind}",
        description=f"Train the {kind.upper()} and save OUT/{kind}.pt (export it with python -m training.export).",
        argument_default=argparse.SUPPRESS,  # so a resumed run keeps its checkpoint's settings
    )
    fields = {field.name for field in dataclasses.fields(config_cls)}
    for knob in knob_list.of(kind):
        if knob.name not in fields:  # a test holds the two together; this says which one drifted
            raise TypeError(f"{config_cls.__name__} has no field {knob.name}, which training/knob_list.py declares")
        choices = knob.choices_of(kind)
        words = locales.text(knob.help, "en") + (f" ({', '.join(map(str, choices))})" if choices else "")
        parser.add_argument("--" + knob.name.replace("_", "-"), type=_flag_type(knob), metavar=knob.name.upper(),
                            help=f"{words}; {_default_words(knob, kind)}")
    parser.add_argument("--out", type=Path, help="folder for the checkpoint (default checkpoints)")
    parser.add_argument("--resume", type=Path, help="continue from this checkpoint, with its settings")
    if kind == "cnn":
        parser.add_argument("--mine", type=Path, help="a set of your own digits (.npz, as the Draw tab's download "
                            "writes): its held-out part is scored beside the data set's, the rest trained on "
                            "(--digits mnist-5k+mine unless --digits says otherwise)")
    return parser


def run(kind: str, config_cls, train: Callable[..., Iterator[Progress]], argv=None) -> Path | None:
    """Parse, train, save; returns the checkpoint path on the main process."""
    parser = build_parser(kind, config_cls)
    try:
        args = vars(parser.parse_args(argv))
    except KeyError as bad_bool:
        parser.error(f"not a yes/no value: {bad_bool}")
    out, resume_path = args.pop("out", Path("checkpoints")), args.pop("resume", None)
    mine_path = args.pop("mine", None)
    if mine_path is not None and "digits" not in args and not resume_path:
        args["digits"] = "mnist-5k+mine"
    resume = runtime.load_checkpoint(resume_path, kind) if resume_path else None
    try:
        cfg = config_cls(**{**(resume["config"] if resume else {}), **args})
    except (ValueError, TypeError) as error:
        parser.error(str(error))

    extra = {}
    if mine_path is not None:
        from training import mine

        extra["mine"] = mine.parted(mine.from_file(mine_path))
    events = train(cfg, resume=resume, **extra)
    first = next(events)  # the process group and device exist from here on
    rt_main = runtime.is_main_process()
    bar = tqdm(total=first.total_steps, initial=first.step - 1, unit="step", disable=not rt_main, dynamic_ncols=True)
    last = first
    try:
        for event in _chain(first, events):
            last = event
            bar.update(event.step - bar.n)
            bar.set_postfix({k: f"{v:.3f}" for k, v in event.losses.items()}, refresh=False)
            if event.epoch_end and event.metrics and rt_main:  # one line an epoch, not one a process
                bar.write(f"epoch {event.epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items()))
        interrupted = False
    except KeyboardInterrupt:
        bar.write(f"interrupted at step {last.step}; saving what was learned so far")
        interrupted = True
    finally:
        bar.close()
    if not rt_main:
        return None
    checkpoint = last.snapshot()
    if interrupted:  # so the model card's command says how long this run really was
        checkpoint["config"] = {**checkpoint["config"], "max_steps": last.step}
    path = runtime.save_checkpoint(checkpoint, out / f"{kind}.pt")
    print(f"saved {path} (step {last.step} of {last.total_steps}, {last.elapsed:.0f} s)")
    return path


def _chain(first, rest):
    yield first
    yield from rest


def main(kind: str, config_cls, train) -> None:
    try:
        run(kind, config_cls, train)
    except (DatasetUnavailable, CheckpointError, ValueError) as error:
        sys.exit(f"error: {error}")
    finally:
        runtime.finish()
