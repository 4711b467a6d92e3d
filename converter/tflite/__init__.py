"""Reading .tflite flatbuffers without TensorFlow: structure, memory plan, compatibility rules."""
from .reader import ModelInfo, Operator, Subgraph, TensorInfo, read_model, read_model_file

__all__ = ["ModelInfo", "Operator", "Subgraph", "TensorInfo", "read_model", "read_model_file"]
