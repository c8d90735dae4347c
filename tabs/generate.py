"""Placeholder until the generate tab lands."""
import gradio as gr


def build(*states):
    gr.Markdown("The generate tab is being built.")
