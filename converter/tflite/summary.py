"""A JSON-ready description of a .tflite model (what `edgeconv inspect` shows)."""
from __future__ import annotations

from pathlib import Path

from .arena import plan
from .integer_check import prove_integer
from .reader import ModelInfo, Subgraph, TensorInfo, read_model_file


def summarize(path: Path) -> dict:
    info = read_model_file(path)
    io_type = info.main.tensor(info.main.inputs[0]).dtype if info.main.inputs else "int8"
    return {
        "path": str(path),
        "size_bytes": info.size_bytes,
        "schema_version": info.version,
        "op_counts": info.op_counts(),
        "fully_integer": prove_integer(info, io_type).ok if io_type in ("int8", "uint8", "int16") else False,
        "subgraphs": [_subgraph(info, sg) for sg in info.subgraphs],
        "signatures": [{"key": s.key, "inputs": s.inputs, "outputs": s.outputs} for s in info.signatures],
    }


def _subgraph(info: ModelInfo, sg: Subgraph) -> dict:
    return {
        "index": sg.index,
        "name": sg.name,
        "operator_count": len(sg.operators),
        "inputs": [_tensor(sg.tensor(i)) for i in sg.inputs],
        "outputs": [_tensor(sg.tensor(i)) for i in sg.outputs],
        "operators": [{"op": op.op, "version": op.version} for op in sg.operators],
        "arena_estimate_bytes": plan(sg).arena_bytes,
    }


def _tensor(t: TensorInfo) -> dict:
    d = {"name": t.name, "dtype": t.dtype, "shape": list(t.shape_signature)}
    if t.is_quantized:
        d["quantization"] = {"scale": list(t.scales), "zero_point": list(t.zero_points)}
    return d
