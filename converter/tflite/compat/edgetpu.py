"""Predict how the Coral EdgeTPU compiler maps a model, from the rule set in
shared/notes/edgetpu.md (compiler 16, runtime 13/14), without the compiler.

The compiler maps ops in graph order until the first op it cannot map; that op and every
op after it run on the CPU. The report mirrors the compiler's log so users recognise it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..reader import ModelInfo, Operator, Subgraph

MAPPED = "Mapped to Edge TPU"
AFTER_SPLIT = "More than one subgraph is not supported"
NOT_SUPPORTED = "Operation not supported"
LIMITATION = "Operation is otherwise supported, but not mapped due to some unspecified limitation"
DATA_TYPE = "Operation is working on an unsupported data type"
RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
NOT_CONSTANT = "Filter, bias, or other param is not constant at compile-time"
ON_CHIP_BYTES = 8 * 2**20

# op -> the runtime version that first maps it
SUPPORTED = {op: 10 for op in (
    "ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION", "CONV_2D",
    "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "TANH", "SLICE", "SPACE_TO_DEPTH",
    "RELU", "RELU6", "RELU_N1_TO_1", "MEAN", "PAD", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
    "SOFTMAX", "SPLIT", "SQUEEZE", "STRIDED_SLICE")}
SUPPORTED.update({op: 13 for op in ("EXPAND_DIMS", "PACK", "QUANTIZE", "SUM", "TRANSPOSE_CONV")})
SUPPORTED.update({op: 14 for op in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "PRELU", "REDUCE_MAX", "REDUCE_MIN", "TRANSPOSE",
                                    "RSQRT", "SQUARED_DIFFERENCE")})
INTEGER = {"int8", "uint8", "int32"}  # int32 for biases and shape operands
WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


@dataclass(frozen=True)
class OpStatus:
    index: int
    op: str
    version: int
    status: str
    detail: str = ""
    at_edge: bool = False  # converts the model's float input or output on the CPU: the graph does not split there


@dataclass
class EdgeTpuPrediction:
    runtime: int
    fatal: str | None  # whole-model failure, e.g. "Model not quantized"
    ops: list[OpStatus]
    parameter_bytes: int  # constants of the mapped ops

    @property
    def mapped(self) -> int:
        return sum(o.status == MAPPED for o in self.ops)

    @property
    def split(self) -> OpStatus | None:
        return next((o for o in self.ops if o.status != MAPPED and not o.at_edge), None)

    def summary(self) -> dict:
        split = self.split
        return {"runtime": self.runtime, "fatal": self.fatal, "total_ops": len(self.ops),
                "edgetpu_ops": self.mapped, "cpu_ops": len(self.ops) - self.mapped,
                "edgetpu_subgraphs": 1 if self.mapped else 0,
                "split_at": None if split is None else asdict(split),
                "on_chip_parameter_bytes": min(self.parameter_bytes, ON_CHIP_BYTES),
                "off_chip_parameter_bytes": max(0, self.parameter_bytes - ON_CHIP_BYTES),
                "ops": [asdict(o) for o in self.ops]}

    def log(self, name: str) -> str:
        """Text laid out like edgetpu_compiler's console log."""
        s = self.summary()
        lines = [f"Edge TPU Compiler prediction by edgeconv (rules: compiler 16, runtime {self.runtime})",
                 f"Input model: {name}"]
        if self.fatal:
            return "\n".join(lines + [self.fatal])
        lines += [f"On-chip memory used for caching model parameters: {_kib(s['on_chip_parameter_bytes'])}",
                  f"Off-chip memory used for streaming uncached model parameters: {_kib(s['off_chip_parameter_bytes'])}",
                  f"Number of Edge TPU subgraphs: {s['edgetpu_subgraphs']}",
                  f"Total number of operations: {s['total_ops']}",
                  f"Number of operations that will run on Edge TPU: {s['edgetpu_ops']}",
                  f"Number of operations that will run on CPU: {s['cpu_ops']}", "",
                  f"{'Operator':<32}{'Count':<8}Status"]
        counts: dict[tuple, int] = {}
        for o in self.ops:
            counts[(o.op, o.status)] = counts.get((o.op, o.status), 0) + 1
        lines += [f"{op:<32}{n:<8}{status}" for (op, status), n in counts.items()]
        if self.split is not None:
            sp = self.split
            lines += ["", f"Graph splits at op #{sp.index} {sp.op} (v{sp.version}): {sp.status}"
                      + (f" ({sp.detail})" if sp.detail else "")]
        return "\n".join(lines)


