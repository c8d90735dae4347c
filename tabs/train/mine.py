"""The Train tab's choice of whose digits a CNN learns from (the data set's, the visitor's own set
from the Draw tab's "My digits" alone, or both) and whether it starts from the model the Draw tab
serves instead of at random: the two controls, and what /train makes of their values. The set
itself crosses into the run as plain data (runs/jobs.py start), as the corrections do. Torch-free.
"""
import json
from dataclasses import replace
from pathlib import Path

import gradio as gr

from inference import my_digits
from locales import ui
from runs import jobs
from training import knob_list

# A fine-tuning run left at its own learning rate starts at this peak, not a fresh run's 1e-2, which
# would scramble the weights it starts from: 60 steps at 1e-3 read one writer's digits all right and
# kept mnist-5k's 99% (python -m benchmarks.yours).
FINE_TUNE_LR = 1e-3

def build() -> dict:
    """The two controls, by their settings' names."""
    return {
        "digits": gr.Radio([(ui(f"train.mine.digits.{way}"), way) for way in knob_list.WAYS], value="dataset",
                           label=ui(knob_list.BY_NAME["digits"].words), info=ui("train.mine.digits.info"),
                           elem_id="train-mine-digits"),
        "fine_tune": gr.Checkbox(False, label=ui(knob_list.BY_NAME["fine_tune"].words), info=ui("train.mine.fine_tune.info"),
                                 elem_id="train-fine-tune"),
    }


def shown(kind):
    """Only a CNN learns from a set of digits."""
    return gr.update(visible=kind == "cnn"), gr.update(visible=kind == "cnn")


def _fine_tune(value) -> bool:
    named = dict(knob_list.BY_NAME["fine_tune"].named)
    if isinstance(value, str) and value.strip().lower() in named:
        return named[value.strip().lower()]
    if value is None or isinstance(value, bool):
        return bool(value)
    raise jobs.InvalidSettings("train.error.bool", setting="fine tune", value=repr(value))


def _served_arch(cnn_path: str | None) -> str | None:
    """The architecture of the visitor's served CNN, from its export's card beside it (None: unknown)."""
    card = Path(cnn_path).with_suffix(".json") if cnn_path else None
    try:
        return json.loads(card.read_text())["config"].get("arch", "lab") if card and card.is_file() else None
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def with_mine(run_request: jobs.RunRequest, digits: str, fine_tune, mine, cnn_path: str | None) -> tuple[jobs.RunRequest, str | None]:
    """The request with whose digits it learns from and whether it fine-tunes, and the model file it
    starts from (None: the shipped one of its architecture). Raises jobs.InvalidSettings in words:
    a way that is not one, a set with nothing to train on, or a served model of another architecture."""
    if run_request.kind != "cnn":
        return run_request, None
    digits = digits or "dataset"
    if digits not in knob_list.WAYS:
        raise jobs.InvalidSettings("train.error.choice", setting="digits", choices=", ".join(knob_list.WAYS), value=repr(digits))
    fine = _fine_tune(fine_tune)
    if digits != "dataset":
        trained, held_out = my_digits.split(mine or ())
        if not trained:
            raise jobs.InvalidSettings("train.mine.error.none", count=len(mine or ()), held_out=len(held_out))
    start_from = cnn_path if fine and cnn_path else None
    served = _served_arch(start_from)
    if fine and served is not None and served != run_request.arch:
        raise jobs.InvalidSettings("train.mine.error.arch", served=served, asked=run_request.arch)
    lr = FINE_TUNE_LR if fine and run_request.lr is None else run_request.lr
    chosen = {name: value for name, value in (("digits", digits), ("fine_tune", fine))
              if value != knob_list.BY_NAME[name].own("cnn")}  # as the request keeps knobs: those set, not their own
    return replace(run_request, lr=lr, knobs={**run_request.knobs, **chosen}), start_from
