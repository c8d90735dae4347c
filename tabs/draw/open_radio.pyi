"""A gr.Radio that hands whatever value it is sent to its handler, as tabs/train/loss_radio.py does for
the Train tab's loss: gr.Radio itself refuses a value outside its choices before the handler runs,
in English and without saying what the value was for. Here the handler checks it and answers in
the caller's language (a digit 12 for My digits, a model or data set that does not exist for the
Mistakes view)."""
import gradio as gr

from gradio.events import Dependency

class OpenRadio(gr.Radio):
    def get_block_name(self) -> str:
        return "radio"  # the page's component, as gr.Radio's own

    def preprocess(self, payload):
        return payload  # the handler's own check says what is wrong with it

    def api_info(self) -> dict:
        return {"enum": [value for _, value in self.choices], "title": "Radio", "type": "string"}
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component