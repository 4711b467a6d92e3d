"""Values of constant tensors (weights) read from the flatbuffer, without TensorFlow."""
from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .integer_check import layer_of
from .reader import Subgraph, read_model

_NUMPY = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
          "float32": np.float32, "float16": np.float16}
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "CONV_3D", "TRANSPOSE_CONV")


def tensor_values(model: bytes, subgraph: int, tensor: int) -> np.ndarray:
    m = schema.Model.GetRootAs(model, 0)
    t = m.Subgraphs(subgraph).Tensors(tensor)
    buf = m.Buffers(t.Buffer())
    dtype = _NUMPY[read_model(model).subgraphs[subgraph].tensor(tensor).dtype]
    if buf.DataLength():
        raw = buf.DataAsNumpy().tobytes()
    else:  # large models keep buffers after the flatbuffer, at an offset
        raw = model[buf.Offset(): buf.Offset() + buf.Size()]
    return np.frombuffer(raw, dtype=dtype).reshape(t.ShapeAsNumpy())


def weight_sparsity(model: bytes) -> dict[str, float]:
    """Share of zero weights of every conv / fully-connected op, keyed by its Keras layer."""
    info = read_model(model)
    out = {}
    sg: Subgraph = info.main
    for op in sg.operators:
        if op.op in WEIGHTED_OPS and len(op.inputs) > 1 and sg.tensor(op.inputs[1]).is_constant:
            w = tensor_values(model, 0, op.inputs[1 if op.op != "TRANSPOSE_CONV" else 1])
            zero = sg.tensor(op.inputs[1]).zero_points[0] if sg.tensor(op.inputs[1]).zero_points else 0
            out[layer_of(sg.tensor(op.outputs[0]).name)] = float(np.mean(w == zero))
    return out
