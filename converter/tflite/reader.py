"""Parse a .tflite flatbuffer into plain dataclasses, using LiteRT's generated schema only.

Accessors are lazy, so constant buffers (the bulk of a large model) are never copied.
Malformed files raise ModelError, never a raw flatbuffers exception.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from ..errors import ModelError

_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_TYPE_BYTES = {
    "float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int32": 4, "uint32": 4, "int64": 8,
    "uint64": 8, "int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "bool": 1, "complex64": 8,
    "complex128": 16, "int4": 0.5, "uint4": 0.5, "int2": 0.25, "float8_e4m3fn": 1, "float8_e5m2": 1,
}
FLOAT_TYPES = frozenset({"float32", "float16", "bfloat16", "float64"})


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]  # -1 marks a dynamic dimension
    is_constant: bool
    is_variable: bool
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    quantized_dimension: int = 0
    is_sparse: bool = False

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return int(np.ceil(self.num_elements * _TYPE_BYTES.get(self.dtype, 4)))

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)

    @property
    def is_quantized(self) -> bool:
        return bool(self.scales)


@dataclass(frozen=True)
class Operator:
    index: int
    op: str  # builtin name, or "CUSTOM:<code>"
    version: int
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    is_custom: bool = False
    calls: tuple[int, ...] = ()  # subgraphs an IF / WHILE / CALL_ONCE runs, in the order TFLM plans them
    variable: str = ""  # VAR_HANDLE: the shared name that identifies the resource variable
    beta: float = 1.0  # SOFTMAX: the logits' multiplier (tflite/kernel_limits.py checks it with the input scale)


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    tensors: tuple[TensorInfo, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def tensor(self, i: int) -> TensorInfo:
        return self.tensors[i]


@dataclass(frozen=True)
class Signature:
    key: str
    subgraph: int
    inputs: dict[str, int]  # name -> tensor index
    outputs: dict[str, int]


@dataclass(frozen=True)
class ModelInfo:
    size_bytes: int
    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    signatures: tuple[Signature, ...] = field(default=())
    metadata_names: tuple[str, ...] = field(default=())

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sg in self.subgraphs:
            for op in sg.operators:
                counts[op.op] = counts.get(op.op, 0) + 1
        return dict(sorted(counts.items()))

    def output_names(self) -> list[str]:
        """Names of the main subgraph's outputs: signature keys when present, else tensor names."""
        by_index = {i: n for n, i in self.signatures[0].outputs.items()} if self.signatures else {}
        return [by_index.get(i, self.main.tensor(i).name) for i in self.main.outputs]

    def output_shapes(self) -> list[tuple[int, ...]]:
        return [self.main.tensor(i).shape for i in self.main.outputs]

    def input_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the main subgraph's inputs, batch included; -1 marks a dynamic dimension."""
        return [self.main.tensor(i).shape_signature for i in self.main.inputs]

    def free_size_inputs(self) -> list[str]:
        """Names of the main inputs with a free size other than the batch: the file's shapes
        there are placeholders (often 1), so figures computed from them are not the model's."""
        return [name for name, shape in zip(self.input_names(), self.input_shapes()) if any(d < 0 for d in shape[1:])]

    def input_names(self) -> list[str]:
        by_index = {i: n for n, i in self.signatures[0].inputs.items()} if self.signatures else {}
        return [by_index.get(i, self.main.tensor(i).name) for i in self.main.inputs]


def read_model_file(path: str | Path) -> ModelInfo:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path} is not a file", hint="give the path of a .tflite model file")
    return read_model(path.read_bytes(), source=str(path))


def read_model(data: bytes, source: str = "model") -> ModelInfo:
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"{source} is not a TFLite model (no TFL3 flatbuffer identifier)",
            hint="pass a .tflite file produced by `edgeconv convert` or the TFLite converter",
        )
    try:
        return _parse(data, source)
    except ModelError:
        raise
    except Exception as e:  # flatbuffers raises struct/index errors on corrupt offsets
        raise ModelError(f"{source} is a corrupt TFLite flatbuffer ({type(e).__name__}: {e})",
                         hint="re-export the model; the file may be truncated") from None


