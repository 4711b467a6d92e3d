"""convert: the Keras model -> .tflite with representative data, then the integer proof from
the file, optionally the layers that lose most to quantization."""
from __future__ import annotations

from dataclasses import dataclass

from ...export.tflite import IO_TYPES, MODES, ConvertOptions
from ...settings import normalise, setting
from ..context import Context

NAME = "convert"
PHASE = "convert"
CALIBRATED = ("int8", "int16x8")


@dataclass(frozen=True)
class ConvertConfig:
    mode: str = setting("int8", choices=MODES,
                        help="int8: full integer; int16x8: 16-bit activations; float16 / dynamic: weights only.")
    io: str = setting("int8", choices=IO_TYPES, help="Type of the model's inputs and outputs (integer modes).")
    per_channel: bool = setting(True, flag="--per-channel/--per-tensor",
                                help="Per-channel (default) or per-tensor weight scales.")
    samples: int = setting(200, low=1, help="Representative samples used for calibration.")
    layer_errors: int = setting(0, low=0, metavar="N",
                                help="Rank the N layers that lose the most to quantization (QuantizationDebugger).")
    baseline: bool = setting(False, help="Also convert to float32 and measure it beside the result (what the "
                                         "quantization saves in size and time).")

    def __post_init__(self):
        normalise(self, NAME)
        self.options(0)  # conversion's own cross-checks (uint8 needs int8), before any work

    def options(self, seed: int) -> ConvertOptions:
        return ConvertOptions(mode=self.mode, io_type=self.io, per_channel=self.per_channel, samples=self.samples,
                              seed=seed)


def run(context: Context, config: ConvertConfig, progress=None):
    """Adds the `conversion` section and the `fully integer` check; the .tflite becomes
    `context.tflite`."""
    from ...export.tflite import convert
    from ...verify.figures import measure_stage

    options = config.options(context.seed)
    data = context.calibration
    if data is not None:
        warn_about_data(context)
    result = convert(context.model, data, options, progress, context.preprocess)
    _report(context, result, options)
    if config.layer_errors and config.mode in CALIBRATED:
        layer_errors(context, options, config.layer_errors)
    context.tflite = context.write(f"model_{config.mode}.tflite", result.tflite, "tflite")
    if context.measure:
        measure_stage(result.tflite, context.report)
        _pruning_proof(context, result.tflite)
    if config.baseline:
        _float_baseline(context)
    return result


def _float_baseline(context: Context) -> None:
    from ...export.tflite import convert
    from ...verify.figures import measure_stage

    tflite = convert(context.model, None, ConvertOptions(mode="float32")).tflite
    context.write("model_float.tflite", tflite, "tflite")
    measure_stage(tflite, context.report)


def _report(context: Context, result, options: ConvertOptions) -> None:
    report = context.report
    report.add("conversion", **result.summary())
    for message in result.warnings:  # e.g. recurrent layers unrolled for calibration
        report.warn(message)
    for model_shape, fixed in result.fixed_inputs:
        report.warn(f"the model's input shape {tuple(model_shape[1:])} has free dimensions: the .tflite is fixed "
                    f"to the data's {tuple(fixed[1:])}, so it takes only inputs of that size")
    if result.proof is not None:
        report.check("fully integer", result.proof.ok,
                     f"inputs/outputs {options.boundary_dtype}, {sum(result.info.op_counts().values())} ops, none in float")


def layer_errors(context: Context, options: ConvertOptions, top: int) -> None:
    """The layers that lose the most to quantization (pitfall: accurate in Keras, not in TFLite)."""
    from ...verify.quant_debug import layer_errors as ranked

    debug = context.validation if context.validation is not None else context.calibration
    worst = ranked(context.model, context.calibration, debug, options)[:top]
    context.report.add("layer_errors", metric="RMSE / quantization step (LSB)", debug_samples=min(50, len(debug)),
                       worst=[w.to_dict() for w in worst])


def _pruning_proof(context: Context, tflite: bytes) -> None:
    """After a prune step: proof from the file itself that the zeros survived conversion."""
    if "pruning" in context.report.sections:
        from ...tflite.weights import weight_sparsity

        context.report.add("pruning", tflite_weight_sparsity=weight_sparsity(tflite))


def warn_about_data(context: Context) -> None:
    from ...inputs.preprocess import range_warning

    for x in context.calibration.inputs:
        message = range_warning(x, context.preprocess)
        if message:
            context.report.warn(message)


CONFIG = ConvertConfig
