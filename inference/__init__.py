"""The serving path: onnxruntime, numpy and pillow only -- never torch."""
