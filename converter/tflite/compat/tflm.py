"""The builtin ops tflite-micro registers (its op resolver, nightly 2026-10), so a model can be
checked before anything runs on a board."""
from __future__ import annotations

from ..reader import ModelInfo

TFLM_OPS = frozenset("""
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND BROADCAST_ARGS
BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE DIV
ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER
GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOG_SOFTMAX LOGICAL_AND
LOGICAL_NOT LOGICAL_OR LOGISTIC MAX_POOL_2D MAXIMUM MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU
QUANTIZE READ_VARIABLE REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR ROUND RSQRT
SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE
SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE
WHILE ZEROS_LIKE
""".split())


def unsupported_ops(info: ModelInfo) -> list[str]:
    """Ops of the model tflite-micro cannot run (custom ops included), sorted."""
    return sorted({op.op for sg in info.subgraphs for op in sg.operators if op.op not in TFLM_OPS})


HYBRID_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "UNIDIRECTIONAL_SEQUENCE_LSTM"}
ETHOSU_OP = "CUSTOM:ethos-u"  # Vela's NPU command stream: runs in a tflite-micro build with the Ethos-U kernel


def micro_problems(info: ModelInfo, npu_build: bool = False) -> list[str]:
    """Why tflite-micro cannot run the model, read from the file: ops it does not register,
    float16 tensors (no float16 kernels), dynamic-range ("hybrid") ops with float activations
    and int8 weights (refused at prepare), free non-batch dimensions (sizes are fixed at
    allocation). `npu_build`: the Ethos-U kernel is there (firmware for an Ethos-U board)."""
    missing = [name for name in unsupported_ops(info) if not (npu_build and name == ETHOSU_OP)]
    problems = [f"op(s) it does not have: {', '.join(missing)}"] if missing else []
    tensors = [t for sg in info.subgraphs for t in sg.tensors]
    if any(t.dtype == "float16" for t in tensors):
        problems.append("float16 tensors (it has no float16 kernels): convert to int8 or float32")
    if any(_is_hybrid(sg, op) for sg in info.subgraphs for op in sg.operators if op.op in HYBRID_OPS):
        problems.append("dynamic-range ops (float activations with int8 weights): convert to full int8")
    free = info.free_size_inputs()
    if free:
        problems.append(f"input(s) with a free size other than the batch: {', '.join(free)}; "
                        "convert with fixed input sizes")
    return problems


def _is_hybrid(sg, op) -> bool:
    """Float data into an op with constant int8 weights (any weight slot: a CIFG LSTM leaves some empty)."""
    weights = [sg.tensor(t) for t in op.inputs[1:] if t >= 0]
    return sg.tensor(op.inputs[0]).dtype == "float32" and any(w.is_constant and w.dtype == "int8" for w in weights)
