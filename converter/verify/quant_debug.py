"""Which layers lose the most to quantization: TFLite's QuantizationDebugger runs the float
and the quantized model side by side and records every quantized tensor's error.

Layers are ranked by RMSE in units of their quantization step (scale), the debugger's own
recommended metric: above ~0.3-0.5 LSB a layer is a candidate for float or 16-bit activations.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass

from .. import keras_env
from ..inputs.data import Dataset, calibration_indices
from ..export.tflite import ConvertOptions, fixed_shapes, make_converter, representative
from ..logs import quiet_python_warnings
from ..tflite.integer_check import layer_of


@dataclass(frozen=True)
class LayerError:
    layer: str
    op: str
    tensor: str
    rmse_lsb: float  # sqrt(mean squared error) / scale
    max_abs_error: float
    scale: float

    def to_dict(self) -> dict:
        return asdict(self)


def layer_errors(model, calibration: Dataset, debug: Dataset, options: ConvertOptions = ConvertOptions(),
                 debug_samples: int = 50) -> list[LayerError]:
    """Worst layers first. Calibrates as `convert` does; measures on `debug` samples."""
    dump = _layer_statistics(model, calibration, debug, options, debug_samples)
    keras_env.release_graphs()  # the debugger's two converted models and traced graphs are garbage now
    rows = [_row(r) for r in csv.DictReader(io.StringIO(dump))]
    return sorted((r for r in rows if r is not None), key=lambda r: -r.rmse_lsb)


def _layer_statistics(model, calibration: Dataset, debug: Dataset, options: ConvertOptions, debug_samples: int) -> str:
    """The QuantizationDebugger's per-tensor statistics, as CSV."""
    tf = keras_env.tf()
    float_io = ConvertOptions(**{**options.__dict__, "io_type": "float32"})  # the debugger needs float I/O
    converter = make_converter(model, float_io, fixed_shapes(model, calibration))
    converter.representative_dataset = representative(
        calibration.take(calibration_indices(calibration, options.samples, options.seed)), options.batch_size)
    debug_set = debug.take(calibration_indices(debug, debug_samples, options.seed))
    with quiet_python_warnings():
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative(debug_set, options.batch_size))
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    return dump.getvalue()


def _row(r: dict) -> LayerError | None:
    scale = float(r["scale"])
    if scale <= 0:
        return None
    return LayerError(layer_of(r["tensor_name"]), r["op_name"], r["tensor_name"],
                      math.sqrt(float(r["mean_squared_error"])) / scale, float(r["max_abs_error"]), scale)
