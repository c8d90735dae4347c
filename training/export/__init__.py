"""Export to ONNX and what it writes beside a model: the views' companions, the latent directions
and the model card. Run as `python -m training.export --checkpoint PATH --out PATH.onnx`."""
