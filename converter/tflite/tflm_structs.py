"""The structs tflite-micro places in the persistent tail of the arena, transcribed from its
source (tensorflow/tflite-micro, 2026-08, the nightly the `tflite_micro` wheel is built from).
Paths are relative to tensorflow/lite/micro/ unless they start with tensorflow/.

Sizes come from the field lists through layout.Struct, for either word size. Fields only present
with USE_TFLM_COMPRESSION are added by `_compressed()`.
"""
from __future__ import annotations

from .layout import Abi, Struct

# --- runtime structs (tensorflow/lite/core/c/common.h with TF_LITE_STATIC_MEMORY) ---
TFLITE_EVAL_TENSOR = Struct("TfLiteEvalTensor", ("p", "p", "i"))  # data, dims, type
TFLITE_QUANTIZATION = Struct("TfLiteQuantization", ("i", "p"))  # type, params
TFLITE_TENSOR = Struct("TfLiteTensor", (TFLITE_QUANTIZATION, "i", "i",  # quantization, params{scale, zero_point}
                                        "p", "p", "p", "i", "i", "b"))  # data, dims, bytes, type, allocation_type, is_variable
TFLITE_NODE = Struct("TfLiteNode", ("p", "p", "p", "p", "p", "p", "i"))  # inputs..custom_initial_data, its size
TFLITE_AFFINE_QUANTIZATION = Struct("TfLiteAffineQuantization", ("p", "p", "i"))  # scale, zero_point, quantized_dimension

# --- micro_allocator.h ---
NODE_AND_REGISTRATION = Struct("NodeAndRegistration", (TFLITE_NODE, "p"))
SCRATCH_BUFFER_HANDLE = Struct("ScratchBufferHandle", ("p",))
MICRO_ALLOCATOR = Struct("MicroAllocator", ("v", "p", "p", "p", "p", "b", "p", "p", "p"))
# arena_allocator/single_arena_buffer_allocator.h: two interface vptrs, head/tail/temp pointers,
# temp_buffer_ptr_check_sum_, temp_buffer_count_
SINGLE_ARENA_BUFFER_ALLOCATOR = Struct("SingleArenaBufferAllocator", ("v", "v", "p", "p", "p", "p", "p", "p", "i"))
# arena_allocator/recording_single_arena_buffer_allocator.h: four size_t counters
RECORDING_SINGLE_ARENA_BUFFER_ALLOCATOR = SINGLE_ARENA_BUFFER_ALLOCATOR.extend(
    "RecordingSingleArenaBufferAllocator", "p", "p", "p", "p")
RECORDED_ALLOCATION = Struct("RecordedAllocation", ("p", "p", "p"))  # recording_micro_allocator.h
# memory_planner/greedy_memory_planner.h
GREEDY_MEMORY_PLANNER = Struct("GreedyMemoryPlanner", ("v", "i", "i", "p", "p", "p", "p", "i", "i", "p", "b"))
# micro_allocator.cc MicroBuiltinDataAllocator: vptr + persistent allocator pointer
MICRO_BUILTIN_DATA_ALLOCATOR = Struct("MicroBuiltinDataAllocator", ("v", "p"))
# micro_resource_variable.h
MICRO_RESOURCE_VARIABLES = Struct("MicroResourceVariables", ("p", "i", "i"))
MICRO_RESOURCE_VARIABLE = Struct("MicroResourceVariable", ("p", "p", "p", "p", "b"))


def subgraph_allocations(abi: Abi) -> Struct:
    # node_and_registrations, tensors (+ CompressedTensorList{tensors} with compression)
    return Struct("SubgraphAllocations", ("p", "p", "p") if abi.compression else ("p", "p"))


def allocator(abi: Abi) -> Struct:
    if not abi.recording:
        return MICRO_ALLOCATOR
    records = 8 if abi.compression else 7  # one RecordedAllocation per RecordedAllocationType
    return MICRO_ALLOCATOR.extend("RecordingMicroAllocator", "p", *([RECORDED_ALLOCATION] * records))


def arena_allocator(abi: Abi) -> Struct:
    return RECORDING_SINGLE_ARENA_BUFFER_ALLOCATOR if abi.recording else SINGLE_ARENA_BUFFER_ALLOCATOR


