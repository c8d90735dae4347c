"""The Train tab's loss radio: it shows the chosen model's own loss functions (the CNN's or the
GAN's), and hands any value it is sent to the run's check.

gr.Radio refuses a value outside the choices it shows, in English and before the handler runs; an
API client's session shows the first view's choices (the CNN's), so a GAN run's `loss="bce"` would
be refused, and a CNN's `loss="hinge"` refused without saying why. Here every value reaches
training.knobs.check, which accepts the kind's own losses and refuses another kind's loss, or an
unknown one, in the visitor's language ("hinge is a GAN's loss function; ...")."""
import gradio as gr

from training import knobs

from gradio.events import Dependency

class LossRadio(gr.Radio):
    def get_block_name(self) -> str:
        return "radio"  # the page's component, as gr.Radio's own

    def preprocess(self, payload):
        return payload  # None: the architecture's own; anything else: the knobs' check says

    def api_info(self) -> dict:
        return {"enum": list(knobs.ALL_LOSSES), "title": "Radio", "type": "string"}
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component