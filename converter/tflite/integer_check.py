"""Prove from the flatbuffer that a model is what the conversion mode promised.

For full-integer models: every graph input and output has the requested integer type and no
operator computes in floating point. A QUANTIZE at a float input or a DEQUANTIZE at a float
output is allowed only when float I/O was asked for.

`integer_status` describes a model whatever was asked: whether its ops are integer, and its I/O
types, separately (a model may take int8 and give uint8 and still be fully integer).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .reader import FLOAT_TYPES, ModelInfo, Operator, Subgraph

_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}
INTEGER_TYPES = frozenset({"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"})


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


@dataclass(frozen=True)
class IntegerStatus:
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    float_ops: tuple[Offence, ...]  # QUANTIZE/DEQUANTIZE that only touch float graph I/O do not count

    @property
    def integer_ops(self) -> bool:
        return not self.float_ops

    @property
    def integer_io(self) -> bool:
        return all(t in INTEGER_TYPES for t in (*self.input_types, *self.output_types))

    @property
    def fully_integer(self) -> bool:
        return self.integer_ops and self.integer_io


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
    offences = _all_float_ops(info, allow_float_boundary=io_type in FLOAT_TYPES)
    return IntegerProof(not io_problems, io_problems, offences)


def integer_status(info: ModelInfo) -> IntegerStatus:
    sg = info.main
    return IntegerStatus(tuple(sg.tensor(i).dtype for i in sg.inputs), tuple(sg.tensor(i).dtype for i in sg.outputs),
                         _all_float_ops(info, allow_float_boundary=True))


def _all_float_ops(info: ModelInfo, allow_float_boundary: bool) -> tuple[Offence, ...]:
    return tuple(o for sg in info.subgraphs for o in _float_ops(sg, allow_float_boundary))


def _io_problems(sg: Subgraph, io_type: str):
    for kind, indices in (("input", sg.inputs), ("output", sg.outputs)):
        for i in indices:
            t = sg.tensor(i)
            if t.dtype != io_type:
                yield f"{kind} '{t.name}' is {t.dtype}, expected {io_type}"


def _float_ops(sg: Subgraph, allow_float_boundary: bool):
    graph_io = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        floats = [sg.tensor(t) for t in (*op.inputs, *op.outputs) if t >= 0 and sg.tensor(t).dtype in FLOAT_TYPES]
        if not floats or (allow_float_boundary and _at_boundary(op, floats, graph_io)):
            continue
        yield Offence(op.op, op.index, tuple(f"{t.name} ({t.dtype})" for t in floats), layer_of(floats[-1].name))


def _at_boundary(op: Operator, floats, graph_io: set[int]) -> bool:
    return op.op in _BOUNDARY_OPS and all(t.index in graph_io for t in floats)
