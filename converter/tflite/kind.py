"""What kind of model a .tflite is, read from its tensor types: the key its figures are filed
under in a report, so every command names the same model the same way."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .reader import ModelInfo

# The conversion modes of export/tflite.py, as a file shows them, and "mixed": int8 activations
# with some int16 ones (what `convert --recover` makes).
KINDS = ("int8", "mixed", "int16x8", "float16", "dynamic", "float32")


def model_kind(info: ModelInfo) -> str:
    """Activations decide first (int16 ones only: int16x8; int8/uint8 ones too: mixed; int8/uint8
    only: full int8), then the weights of a float graph (float16 constants: float16; integer
    constants: dynamic range)."""
    tensors = [t for sg in info.subgraphs for t in sg.tensors]
    activations = {t.dtype for t in tensors if not t.is_constant and t.is_quantized}
    weights = {t.dtype for t in tensors if t.is_constant}
    if "int16" in activations:
        return "mixed" if activations & {"int8", "uint8"} else "int16x8"
    if activations & {"int8", "uint8"}:
        return "int8"
    if "float16" in weights:
        return "float16"
    if weights & {"int8", "uint8"}:
        return "dynamic"
    return "float32"


def kind_of(tflite: bytes) -> str:
    """The kind of a .tflite given as bytes."""
    from .reader import read_model

    return model_kind(read_model(tflite))