# --- builtin data: what the flatbuffer parsers allocate per op
# (tensorflow/lite/core/api/flatbuffer_conversions.cc; structs in
# tensorflow/compiler/mlir/lite/core/c/builtin_op_data.h). Ops absent here parse to nothing.
_PADDING_VALUES = Struct("TfLitePaddingValues", ("i", "i", "i", "i"))
BUILTIN_DATA: dict[str, Struct] = {
    "CONV_2D": Struct("TfLiteConvParams", ("i",) * 7),
    "DEPTHWISE_CONV_2D": Struct("TfLiteDepthwiseConvParams", ("i",) * 7),
    "TRANSPOSE_CONV": Struct("TfLiteTransposeConvParams", ("i",) * 5),
    # The wheel's ParseFullyConnected allocates 32 B aligned to 8 on x86-64 (read from its machine
    # code): newer than the source above, the struct gained pointer-sized fields (FullyConnectedOptions
    # now carries a quant_spec vector). Modelled as two trailing pointer-sized fields.
    "FULLY_CONNECTED": Struct("TfLiteFullyConnectedParams", ("i", "i", "b", "b", "i", "p", "p")),
    "AVERAGE_POOL_2D": Struct("TfLitePoolParams", ("i",) * 6 + (_PADDING_VALUES,)),
    "MAX_POOL_2D": Struct("TfLitePoolParams", ("i",) * 6 + (_PADDING_VALUES,)),
    "L2_POOL_2D": Struct("TfLitePoolParams", ("i",) * 6 + (_PADDING_VALUES,)),
    "SVDF": Struct("TfLiteSVDFParams", ("i", "i", "b")),
    "SOFTMAX": Struct("TfLiteSoftmaxParams", ("i",)),
    "CONCATENATION": Struct("TfLiteConcatenationParams", ("i", "i")),
    "ADD": Struct("TfLiteAddParams", ("i", "b")),
    "SUB": Struct("TfLiteSubParams", ("i", "b")),
    "MUL": Struct("TfLiteMulParams", ("i",)),
    "DIV": Struct("TfLiteDivParams", ("i",)),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": Struct("TfLiteUnidirectionalSequenceLSTMParams", ("i", "i", "i", "b", "b", "b")),
    "RESHAPE": Struct("TfLiteReshapeParams", (("i", 8), "i")),  # TFLITE_RESHAPE_PARAMS_MAX_DIMENSION_COUNT 8
    "CAST": Struct("TfLiteCastParams", ("i", "i")),
    "GATHER": Struct("TfLiteGatherParams", ("i", "i")),
    "MEAN": Struct("TfLiteReducerParams", ("b",)),
    "SUM": Struct("TfLiteReducerParams", ("b",)),
    "REDUCE_MAX": Struct("TfLiteReducerParams", ("b",)),
    "REDUCE_MIN": Struct("TfLiteReducerParams", ("b",)),
    "REDUCE_PROD": Struct("TfLiteReducerParams", ("b",)),
    "SPLIT": Struct("TfLiteSplitParams", ("i",)),
    "SPLIT_V": Struct("TfLiteSplitVParams", ("i",)),
    "SQUEEZE": Struct("TfLiteSqueezeParams", (("i", 8), "i")),
    "STRIDED_SLICE": Struct("TfLiteStridedSliceParams", ("i",) * 5 + ("b",)),
    "ARG_MAX": Struct("TfLiteArgMaxParams", ("i",)),
    "ARG_MIN": Struct("TfLiteArgMinParams", ("i",)),
    "SHAPE": Struct("TfLiteShapeParams", ("i",)),
    "PACK": Struct("TfLitePackParams", ("i", "i")),
    "UNPACK": Struct("TfLiteUnpackParams", ("i", "i")),
    "LEAKY_RELU": Struct("TfLiteLeakyReluParams", ("i",)),
    "IF": Struct("TfLiteIfParams", ("i", "i")),
    "WHILE": Struct("TfLiteWhileParams", ("i", "i")),
    "CALL_ONCE": Struct("TfLiteCallOnceParams", ("i",)),
    "VAR_HANDLE": Struct("TfLiteVarHandleParams", ("p", "p")),
    "RESIZE_BILINEAR": Struct("TfLiteResizeBilinearParams", ("b", "b")),
    "RESIZE_NEAREST_NEIGHBOR": Struct("TfLiteResizeNearestNeighborParams", ("b", "b")),
    "DEPTH_TO_SPACE": Struct("TfLiteDepthToSpaceParams", ("i",)),
    "SPACE_TO_DEPTH": Struct("TfLiteSpaceToDepthParams", ("i",)),
    "MIRROR_PAD": Struct("TfLiteMirrorPaddingParams", ("i",)),
    "L2_NORMALIZATION": Struct("TfLiteL2NormParams", ("i",)),
    "BATCH_MATMUL": Struct("TfLiteBatchMatMulParams", ("b", "b", "b")),
    "CUMSUM": Struct("TfLiteCumsumParams", ("b", "b")),
}

