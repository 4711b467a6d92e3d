"""convert: the Keras model -> .tflite with representative data, then the integer proof from
the file, optionally the layers that lose most to quantization."""
from __future__ import annotations

from dataclasses import dataclass

from ...export.calibration import METHODS
from ...export.tflite import IO_TYPES, MODES, ConvertOptions
from ...settings import SettingError, normalise, setting
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
    calibration: str = setting("minmax", choices=METHODS,
                               help="Activation ranges (int8): minmax; percentile (clip to the percentile below); mse "
                                    "(least quantization error); auto (the one that best matches the float model on "
                                    "held-back calibration samples).")
    percentile: float = setting(99.99, low=50, high=100, open_high=True,
                                help="Percentile of each activation's values kept by --calibration percentile/auto.")
    max_accuracy_drop: float | None = setting(None, low=0, high=100,
                                              help="Accuracy budget in points against the float model, measured on "
                                                   "labelled validation (else calibration) data.")
    recover: bool = setting(False, help="When the int8 model misses --max-accuracy-drop, move the worst layers to "
                                        "int16 activations (int8 weights) until it holds; still fully integer. For a "
                                        "--target without int16 kernels, fine-tune with QAT instead.")
    target: str | None = setting(None, help="The device the model is for (see `edgeconv targets`): edgetpu and "
                                            "ethosu run no int16 activations, so int16x8 is refused and --recover "
                                            "uses QAT there.")
    layer_errors: int = setting(0, low=0, metavar="N",
                                help="Rank the N layers that lose the most to quantization (QuantizationDebugger).")
    baseline: bool = setting(False, help="Also convert to float32 and measure it beside the result (what the "
                                         "quantization saves in size and time).")

    def __post_init__(self):
        normalise(self, NAME)
        self.options(0)  # conversion's own cross-checks (uint8 needs int8), before any work
        if self.recover and self.max_accuracy_drop is None:
            raise SettingError("convert.recover needs convert.max_accuracy_drop (the budget to recover to)",
                               hint="e.g. max_accuracy_drop: 1.0 (points)", key="recover")
        if self.target is not None and not self.int16_target() and self.mode == "int16x8":  # names checked first
            raise SettingError(f"convert.mode int16x8 makes int16 activations, which the {self.target} does not run",
                               hint="use mode int8 (with recover: true, QAT recovers accuracy there)", key="mode")
        if self.recover and (self.mode != "int8" or self.io != "int8"):
            raise SettingError(f"convert.recover makes int8 models with int8 inputs and outputs, not mode {self.mode} "
                               f"with io {self.io}", hint="use mode int8 and io int8", key="recover")

    def int16_target(self) -> bool:
        """Whether the target runs int16 activations (no target: the host, which does)."""
        from ...targets.registry import target

        return self.target is None or target(self.target).capabilities.int16_activations

    def options(self, seed: int) -> ConvertOptions:
        return ConvertOptions(mode=self.mode, io_type=self.io, per_channel=self.per_channel, samples=self.samples,
                              seed=seed, calibration=self.calibration, percentile=self.percentile)


def run(context: Context, config: ConvertConfig, progress=None):
    """Adds the `conversion` section and the `fully integer` check; the .tflite becomes
    `context.tflite`."""
    from ...export.tflite import convert
    from ...tflite.kind import model_kind
    from ...verify.figures import measure_stage

    options = config.options(context.seed)
    labelled = _labelled(context) if config.max_accuracy_drop is not None else None  # before any work
    data = context.calibration
    if data is not None:
        warn_about_data(context)
    result = convert(context.model, data, options, progress, context.preprocess)
    if config.max_accuracy_drop is not None:
        result = _budget(context, config, result, options, labelled)  # may replace it by a mixed int8/int16 one
    _report(context, result, options)
    if config.layer_errors and config.mode in CALIBRATED:
        layer_errors(context, options, config.layer_errors)
    context.tflite = context.write(f"model_{model_kind(result.info)}.tflite", result.tflite, "tflite")
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


