"""Stages shared by the recipe runner, the CLI commands and the demo: each takes its inputs,
adds its figures and checks to the Report, and returns its result."""
from __future__ import annotations

from ..inputs.data import Dataset
from ..inputs.preprocess import Preprocess, range_warning
from ..export.tflite import ConversionResult, ConvertOptions, convert
from ..report import Report
from ..verify.compare import Validation, compare


def convert_stage(model, data: Dataset | None, options: ConvertOptions, report: Report, progress=None,
                  preprocess: Preprocess = Preprocess()) -> ConversionResult:
    if data is not None:
        warn_about_data(data, preprocess, report)
    result = convert(model, data, options, progress, preprocess)
    report.add("conversion", **result.summary())
    for model_shape, fixed in result.fixed_inputs:
        report.warn(f"the model's input shape {tuple(model_shape[1:])} has free dimensions: the .tflite is fixed "
                    f"to the data's {tuple(fixed[1:])}, so it takes only inputs of that size")
    if result.proof is not None:
        report.check("fully integer", result.proof.ok,
                     f"inputs/outputs {options.boundary_dtype}, {sum(result.info.op_counts().values())} ops, none in float")
    return result


def layer_error_stage(model, calibration: Dataset, debug: Dataset, options: ConvertOptions, report: Report,
                      top: int = 5) -> None:
    """The layers that lose the most to quantization (pitfall: accurate in Keras, not in TFLite)."""
    from ..verify.quant_debug import layer_errors

    worst = layer_errors(model, calibration, debug, options)[:top]
    report.add("layer_errors", metric="RMSE / quantization step (LSB)", debug_samples=min(50, len(debug)),
               worst=[w.to_dict() for w in worst])


def validate_stage(reference, candidate, data: Dataset, report: Report, names: list[str] | None = None) -> Validation:
    v = compare(reference, candidate, data, names)
    report.add("validation", **v.to_dict(), data=data.source)
    if v.failures:
        f = v.failures[0]
        report.check("every sample ran", False, f"{len(v.failures)} sample(s) failed; first: sample {f.index}, "
                                                 f"op {f.op}: {f.message}")
    return v


def warn_about_data(data: Dataset, spec: Preprocess, report: Report) -> None:
    for x in data.inputs:
        message = range_warning(x, spec)
        if message:
            report.warn(message)
