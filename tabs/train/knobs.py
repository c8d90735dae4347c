"""The Train tab's knobs: a control for each setting training/knob_list.py offers on the tab, worded
by its locale keys, and the view that sets them when the model or its architecture changes.

A setting whose default depends on the model (epochs, batch size, learning rate, dropout) starts at
the word "own", a choice of its own: an API call that leaves it out gets the default of the kind and
architecture it asks for, resolved by the server (runs/request.py), and the page says which value
that is, from the first render (the model selected at load) and after each change of model.
Activation, loss and augmentation start unset for the same reason.
"""
import json

import gradio as gr

import locales
from locales import text, ui
from runs import jobs
from tabs.train import game as train_game
from tabs.train.loss_radio import LossRadio
from training import knob_list, settings
from training.knob_list import BY_NAME, OWN

# Values a visitor may pick without typing; any other within the bounds can be typed in.
SUGGESTED = {
    "epochs": (1, 2, 3, 5, 8, 10, 20, 30),
    "batch_size": (16, 32, 64, 128, 256),
    "lr": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
    "dropout": (0.0, 0.2, 0.5),
}
# What the page's radio and slider offer (training/knob_list.py declares them; the API takes the bounds).
TRAIN_DIGITS = tuple(n for n in BY_NAME["train_digits"].offered if n)  # beside "all"
GAN_DIGITS_LOW, GAN_DIGITS_MOST, GAN_DIGITS_STEP = BY_NAME["gan_digits"].tab_range
# What knob_view sets, in order (then the game panel's visibility).
VIEW = ("epochs", "batch_size", "lr", "use_corrections", "activation", "loss", "dropout", "train_digits", "augment",
        "gan_digits", "d_steps")


def _within(name: str, caps: settings.TrainSettings) -> tuple:
    low, high = BY_NAME[name].bounds(caps)
    return tuple(v for v in SUGGESTED[name] if (low is None or v >= low) and (high is None or v <= high))


def _words(key: str, lang: str | None, **values):
    """Page text (translated in the browser) at build time, the visitor's language afterwards."""
    return ui(key) if lang is None else text(key, lang, **values)


def own_label(name: str, kind: str, arch: str, lang: str | None = None):
    """The word "own" saying its value for `kind` and `arch` ("the architecture's own (0.001)"):
    page text when built (the browser translates the words and keeps the value after them), the
    visitor's language afterwards."""
    value = BY_NAME[name].own(kind, arch, served=True)
    return _words("train.own.model" if name == "epochs" else "train.own", lang) + f" ({value:g})"


def own_choices(name: str, caps: settings.TrainSettings, kind: str = "cnn", arch: str = "lab",
                lang: str | None = None) -> list[tuple]:
    """The word "own" first, saying its value for the model (at build: the one the page opens
    with), then the suggested values."""
    return [(own_label(name, kind, arch, lang), OWN)] + [(f"{v:g}", f"{v:g}") for v in _within(name, caps)]


def loss_choices(kind: str, lang: str | None = None) -> list[tuple]:
    """The kind's loss functions as the radio offers them: page text when built, the visitor's
    language when a change of model sends them."""
    return [(_words(f"train.loss.{name}", lang), name) for name in knob_list.LOSSES[kind]]


def _own_dropdown(name: str, caps, **extra) -> gr.Dropdown:
    """At the word "own", saying its value for the model the page opens with (the CNN, its own architecture)."""
    knob = BY_NAME[name]
    return gr.Dropdown(own_choices(name, caps, "cnn", BY_NAME["arch"].own("cnn")), value=OWN, allow_custom_value=True,
                       label=ui(knob.words), **extra)


