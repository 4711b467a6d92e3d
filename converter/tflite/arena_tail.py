"""The persistent tail of tflite-micro's arena, replayed allocation by allocation.

TFLM's SingleArenaBufferAllocator hands out persistent buffers from the arena's end downwards,
each aligned down to what its caller asks (alignof the struct, or 16 for
MicroAllocator::AllocatePersistentBuffer). Replaying the same requests in the same order gives
the same tail, padding included. The order follows MicroInterpreter::AllocateTensors
(micro_interpreter.cc) and MicroAllocator (micro_allocator.cc):

  allocator objects -> resource variables -> builtin-data allocator, SubgraphAllocations ->
  TfLiteEvalTensor arrays -> NodeAndRegistration arrays -> parsed builtin options ->
  kernels' Init (op data) -> kernels' Prepare (per-channel arrays, LUTs, variable buffers) ->
  scratch-buffer handles -> variable tensors -> persistent TfLiteTensors of the main inputs/outputs.
"""
from __future__ import annotations

from . import tflm_structs as S
from .layout import Abi, Struct
from .reader import ModelInfo, Subgraph

BUFFER_ALIGNMENT = 16  # MicroArenaBufferAlignment()
INT16_LUT_ENTRIES = 513  # softmax_common.cc: LUTSize<int16_t>()
_CONV_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}  # kConvQuantizedDimension, kDepthwise...


class _Tail:
    def __init__(self, abi: Abi):
        self.abi, self.used = abi, 0

    def alloc(self, size: int, align: int = BUFFER_ALIGNMENT) -> None:
        self.used = (self.used + size + align - 1) // align * align

    def struct(self, s: Struct, count: int = 1) -> None:
        self.alloc(s.size(self.abi) * count, s.align(self.abi))

    def buffer(self, size: int) -> None:  # AllocatePersistentBuffer(bytes): 16-byte aligned
        self.alloc(size, BUFFER_ALIGNMENT)


def variable_names(info: ModelInfo) -> list[str]:
    """Unique resource variables (the tflite_micro wheel sizes MicroResourceVariables so)."""
    return sorted({op.variable for sg in info.subgraphs for op in sg.operators if op.op == "VAR_HANDLE"})


def tail_bytes(info: ModelInfo, abi: Abi) -> tuple[int, tuple[str, ...]]:
    t = _Tail(abi)
    t.struct(S.arena_allocator(abi))
    t.struct(S.GREEDY_MEMORY_PLANNER)
    t.struct(S.allocator(abi))
    variables = variable_names(info)
    if variables:  # MicroResourceVariables::Create
        t.buffer(S.MICRO_RESOURCE_VARIABLES.size(abi))
        t.buffer(S.MICRO_RESOURCE_VARIABLE.size(abi) * len(variables))
    t.struct(S.MICRO_BUILTIN_DATA_ALLOCATOR)
    t.struct(S.subgraph_allocations(abi), len(info.subgraphs))
    for sg in info.subgraphs:
        t.struct(S.TFLITE_EVAL_TENSOR, len(sg.tensors))
    for sg in info.subgraphs:
        t.struct(S.NODE_AND_REGISTRATION, len(sg.operators))
    for op in _ops(info):
        if op.op in S.BUILTIN_DATA:
            t.struct(S.BUILTIN_DATA[op.op])
    unknown = _init(t, info)
    _prepare(t, info)
    scratch = sum(len(v) for v in scratch_requests(info).values())
    if scratch:
        t.struct(S.SCRATCH_BUFFER_HANDLE, scratch)
    for sg in info.subgraphs:  # MicroAllocator::AllocateVariables
        for tensor in sg.tensors:
            if tensor.is_variable:
                t.buffer(tensor.nbytes)
    _boundary_tensors(t, info.main)
    return t.used, unknown


def _ops(info: ModelInfo):
    return [op for sg in info.subgraphs for op in sg.operators]


