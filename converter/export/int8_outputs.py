"""Give a mixed int8/int16 model the int8 outputs of the int8 model it replaces.

When the op that produces a model output runs with 16-bit activations (a softmax whose logits
need 16 bits, say), its output is int16. Appending one QUANTIZE op (int16 → int8, a
requantization every integer runtime has: LiteRT and tflite-micro) brings it back to int8 with
the int8 model's own scale and zero point, so the model stays fully integer and an app written
for the int8 model reads the mixed one unchanged. The tensor keeps its name and signature key.
"""
from __future__ import annotations

import copy

from ..errors import ConversionError

INT16_SUFFIX = "/int16"  # the int16 tensor an output was requantized from keeps its name with this suffix
QUANTIZE_VERSION = 1  # int16 → int8 needs no later version of the op (op_version.cc)


def requantize_outputs(mixed: bytes, int8: bytes) -> bytes:
    """`mixed` with each int16 output requantized to the int8 quantization of the same output
    (by position) of `int8`; `mixed` itself when no output is int16. Only the main subgraph (0) has model outputs."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(mixed))
    reference = flatbuffer_utils.read_model_from_bytearray(bytearray(int8)).subgraphs[0]
    graph = model.subgraphs[0]
    moved = {}  # old output tensor index -> the new int8 one
    for position, index in enumerate(graph.outputs):
        if graph.tensors[index].type == schema.TensorType.INT16:
            target = reference.tensors[reference.outputs[position]]
            if target.type != schema.TensorType.INT8 or list(target.shape) != list(graph.tensors[index].shape):
                raise ConversionError(f"output {position} of the int8 model is not the int8 twin of the mixed "
                                      "model's", hint="report this model; use QAT (edgeconv qat) meanwhile")
            moved[index] = _append_requantize(model, graph, index, target.quantization, schema)
    if not moved:
        return mixed
    graph.outputs = [moved.get(i, i) for i in graph.outputs]
    for signature in model.signatureDefs or []:
        if signature.subgraphIndex == 0:
            for output in signature.outputs or []:
                output.tensorIndex = moved.get(output.tensorIndex, output.tensorIndex)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _append_requantize(model, graph, index: int, quantization, schema) -> int:
    """Appends QUANTIZE(tensor `index`) → a new int8 tensor that takes over the name; returns it."""
    wide = graph.tensors[index]
    narrow = copy.deepcopy(wide)
    narrow.type = schema.TensorType.INT8
    narrow.quantization = copy.deepcopy(quantization)
    model.buffers.append(schema.BufferT())
    narrow.buffer = len(model.buffers) - 1
    wide.name = (wide.name or b"") + INT16_SUFFIX.encode()  # the object API keeps names as bytes
    graph.tensors.append(narrow)
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(model, schema.BuiltinOperator.QUANTIZE, schema)
    op.inputs, op.outputs = [index], [len(graph.tensors) - 1]
    graph.operators.append(op)
    return len(graph.tensors) - 1


def _opcode(model, builtin: int, schema) -> int:
    for k, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return k
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = QUANTIZE_VERSION
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1