def build(caps: settings.TrainSettings) -> dict:
    """The knobs' controls, laid out as the page shows them; by name (the settings' names)."""
    c = {"kind": gr.Radio([(ui(f"train.kind.{k}"), k) for k in knob_list.KINDS], value="cnn", label=ui("train.kind"))}
    c["arch"] = gr.Radio([(ui(f"train.arch.{a}"), a) for a in knob_list.ARCHS], value=BY_NAME["arch"].own("cnn"),
                         label=ui("train.arch"), info=ui("train.arch.info"))
    c["activation"] = gr.Radio([(ui(f"train.activation.{a}"), a) for a in knob_list.ACTIVATIONS], value=None,
                               label=ui("train.activation"), info=ui("train.activation.info"))
    c["loss"] = LossRadio(loss_choices("cnn"), value=None, label=ui("train.loss"), info=ui("train.loss.info.cnn"))
    c["dropout"] = _own_dropdown("dropout", caps, info=ui("train.dropout.info"), elem_id="train-dropout")
    c["train_digits"] = gr.Radio([(ui("train.digits.all"), "all"), *[(str(n), n) for n in TRAIN_DIGITS]], value="all",
                                 label=ui(BY_NAME["train_digits"].words), info=ui("train.digits.info"))
    # A radio, not a checkbox: a checkbox cannot be left unset, and an API call that leaves
    # augmentation out should get the architecture's own (on for ours, off for the primer's).
    c["augment"] = gr.Radio([(ui(f"train.augment.{word}"), word) for word, _ in BY_NAME["augment"].named], value=None,
                            label=ui("train.augment"), info=ui("train.augment.info"), elem_id="train-augment")
    c["gan_digits"] = gr.Slider(GAN_DIGITS_LOW, GAN_DIGITS_MOST, value=BY_NAME["gan_digits"].own("cnn"), step=GAN_DIGITS_STEP,
                                label=ui("train.gan_digits"), info=ui("train.gan_digits.info"))
    c["d_steps"] = train_game.ratio_knob()
    c["epochs"] = _own_dropdown("epochs", caps, elem_id="train-epochs")
    c["use_corrections"] = gr.Checkbox(True, label=ui("train.corrections"))
    with gr.Accordion(ui("train.more"), open=False):
        c["dataset"] = gr.Dropdown([(ui(f"train.dataset.{d}"), d) for d in knob_list.DATASETS], value=BY_NAME["dataset"].own("cnn"),
                                   label=ui("train.dataset"), info=ui("train.dataset.info"))
        c["lr"] = _own_dropdown("lr", caps, info=ui("train.lr.info"), elem_id="train-lr")
        c["batch_size"] = _own_dropdown("batch_size", caps, elem_id="train-batch-size")
        c["seed"] = gr.Number(BY_NAME["seed"].own("cnn"), label=ui("train.seed"), step=1)
    return c


def knob_view(kind, arch, request: gr.Request = None):
    """Show the knobs that apply to the model and architecture, each at its own (epochs, batch size,
    learning rate and dropout at the word "own", saying the value); the loss offers the model's own
    loss functions."""
    caps = settings.load()  # as the page was built from (tabs/train/tab.py reads it once, at start-up)
    kind = kind if kind in knob_list.KINDS else "cnn"
    arch = arch if arch in knob_list.ARCHS else "lab"
    own = jobs.arch_defaults(kind, arch)
    is_cnn = kind == "cnn"
    lang = locales.language(request)

    def own_word(name, **more):
        return gr.update(choices=own_choices(name, caps, kind, arch, lang), value=OWN, **more)
    return (
        own_word("epochs"),
        own_word("batch_size"),
        own_word("lr"),
        gr.update(visible=is_cnn),  # corrections: the CNN's
        gr.update(value=own["activation"]),
        gr.update(choices=loss_choices(kind, lang), value=own["loss"], info=text(f"train.loss.info.{kind}", lang)),
        own_word("dropout", visible=True) if is_cnn else gr.update(visible=False),
        gr.update(visible=is_cnn),  # training digits
        gr.update(value="on" if own["augment"] else "off"),
        gr.update(visible=is_cnn),  # GAN-made digits
        gr.update(visible=not is_cnn, value=own.get("d_steps", BY_NAME["d_steps"].own("gan"))),  # the D:G ratio
        gr.update(visible=not is_cnn),  # the game turn by turn
    )


def show_first_view(c: dict) -> None:
    """The first view's unset knobs show the default architecture's own values, set in the page as
    it opens (no round trip); left unset in the components, so an API call that leaves them out
    gets the architecture it asks for its own."""
    first = knob_view("cnn", "lab")
    shown = [first[VIEW.index(name)]["value"] for name in ("activation", "loss", "augment")]
    gr.on(None, None, None, [c["activation"], c["loss"], c["augment"]], js=f"() => {json.dumps(shown)}",
          api_visibility="private", queue=False)
