"""Placeholder until the train tab lands."""
import gradio as gr


def build(*states):
    gr.Markdown("The train tab is being built.")
