"""A JSON-ready description of a .tflite model (what `edgeconv inspect` shows)."""
from __future__ import annotations

from pathlib import Path

from .arena import arena_figures, plan
from .integer_check import IntegerStatus, integer_status
from .macs import model_macs
from .reader import ModelInfo, Subgraph, TensorInfo, read_model_file


def summarize(path: Path, tensors: bool = False) -> dict:
    info = read_model_file(path)
    return {
        "path": str(path),
        "size_bytes": info.size_bytes,
        "schema_version": info.version,
        "op_counts": info.op_counts(),
        "custom_ops": sorted({op.op for sg in info.subgraphs for op in sg.operators if op.is_custom}),
        **_integer(integer_status(info)),
        "weights": _weights(info),
        "macs": model_macs(info.main),
        "arena": arena_figures(info)["arena_estimate"],
        "free_size_inputs": info.free_size_inputs(),  # MACs and arena above hold for the file's placeholder sizes
        "metadata": list(info.metadata_names),
        "subgraphs": [_subgraph(sg, tensors) for sg in info.subgraphs],
        "signatures": [{"key": s.key, "inputs": s.inputs, "outputs": s.outputs} for s in info.signatures],
    }


def _integer(status: IntegerStatus) -> dict:
    """Ops and I/O types apart: int8 in and uint8 out is still fully integer."""
    return {"fully_integer": status.fully_integer, "integer_ops": status.integer_ops,
            "integer_io": status.integer_io,
            "io_types": {"inputs": list(status.input_types), "outputs": list(status.output_types)},
            "float_ops": [{"op": o.op, "index": o.op_index, "layer": o.layer} for o in status.float_ops]}


def _weights(info: ModelInfo) -> dict:
    """Bytes of constant tensors by dtype, and which are sparse (DENSIFY) or float16."""
    by_dtype: dict[str, int] = {}
    sparse = 0
    for sg in info.subgraphs:
        for t in sg.tensors:
            if t.is_constant:
                by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.nbytes
                sparse += t.is_sparse
    return {"bytes_by_dtype": dict(sorted(by_dtype.items())), "sparse_tensors": sparse,
            "float16": "float16" in by_dtype}


def _subgraph(sg: Subgraph, tensors: bool) -> dict:
    out = {
        "index": sg.index,
        "name": sg.name,
        "operator_count": len(sg.operators),
        "inputs": [_tensor(sg.tensor(i)) for i in sg.inputs],
        "outputs": [_tensor(sg.tensor(i)) for i in sg.outputs],
        "operators": [{"op": op.op, "version": op.version} for op in sg.operators],
        "dynamic": any(sg.tensor(i).is_dynamic for i in sg.inputs),
        "variables": sum(t.is_variable or t.dtype == "resource" for t in sg.tensors),
        "arena_estimate_bytes": plan(sg).arena_bytes,
    }
    if tensors:
        out["tensors"] = [_tensor(t) for t in sg.tensors]
    return out


def _tensor(t: TensorInfo) -> dict:
    d = {"index": t.index, "name": t.name, "dtype": t.dtype, "shape": list(t.shape_signature)}
    if t.is_constant:
        d["constant"] = True
    if t.is_quantized:
        d["quantization"] = {"scale": list(t.scales), "zero_point": list(t.zero_points),
                             "axis": t.quantized_dimension}
    return d