# --- per-op data each kernel's Init allocates (context->AllocatePersistentBuffer, 16-byte aligned)
# Reference kernels (kernels/*.cc); CMSIS-NN and other optimized kernels keep different OpData.
_QUANTIZATION_PARAMS = Struct("QuantizationParams", ("i", "q"))  # tensorflow/lite/kernels/internal/types.h
_DEQUANTIZATION_PARAMS = Struct("DequantizationParams", ("q", "i"))  # .../internal/types.h
_ARITHMETIC_PARAMS = Struct("ArithmeticParams", ("i",) * 15 + ("q", "q", "h", "h", ("i", 5)))  # .../internal/types.h
# .../internal/types.h; weights_format is an `enum class ... : uint8_t`
_FULLY_CONNECTED_PARAMS = Struct("FullyConnectedParams", ("i",) * 9 + ("b", "b", "b"))
_GATE_PARAMETERS = Struct("GateParameters", (_FULLY_CONNECTED_PARAMS, _FULLY_CONNECTED_PARAMS))  # kernels/lstm_shared.h
_PAD_PARAMS = Struct("PadParams", ("b", ("i", 5), "b", ("i", 5), "i"))  # .../internal/types.h
_CONCATENATION_PARAMS = Struct("ConcatenationParams", ("i", "p", "p", "i", "i", "i"))  # .../internal/types.h
_OP_DATA_CONV = Struct("OpDataConv", (_PADDING_VALUES,) + ("i",) * 5 + ("p", "p", "i", "i", "i"))  # kernels/conv.h
_OP_DATA_FULLY_CONNECTED = Struct("OpDataFullyConnected", ("i",) * 9 + ("p", "p", "b"))  # kernels/fully_connected.h
_OP_DATA_POOLING = Struct("OpDataPooling", (_PADDING_VALUES, "i", "i", "i", "i"))  # kernels/pooling.h
_OP_DATA_REDUCE = Struct("OpDataReduce", ("i",) * 11)  # kernels/reduce.h
_SOFTMAX_PARAMS = Struct("SoftmaxParams", ("q",) + ("i",) * 7 + ("p",) * 5)  # .../internal/types.h