def _init(t: _Tail, info: ModelInfo) -> tuple[str, ...]:
    unknown = []
    for op in _ops(info):
        data = S.op_data(op.op, t.abi)
        if data is not None:
            t.buffer(data.size(t.abi))
        elif op.op not in S.NO_OP_DATA:
            t.buffer(S.UNKNOWN_OP_DATA)
            unknown.append(op.op)
    return tuple(sorted(set(unknown)))


def _prepare(t: _Tail, info: ModelInfo) -> None:
    """What kernels' Prepare adds: per-channel multipliers and shifts (conv_common.cc,
    depthwise_conv_common.cc, fully_connected_common.cc), int16 softmax LUTs
    (softmax_common.cc), and a resource variable's buffer on its first ASSIGN_VARIABLE
    (assign_variable.cc -> MicroResourceVariables::Allocate)."""
    assigned: set[str] = set()
    for sg in info.subgraphs:
        handles = {op.outputs[0]: op.variable for op in sg.operators if op.op == "VAR_HANDLE" and op.outputs}
        for op in sg.operators:
            for size in _prepare_buffers(sg, op, handles, assigned):
                t.buffer(size)


def _prepare_buffers(sg: Subgraph, op, handles: dict[int, str], assigned: set[str]) -> list[int]:
    if op.op in _CONV_CHANNEL_AXIS:
        channels = sg.tensor(op.inputs[1]).shape[_CONV_CHANNEL_AXIS[op.op]]
        return [4 * channels] * 2
    if op.op == "FULLY_CONNECTED":
        scales = len(sg.tensor(op.inputs[1]).scales)
        return [4 * scales] * 2 if scales > 1 else []
    if op.op == "SOFTMAX" and sg.tensor(op.inputs[0]).dtype == "int16":
        return [2 * INT16_LUT_ENTRIES] * 2
    if op.op == "ASSIGN_VARIABLE":
        name = handles.get(op.inputs[0])
        if name is not None and name not in assigned:
            assigned.add(name)
            return [sg.tensor(op.inputs[1]).nbytes]
    return []


def _boundary_tensors(t: _Tail, main: Subgraph) -> None:
    """MicroInterpreter::AllocateTensors: a pointer array, then a persistent TfLiteTensor
    (with its quantization copied from the flatbuffer) per main input, then per output."""
    for indices in (main.inputs, main.outputs):
        t.buffer(t.abi.word * len(indices))
        for i in indices:
            t.struct(S.TFLITE_TENSOR)
            tensor = main.tensor(i)
            if tensor.scales and tensor.zero_points:
                t.struct(S.TFLITE_AFFINE_QUANTIZATION)
                t.alloc(4 + 4 * len(tensor.scales), 4)  # TfLiteIntArray of zero points


def scratch_requests(info: ModelInfo) -> dict[tuple[int, int], list[int]]:
    """Scratch buffers kernels request in Prepare, by (subgraph, op): planned in the head,
    one handle each in the tail."""
    out = {}
    for sg in info.subgraphs:
        for op in sg.operators:
            sizes = _scratch(sg, op)
            if sizes:
                out[(sg.index, op.index)] = sizes
    return out


def _scratch(sg: Subgraph, op) -> list[int]:
    if op.op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"):  # reduce_common.cc
        x, axis = sg.tensor(op.inputs[0]), sg.tensor(op.inputs[1])
        iters = [4 * len(x.shape), 4 * axis.num_elements]
        if op.op in ("MEAN", "SUM") and x.dtype in ("int8", "int16"):
            return [4 * sg.tensor(op.outputs[0]).num_elements, *iters]
        return iters
    if op.op == "UNIDIRECTIONAL_SEQUENCE_LSTM":  # unidirectional_sequence_lstm.cc: four gate buffers
        state, cell = sg.tensor(op.inputs[18]), sg.tensor(op.inputs[19])
        per_element = cell.nbytes // max(cell.num_elements, 1)
        return [state.num_elements * per_element] * 4
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and sg.tensor(op.inputs[1]).dtype == "int4":
        return [sg.tensor(op.inputs[1]).num_elements]  # unpacked int4 filter
    return []
