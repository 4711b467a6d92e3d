"""edgetpu: predict the EdgeTPU compiler's mapping op by op from the published rules."""
from __future__ import annotations

from dataclasses import dataclass

from ...settings import normalise, setting
from ..context import Context

NAME = "edgetpu"
PHASE = "model"


@dataclass(frozen=True)
class EdgeTpuConfig:
    runtime: int = setting(14, choices=(13, 14),
                           help="EdgeTPU runtime version of the device (compiler 16 targets 14; older boards need 13).")
    require_full_mapping: bool = setting(False, help="Fail unless the graph maps in one piece (only a float "
                                                     "input's QUANTIZE and output's DEQUANTIZE may stay on the CPU).")

    def __post_init__(self):
        normalise(self, NAME)


def run(context: Context, config: EdgeTpuConfig):
    """Adds the `edgetpu` section, its log as an artifact, and the mapping check: always when a
    model cannot map at all, and for a split when full mapping is required."""
    from ...tflite.compat.edgetpu import predict
    from ...tflite.reader import read_model

    prediction = predict(read_model(context.tflite.read()), config.runtime)
    context.write("edgetpu_prediction.log", (prediction.log(context.tflite.name) + "\n").encode(), "log",
                  parent=context.tflite)
    context.report.add("edgetpu", **{k: v for k, v in prediction.summary().items() if k != "ops"})
    split = prediction.split
    edges = sum(o.at_edge for o in prediction.ops)
    detail = (prediction.fatal or f"{prediction.mapped} of {len(prediction.ops)} ops map"
              + (f" ({edges} float I/O conversion(s) on the CPU)" if edges else "")
              + (f"; splits at op #{split.index} {split.op}: {split.status}" if split else ""))
    if config.require_full_mapping or prediction.fatal:
        context.report.check("edgetpu mapping", prediction.fatal is None and split is None, detail)
    return prediction


CONFIG = EdgeTpuConfig
