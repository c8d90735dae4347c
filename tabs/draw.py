"""Placeholder until the draw tab lands."""
import gradio as gr


def build(*states):
    gr.Markdown("The draw tab is being built.")
