"""Torch-free query towers: ONNX Runtime copies of a model's text and vision towers, exported once and cached."""
