"""QAT starts from calibrated activation ranges, not from TFMOT's initial ones.

TFMOT's activation quantizers start every range at [-6, 6] and move it by an exponential
moving average with decay 0.999: after the few hundred steps of a fine-tune the range is still
mostly the initial one, so training and the converter quantize a [0, 2] activation with a
[-4, 5] grid (the reason QAT scored below plain PTQ here). Before training, the QAT model is
run once over the calibration data with its quantizers replaced: weight quantizers pass
values through and activation quantizers record the min/max they see (including 0, as TFLite
needs). The activations are then exactly the float model's, so the ranges are the ones PTQ's
min/max calibration would pick, and training adjusts them from there.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset
from .train import model_inputs

CALIBRATION_SAMPLES = 1024  # the most samples the ranges are taken over
BATCH = 32


def start_from_calibrated_ranges(qat_model, data: Dataset, samples: int = CALIBRATION_SAMPLES) -> int:
    """Set every activation range of `qat_model` to the min/max over `data`; returns how many
    ranges were set."""
    seen: dict = {}
    xs = model_inputs(data, samples)
    count = len(xs[0]) if isinstance(xs, list) else len(xs)
    with _recording(seen):
        for start in range(0, count, BATCH):
            batch = [x[start:start + BATCH] for x in xs] if isinstance(xs, list) else xs[start:start + BATCH]
            qat_model(batch, training=False)
    return len(seen)


@contextlib.contextmanager
def _recording(seen: dict):
    ops = keras_env.tfmot_quant_ops()
    saved = ops.MovingAvgQuantize, ops.AllValuesQuantize, ops.LastValueQuantize

    def record(inputs, min_var, max_var, per_channel=False, symmetric=False, num_bits=8, narrow_range=False,
               **_):
        low, high = _range(inputs, per_channel, symmetric, num_bits, narrow_range)
        key = min_var.ref()
        if key in seen:  # a later batch: widen the range recorded so far
            low, high = np.minimum(low, min_var.numpy()), np.maximum(high, max_var.numpy())
        seen[key] = True
        min_var.assign(low)
        max_var.assign(high)
        return inputs

    def passthrough(inputs, *_, **__):
        return inputs

    ops.MovingAvgQuantize, ops.AllValuesQuantize, ops.LastValueQuantize = record, record, passthrough
    try:
        yield
    finally:
        ops.MovingAvgQuantize, ops.AllValuesQuantize, ops.LastValueQuantize = saved


def _range(inputs, per_channel: bool, symmetric: bool, num_bits: int, narrow_range: bool):
    """The batch's range as TFMOT's MovingAvgQuantize computes it (0 always inside)."""
    values = np.asarray(inputs)
    axes = tuple(range(values.ndim - 1)) if per_channel and values.ndim >= 2 else None
    low, high = values.min(axis=axes), values.max(axis=axes)
    if symmetric:
        ratio = -1.0 if narrow_range else -((1 << num_bits) - 2) / (1 << num_bits)
        return np.minimum(low, high / ratio), np.maximum(high, low * ratio)
    return np.minimum(low, 0.0), np.maximum(high, 0.0)