def _labelled(context: Context):
    labelled = context.validation if context.validation is not None else context.calibration
    if labelled is None or labelled.y is None:
        from ...errors import InputError

        raise InputError("max_accuracy_drop needs labelled data to measure the accuracy drop",
                         hint="give validation or calibration data with labels (an .npz with x and y, or a folder "
                              "per class)")
    return labelled


def _budget(context: Context, config: ConvertConfig, result, options: ConvertOptions, labelled):
    """The accuracy budget as a check; with `recover`, the mixed int8/int16 model when the int8
    one misses it (the `recovery` section says which layers moved and what each move cost)."""
    from dataclasses import replace

    from ...export.recovery import accuracy_drop, recover
    from ...inputs.data import calibration_indices
    from ...tflite.integer_check import prove_integer
    from ...tflite.metadata import edgeconv_info, set_edgeconv_info
    from ...tflite.reader import read_model

    budget = config.max_accuracy_drop
    if config.recover and not config.int16_target():
        return _recover_by_qat(context, config, result, options, labelled)
    if config.recover:
        calib = context.calibration.take(calibration_indices(context.calibration, options.samples, options.seed))
        recovery = recover(context.model, result.tflite, calib, labelled, options, budget, micro=config.target == "micro")
        context.report.add("recovery", **recovery.summary())
        drop = recovery.steps[-1].accuracy_drop if recovery.needed else recovery.int8_accuracy_drop
        if recovery.needed:
            mixed = set_edgeconv_info(recovery.tflite, edgeconv_info(result.tflite))
            info = read_model(mixed, "mixed int8/int16 model")
            result = replace(result, tflite=mixed, info=info, proof=prove_integer(info, options.boundary_dtype))
            context.report.add("conversion", mixed_int16_layers=recovery.steps[-1].moved)
    else:
        drop = accuracy_drop(context.model, result.tflite, labelled)[1]
    context.report.check("accuracy drop", drop <= budget, f"{drop:.2f} points (budget {budget:g})")
    return result


def _recover_by_qat(context: Context, config: ConvertConfig, result, options: ConvertOptions, labelled):
    """For a target without int16 kernels: when int8 misses the budget, QAT (from calibrated
    ranges, on the labels or else the float model's outputs) and convert again, still int8."""
    from ...export.recovery import accuracy_drop
    from ...export.tflite import convert
    from ...optimize.qat import QatOptions, qat
    from . import training
    from .qat import QatConfig

    budget = config.max_accuracy_drop
    float_accuracy, drop = accuracy_drop(context.model, result.tflite, labelled)
    section = {"needed": drop > budget, "method": "qat", "budget_points": budget, "float_accuracy": float_accuracy,
               "int8_accuracy_drop": round(drop, 3), "target": config.target}
    if drop > budget:
        defaults = QatConfig()  # the qat step's own defaults
        tuned = qat(context.model, context.calibration,
                    QatOptions(train=training.train_options(defaults, context, schedule=defaults.schedule)))
        if tuned.fallback is None:
            result = convert(tuned.model, context.calibration, options, None, context.preprocess)
            drop = accuracy_drop(context.model, result.tflite, labelled)[1]
        section.update(accuracy_drop=round(drop, 3), qat_fallback=tuned.fallback, qat_epochs=tuned.epochs,
                       qat_trained_on=tuned.trained_on)
    context.report.add("recovery", **section)
    context.report.check("accuracy drop", drop <= budget, f"{drop:.2f} points (budget {budget:g}, int8 only: "
                                                          f"{config.target} runs no int16)")
    return result


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
    from ...inputs.models import input_scaling_layers
    from ...inputs.preprocess import range_warning

    inputs = context.calibration.inputs
    # with several inputs, which one the leading layers scale is not known: each is judged raw
    scaling = input_scaling_layers(context.model) if len(inputs) == 1 else []
    names = ", ".join(type(layer).__name__ for layer in scaling)
    for x in inputs:
        message = range_warning(x, context.preprocess, _through(scaling, x[:256]) if scaling else None, names)
        if message:
            context.report.warn(message)


def _through(layers, x):
    """A sample through the model's own leading scaling layers."""
    import numpy as np

    for layer in layers:
        x = layer(x)
    return np.asarray(x)


CONFIG = ConvertConfig