OP_DATA: dict[str, Struct] = {
    "CONV_2D": _OP_DATA_CONV,  # conv_common.cc ConvInit
    "DEPTHWISE_CONV_2D": _OP_DATA_CONV,  # depthwise_conv.cc
    "FULLY_CONNECTED": _OP_DATA_FULLY_CONNECTED,  # fully_connected.cc
    "ADD": Struct("OpDataAdd", ("b",) + ("i",) * 14),  # kernels/add.h
    "SUB": Struct("OpDataSub", ("b",) + ("i",) * 12),  # kernels/sub.h
    "MUL": Struct("OpDataMul", ("i",) * 9),  # kernels/mul.h
    "AVERAGE_POOL_2D": _OP_DATA_POOLING,  # pooling.cc
    "MAX_POOL_2D": _OP_DATA_POOLING,
    "SOFTMAX": _SOFTMAX_PARAMS,  # softmax_common.cc SoftmaxInit
    "DEQUANTIZE": Struct("DequantizeOpData", (_DEQUANTIZATION_PARAMS, "i", "i", "i")),  # kernels/dequantize.h
    "QUANTIZE": Struct("OpDataQuantizeReference", (_QUANTIZATION_PARAMS, "i", "i", "i")),  # kernels/quantize.h
    "MEAN": _OP_DATA_REDUCE,  # reduce.cc
    "SUM": _OP_DATA_REDUCE,
    "REDUCE_MAX": _OP_DATA_REDUCE,
    "REDUCE_MIN": _OP_DATA_REDUCE,
    "LOGISTIC": Struct("OpDataLogistic", ("i",) * 4),  # kernels/logistic.h
    "TANH": Struct("OpData", ("i",) * 4),  # tanh.cc
    "RELU": Struct("ReluOpData", ("i",) * 7),  # kernels/activations.h (ReluParams : ActivationParams)
    "RELU6": Struct("Relu6OpData", ("i", "i")),  # kernels/activations.h
    "LEAKY_RELU": Struct("LeakyReluOpData", ("i",) * 6),  # kernels/leaky_relu.h
    "HARD_SWISH": Struct("HardSwishParams", ("h", "h", "h", "i", "h", "i")),  # .../internal/types.h
    "CONCATENATION": Struct("OpData", (_CONCATENATION_PARAMS,)),  # concatenation.cc
    "PAD": Struct("OpData", (_PAD_PARAMS, "i")),  # kernels/pad.h
    "PADV2": Struct("OpData", (_PAD_PARAMS, "i")),
    "STRIDED_SLICE": Struct("StridedSliceParams", ("b", ("i", 5), "b", ("i", 5), "b", ("i", 5),
                                                   "h", "h", "h", "h", "h", "b")),  # .../internal/types.h
    "SQUARED_DIFFERENCE": Struct("OpData", ("b", _ARITHMETIC_PARAMS)),  # squared_difference.cc
    "SVDF": Struct("OpDataSvdf", ("i",) * 9),  # kernels/svdf.h
    "UNIDIRECTIONAL_SEQUENCE_LSTM": Struct("OpDataLSTM", (  # kernels/lstm_shared.h
        Struct("LstmSizeInfo", ("b", "i", "i", "i", "i")), Struct("CellStateInfo", ("i", "h", "i")), "i",
        _GATE_PARAMETERS, _GATE_PARAMETERS, _GATE_PARAMETERS, _GATE_PARAMETERS,
        Struct("InterGateParameters", (_ARITHMETIC_PARAMS,) * 3), ("i", 4))),
    "VAR_HANDLE": Struct("OpData", ("i",)),  # var_handle.cc: resource_id
    "ASSIGN_VARIABLE": Struct("OpData", ("i",)),  # assign_variable.cc: scratch_index
    "CALL_ONCE": Struct("OpData", ("i", "b")),  # call_once.cc
    "IF": Struct("OpData", ("i", "i")),  # if.cc
    "WHILE": Struct("OpData", ("i", "i")),  # while.cc
}

# Fields that exist only with USE_TFLM_COMPRESSION (decompression scratch indices).
_COMPRESSION_FIELDS = {"CONV_2D": ("i", "i"), "DEPTHWISE_CONV_2D": ("i", "i"), "FULLY_CONNECTED": ("i", "i"),
                       "CONCATENATION": (("i", 10),)}  # concatenation.cc kMaxInputNum


def op_data(op: str, abi: Abi) -> Struct | None:
    base = OP_DATA.get(op)
    if base is None or not abi.compression or op not in _COMPRESSION_FIELDS:
        return base
    return base.extend(base.name, *_COMPRESSION_FIELDS[op])


# Ops whose kernels allocate nothing persistent of their own (no Init buffer).
NO_OP_DATA = frozenset({
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "GATHER", "SHAPE", "PACK", "UNPACK", "SPLIT", "SPLIT_V",
    "READ_VARIABLE", "SLICE", "CAST", "FLOOR", "ABS", "NEG", "MAXIMUM", "MINIMUM", "ARG_MAX", "ARG_MIN",
    "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "ZEROS_LIKE", "FILL",
    "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT",
    "BROADCAST_TO", "BROADCAST_ARGS", "GATHER_ND", "BATCH_TO_SPACE_ND", "FLOOR_DIV", "FLOOR_MOD",
})

# What an op not transcribed here is assumed to keep (Init data); larger than any table entry
# but the LSTM's, so an unknown op errs on the side of a bigger arena.
UNKNOWN_OP_DATA = 128
