"""Prove from the flatbuffer that a model is what the conversion mode promised.

For full-integer models: every graph input and output has the requested integer type and no
operator computes in floating point. A QUANTIZE at a float input or a DEQUANTIZE at a float
output is allowed only when float I/O was asked for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .reader import FLOAT_TYPES, ModelInfo, Operator, Subgraph

_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}


@dataclass(frozen=True)
class Offence:
    op: str
    op_index: int
    tensors: tuple[str, ...]
    layer: str

    def describe(self) -> str:
        return f"op #{self.op_index} {self.op} (layer '{self.layer}') computes in float on {', '.join(self.tensors)}"


@dataclass(frozen=True)
class IntegerProof:
    io_ok: bool
    io_problems: tuple[str, ...]
    offences: tuple[Offence, ...]

    @property
    def ok(self) -> bool:
        return self.io_ok and not self.offences


def layer_of(tensor_name: str) -> str:
    """Best guess of the Keras layer a TFLite tensor came from: TFLite names tensors after the
    TF ops, e.g. 'sequential/conv2d/Relu;sequential/conv2d/BiasAdd' -> 'conv2d'."""
    first = tensor_name.split(";")[0]
    parts = [p for p in first.split("/") if p and not re.fullmatch(r"StatefulPartitionedCall(:\d+)?", p)]
    layer = parts[1] if len(parts) > 2 else (parts[0] if parts else tensor_name)
    return layer.removeprefix("quant_")  # TFMOT's QAT wrappers prefix the wrapped layer's name


def prove_integer(info: ModelInfo, io_type: str) -> IntegerProof:
    """Check every subgraph; `io_type` is the dtype the user asked for at the model's boundary."""
    io_problems = tuple(_io_problems(info.main, io_type))
    offences = tuple(o for sg in info.subgraphs for o in _float_ops(sg, io_type))
    return IntegerProof(not io_problems, io_problems, offences)


def _io_problems(sg: Subgraph, io_type: str):
    for kind, indices in (("input", sg.inputs), ("output", sg.outputs)):
        for i in indices:
            t = sg.tensor(i)
            if t.dtype != io_type:
                yield f"{kind} '{t.name}' is {t.dtype}, expected {io_type}"


def _float_ops(sg: Subgraph, io_type: str):
    graph_io = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        floats = [sg.tensor(t) for t in (*op.inputs, *op.outputs) if t >= 0 and sg.tensor(t).dtype in FLOAT_TYPES]
        if not floats or _allowed_boundary(op, floats, graph_io, io_type):
            continue
        yield Offence(op.op, op.index, tuple(f"{t.name} ({t.dtype})" for t in floats), layer_of(floats[-1].name))


def _allowed_boundary(op: Operator, floats, graph_io: set[int], io_type: str) -> bool:
    return io_type in FLOAT_TYPES and op.op in _BOUNDARY_OPS and all(t.index in graph_io for t in floats)