def predict(info: ModelInfo, runtime: int = 14) -> EdgeTpuPrediction:
    sg = info.main
    fatal = _model_problem(sg)
    if fatal:
        return EdgeTpuPrediction(runtime, fatal, [], 0)
    ops, split, params = [], False, 0
    for op in sg.operators:
        edge = _float_io_conversion(sg, op)
        if edge:
            ops.append(OpStatus(op.index, op.op, op.version, *edge, at_edge=True))
            continue
        status, detail = (AFTER_SPLIT, "") if split else _check(sg, op, runtime)
        if status == MAPPED:
            params += sum(sg.tensor(t).nbytes for t in op.inputs if t >= 0 and sg.tensor(t).is_constant)
        split = split or status != MAPPED
        ops.append(OpStatus(op.index, op.op, op.version, status, detail))
    return EdgeTpuPrediction(runtime, None, ops, params)


def _float_io_conversion(sg: Subgraph, op: Operator) -> tuple[str, str] | None:
    """A QUANTIZE of a float model input or a DEQUANTIZE into a float model output stays on the
    CPU and the ops between them still map (google-coral/edgetpu #342, #659)."""
    if op.op == "QUANTIZE" and op.inputs[0] in sg.inputs and sg.tensor(op.inputs[0]).dtype == "float32":
        return LIMITATION, "float input quantized on the CPU; the graph does not split here"
    if op.op == "DEQUANTIZE" and op.outputs[0] in sg.outputs and sg.tensor(op.outputs[0]).dtype == "float32":
        return NOT_SUPPORTED, "output dequantized to float on the CPU; the graph does not split here"
    return None


def _model_problem(sg: Subgraph) -> str | None:
    if any(sg.tensor(i).is_dynamic for i in sg.inputs):
        return "Model has dynamic-sized tensors: convert with a fixed batch size (edgeconv's default)"
    activations = [t for t in sg.tensors if not t.is_constant]
    inner = [t for t in activations if t.index not in (*sg.inputs, *sg.outputs)] or activations  # I/O may be float
    floats = [t for t in inner if t.dtype in ("float32", "float16")]
    if not any(t.dtype in ("int8", "uint8", "int16") for t in inner) or len(floats) > len(inner) // 2:
        return "Model not quantized: convert with --mode int8"
    return None


def _check(sg: Subgraph, op: Operator, runtime: int) -> tuple[str, str]:
    first = SUPPORTED.get(op.op)
    if first is None:
        return NOT_SUPPORTED, f"{op.op} has no Edge TPU kernel"
    if first > runtime:
        return NOT_SUPPORTED, f"{op.op} needs runtime {first}"
    tensors = [sg.tensor(t) for t in (*op.inputs, *op.outputs) if t >= 0]
    bad_type = [t for t in tensors if t.dtype not in INTEGER]
    if bad_type:
        return DATA_TYPE, f"{bad_type[0].name} is {bad_type[0].dtype}"
    for t in tensors:
        if not t.is_constant and len(t.shape) > 3 and np.prod(t.shape[:-3]) > 1:
            return RANK, f"{t.name} has shape {list(t.shape)}"
    if op.op in WEIGHTED and not sg.tensor(op.inputs[1]).is_constant:
        return NOT_CONSTANT, "weights are computed at run time"
    return _limits(sg, op)


def _limits(sg: Subgraph, op: Operator) -> tuple[str, str]:
    out = sg.tensor(op.outputs[0])
    if op.op == "SOFTMAX" and out.num_elements > 16000:
        return LIMITATION, f"softmax over {out.num_elements} elements (at most 16,000)"
    if op.op == "FULLY_CONNECTED" and len(out.shape) > 2:
        return LIMITATION, "output is not 1-D per batch"
    if op.op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR") and out.num_elements > 128 * 128 * out.shape[-1]:
        return LIMITATION, "large resize outputs stay on the CPU"
    return MAPPED, ""


def _kib(n: int) -> str:
    return f"{n / 1024:.2f}KiB"
