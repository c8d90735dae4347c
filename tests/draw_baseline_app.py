"""A bare Gradio app for the Draw tab's latency comparison: one Sketchpad wired to a handler that
does nothing but name a digit. DRAW_BASELINE picks the canvas the issue measured:
"default" (800x800, webp, Gradio's defaults) or "png280" (a 280x280 PNG canvas)."""
import os

import gradio as gr

CANVASES = {"default": {}, "png280": {"canvas_size": (280, 280), "format": "png"}}
strokes = 0


def name_a_digit(value):
    global strokes
    strokes += 1
    return {str(strokes % 10): 1.0}


with gr.Blocks() as demo:
    gr.Markdown("Digit Lab baseline")
    canvas = gr.Sketchpad(elem_id="baseline", **CANVASES[os.environ.get("DRAW_BASELINE", "default")])
    label = gr.Label(elem_id="baseline-label")
    canvas.change(name_a_digit, canvas, label, api_name="classify", show_progress="hidden")

if __name__ == "__main__":
    demo.launch()
