"""Exporting trained models to run without JAX: ONNX graphs written from the
parameters (`onnx_graph.py`)."""
