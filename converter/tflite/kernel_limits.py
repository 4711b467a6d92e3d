"""Preconditions that some TFLite kernels check with an abort (TFLITE_CHECK), not an error
status: the runtime kills the whole process while preparing the op. Checked from the file
before a runtime opens the model, so the user reads the op and the reason, not a signal.

SOFTMAX on int8/uint8 input, in LiteRT's reference kernels and in tflite-micro: Prepare calls
PreprocessSoftmaxScaling(beta, input_scale, 5), which turns beta * input_scale * 2^26 into a
fixed-point multiplier with QuantizeMultiplierGreaterThanOne, and that aborts unless the
product exceeds 1. So an input scale at or below 2^-26 / beta (1.5e-8 for beta 1) aborts.
Such a scale means the calibrated logits span less than ~4e-6: they were (nearly) constant
on the calibration data, as in an untrained model whose activations die out. LiteRT's
optimized kernels (the XNNPACK setting) build a lookup table instead and run it.
"""
from __future__ import annotations

from ..errors import ModelError
from .reader import ModelInfo

SOFTMAX_MIN_PRODUCT = 2.0 ** -26  # beta * input scale must exceed this (5 integer bits of 31)
RUNTIMES = {"reference": "LiteRT's reference kernels", "micro": "tflite-micro"}


def aborting_ops(info: ModelInfo) -> list[str]:
    """A sentence for each op whose Prepare aborts on the reference kernels and tflite-micro."""
    problems = []
    for sg in info.subgraphs:
        for op in sg.operators:
            if op.op != "SOFTMAX" or op.inputs[0] < 0:
                continue
            t = sg.tensor(op.inputs[0])
            if t.dtype not in ("int8", "uint8") or not t.scales:
                continue
            if op.beta * t.scales[0] <= SOFTMAX_MIN_PRODUCT:
                where = f"subgraph {sg.index} " if sg.index else ""
                problems.append(
                    f"SOFTMAX #{op.index} {where}has an input scale of {t.scales[0]:.3g} (beta {op.beta:g}); its "
                    f"kernel needs beta × scale > 2^-26 ({SOFTMAX_MIN_PRODUCT:.3g}) and aborts otherwise: the "
                    f"calibrated logits ('{t.name[:60]}') span only {t.scales[0] * 255:.2g}, i.e. they were "
                    "constant on the calibration data")
    return problems


def check_runnable(info: ModelInfo, runtime: str) -> None:
    """Raise ModelError naming the op, before `runtime` (a key of RUNTIMES) aborts on it."""
    problems = aborting_ops(info)
    if problems:
        raise ModelError(f"{RUNTIMES[runtime]} cannot run this model: {problems[0]}"
                         + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                         hint="an untrained model or activations that are all zero give constant logits: "
                              "convert the trained model, with calibration data that varies its outputs; "
                              "LiteRT's optimized kernels run it (validate --kernels xnnpack on the host)")