def _parse(data: bytes, source: str) -> ModelInfo:
    model = schema.Model.GetRootAs(data, 0)
    codes = [_opcode_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    constant = _constant_buffers(model)
    subgraphs = tuple(_subgraph(model.Subgraphs(i), i, codes, constant) for i in range(model.SubgraphsLength()))
    if not subgraphs:
        raise ModelError(f"{source} is a corrupt TFLite flatbuffer (no subgraphs)", hint="re-export the model")
    return ModelInfo(
        size_bytes=len(data),
        version=model.Version(),
        description=_str(model.Description()),
        subgraphs=subgraphs,
        signatures=tuple(_signature(model.SignatureDefs(i)) for i in range(model.SignatureDefsLength())),
        metadata_names=tuple(_str(model.Metadata(i).Name()) for i in range(model.MetadataLength())),
    )


def _opcode_name(code) -> tuple[str, int, bool]:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        return f"CUSTOM:{_str(code.CustomCode())}", code.Version(), True
    return name, code.Version(), False


def _constant_buffers(model) -> set[int]:
    out = set()
    for i in range(1, model.BuffersLength()):
        buf = model.Buffers(i)
        if buf.DataLength() > 0 or buf.Offset() > 1:  # Offset>1: data stored after the flatbuffer
            out.add(i)
    return out


def _subgraph(sg, index: int, codes, constant: set[int]) -> Subgraph:
    tensors = tuple(_tensor(sg.Tensors(i), i, constant) for i in range(sg.TensorsLength()))
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        name, version, custom = codes[op.OpcodeIndex()]
        ops.append(Operator(i, name, version, tuple(_ints(op.InputsAsNumpy())),
                            tuple(_ints(op.OutputsAsNumpy())), custom, *_control_options(op, name),
                            beta=_softmax_beta(op) if name == "SOFTMAX" else 1.0))
    result = Subgraph(index, _str(sg.Name()), tensors, tuple(ops),
                      tuple(_ints(sg.InputsAsNumpy())), tuple(_ints(sg.OutputsAsNumpy())))
    _check_references(result)
    return result


_CALLS = {"IF": (schema.IfOptions, "ThenSubgraphIndex", "ElseSubgraphIndex"),
          "WHILE": (schema.WhileOptions, "CondSubgraphIndex", "BodySubgraphIndex"),
          "CALL_ONCE": (schema.CallOnceOptions, "InitSubgraphIndex")}


def _control_options(op, name: str) -> tuple[tuple[int, ...], str]:
    """The options the arena estimate needs: called subgraphs and variable names."""
    table = op.BuiltinOptions()
    if table is None or (name not in _CALLS and name != "VAR_HANDLE"):
        return (), ""
    if name == "VAR_HANDLE":
        options = schema.VarHandleOptions()
        options.Init(table.Bytes, table.Pos)
        return (), _str(options.SharedName())
    kind, *getters = _CALLS[name]
    options = kind()
    options.Init(table.Bytes, table.Pos)
    return tuple(getattr(options, g)() for g in getters), ""


def _softmax_beta(op) -> float:
    table = op.BuiltinOptions()
    if table is None:
        return 1.0
    options = schema.SoftmaxOptions()
    options.Init(table.Bytes, table.Pos)
    return float(options.Beta())


def _check_references(sg: Subgraph) -> None:
    """Every tensor index an op or the graph names must exist (-1 marks an omitted input), so
    later analyses (arena plan, MACs, integer proof) can index without guarding."""
    n = len(sg.tensors)
    refs = [("graph input", -1, i) for i in sg.inputs] + [("graph output", -1, i) for i in sg.outputs]
    refs += [(f"op #{op.index} {op.op}", -2, i) for op in sg.operators for i in (*op.inputs, *op.outputs)]
    for where, lowest, i in refs:
        if not lowest < i < n:
            raise ModelError(f"corrupt model: {where} in subgraph {sg.index} refers to tensor {i}, "
                             f"but the subgraph has {n} tensors", hint="re-export the model; the file is damaged")


def _tensor(t, index: int, constant: set[int]) -> TensorInfo:
    shape = tuple(_ints(t.ShapeAsNumpy()))
    signature = tuple(_ints(t.ShapeSignatureAsNumpy())) or shape
    q = t.Quantization()
    scales = tuple(float(s) for s in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else ()
    zps = tuple(_ints(q.ZeroPointAsNumpy())) if q is not None and q.ZeroPointLength() else ()
    return TensorInfo(
        index=index, name=_str(t.Name()), dtype=_TYPE_NAMES.get(t.Type(), f"type{t.Type()}"),
        shape=shape, shape_signature=signature, is_constant=t.Buffer() in constant,
        is_variable=bool(t.IsVariable()), scales=scales, zero_points=zps,
        quantized_dimension=q.QuantizedDimension() if q is not None else 0,
        is_sparse=t.Sparsity() is not None,
    )


def _signature(sig) -> Signature:
    def names(n, get):
        return {_str(get(i).Name()): get(i).TensorIndex() for i in range(n)}

    return Signature(_str(sig.SignatureKey()), sig.SubgraphIndex(),
                     names(sig.InputsLength(), sig.Inputs), names(sig.OutputsLength(), sig.Outputs))


def _ints(arr) -> list[int]:
    # Generated accessors return 0 (not an empty array) for absent vectors.
    return [] if isinstance(arr, int) else [int(v) for v in arr]


def _str(b) -> str:
    return b.decode("utf-8", "replace") if b else ""
