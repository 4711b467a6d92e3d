"""Multiply-accumulates per inference, from tensor shapes in the flatbuffer.

Counted for the ops that dominate edge models (convolutions, fully connected, matrix
products); element-wise ops count zero, as in the usual MAC figures of model papers.
"""
from __future__ import annotations

import numpy as np

from .reader import Operator, Subgraph


def op_macs(sg: Subgraph, op: Operator) -> int:
    shapes = [sg.tensor(i).shape if i >= 0 else () for i in op.inputs]
    if not op.outputs or len(shapes) < 2:
        return 0
    out_n = sg.tensor(op.outputs[0]).num_elements
    weights = shapes[1]
    if len(weights) < _WEIGHT_RANK.get(op.op, 0) or not shapes[0] or (op.op == "TRANSPOSE_CONV" and len(shapes) < 3):
        return 0  # shapes that do not fit the op (a damaged file): nothing sensible to count
    if op.op in ("CONV_2D", "CONV_3D"):  # weights O,kh,kw,I: kh*kw*I per output element
        return out_n * int(np.prod(weights[1:]))
    if op.op == "DEPTHWISE_CONV_2D":  # weights 1,kh,kw,C: kh*kw per output element
        return out_n * int(weights[1] * weights[2])
    if op.op in ("FULLY_CONNECTED", "BATCH_MATMUL"):  # inner dimension per output element
        return out_n * int(shapes[0][-1])
    if op.op == "TRANSPOSE_CONV":  # inputs (output_shape, weights O,kh,kw,I, input)
        return int(np.prod(shapes[2])) * int(weights[0] * weights[1] * weights[2])
    return 0


_WEIGHT_RANK = {"CONV_2D": 2, "CONV_3D": 2, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0, "BATCH_MATMUL": 0,
                "TRANSPOSE_CONV": 3}


def model_macs(sg: Subgraph) -> int:
    return sum(op_macs(sg, op) for op in sg.operators)
