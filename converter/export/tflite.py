"""Keras model -> TFLite flatbuffer, then prove from the file that it is what was asked for."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset, calibration_indices, check_fits
from ..errors import ConversionError
from ..settings import SettingError
from ..inputs.models import input_names, input_shapes, output_names
from ..inputs.preprocess import Preprocess
from ..tflite.integer_check import IntegerProof, prove_integer
from ..tflite.kernel_limits import aborting_ops
from ..tflite.metadata import set_edgeconv_info
from ..progress import task
from ..tflite.reader import ModelInfo, read_model
from . import recurrent

MODES = ("int8", "int16x8", "float16", "dynamic", "float32")
IO_TYPES = ("int8", "uint8", "float32")


@dataclass(frozen=True)
class ConvertOptions:
    mode: str = "int8"
    io_type: str = "int8"  # the dtype of the model's inputs and outputs (integer modes)
    per_channel: bool = True
    samples: int = 200  # representative samples for calibration
    seed: int = 0
    batch_size: int = 1  # a fixed batch avoids SHAPE/PACK ops that NPUs and TFLM refuse
    calibration: str = "minmax"  # activation ranges: export/calibration.py
    percentile: float = 99.99

    def __post_init__(self):
        if self.mode not in MODES:
            raise SettingError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}",
                               hint=f"valid values: {', '.join(MODES)}")
        if self.io_type not in IO_TYPES:
            raise SettingError(f"io must be one of {', '.join(IO_TYPES)}, not {self.io_type!r}",
                               hint=f"valid values: {', '.join(IO_TYPES)}")
        if self.io_type == "uint8" and self.mode != "int8":
            raise SettingError(f"uint8 inputs and outputs need mode int8 (mode {self.mode} gives "
                               f"{'int16' if self.mode == 'int16x8' else 'float32'} ones)",
                               hint="drop io uint8, or use mode int8")
        if self.calibration != "minmax" and self.mode != "int8":
            raise SettingError(f"calibration {self.calibration} needs mode int8 (mode {self.mode} calibrates by min/max)",
                               hint="use mode int8, or calibration minmax")
        if self.samples < 1:
            raise SettingError("samples must be at least 1", hint="100-500 samples calibrate most models")

    @property
    def boundary_dtype(self) -> str:
        """What the model's inputs and outputs will be: int16x8 uses int16 when integer I/O is asked."""
        if self.mode in ("float16", "dynamic", "float32") or self.io_type == "float32":
            return "float32"
        return "int16" if self.mode == "int16x8" else self.io_type


@dataclass
class ConversionResult:
    tflite: bytes
    info: ModelInfo
    options: ConvertOptions
    proof: IntegerProof | None
    seconds: float
    calibration_samples: int
    output_names: list[str] = field(default_factory=list)
    fixed_inputs: list[tuple[tuple, tuple]] = field(default_factory=list)  # (model's shape, shape fixed from data)
    unrolled: recurrent.Unrolled | None = None  # recurrent layers rebuilt without loops (export/recurrent.py)

    @property
    def warnings(self) -> list[str]:
        aborting = [f"reference kernels and tflite-micro will refuse it: {p}" for p in aborting_ops(self.info)]
        return ([self.unrolled.warning()] if self.unrolled else []) + aborting[:1]
    calibration: dict | None = None  # the activation-range method and, for auto, the candidates' scores

    def summary(self) -> dict:
        return {
            "mode": self.options.mode,
            "io_type": self.options.boundary_dtype,
            "per_channel": self.options.per_channel,
            "calibration_samples": self.calibration_samples,
            "seed": self.options.seed,
            **({"calibration": self.calibration} if self.calibration else {}),
            "size_bytes": len(self.tflite),
            "ops": self.info.op_counts(),
            "outputs": self.output_names,
            "fully_integer": None if self.proof is None else self.proof.ok,
            **({"input_shapes_fixed_from_data": [list(f[1:]) for _, f in self.fixed_inputs]} if self.fixed_inputs else {}),
            **({"recurrent_unrolled": self.unrolled.summary(), "warnings": self.warnings} if self.unrolled else {}),
            "seconds": round(self.seconds, 3),
        }


def convert(model, data: Dataset | None, options: ConvertOptions = ConvertOptions(), progress=None,
            preprocess: Preprocess = Preprocess()) -> ConversionResult:
    """Convert and verify. `data` is required for modes that calibrate (int8, int16x8).
    `progress(n)` is called once per calibration sample fed to the converter. The
    preprocessing spec and output names are stored in the file (tflite/metadata.py)."""
    start = time.perf_counter()
    needs_data = options.mode in ("int8", "int16x8")
    if needs_data and data is None:
        raise ConversionError(f"mode {options.mode} needs representative data", hint="pass --data")
    if data is not None:
        check_fits(data, input_shapes(model))
    calib = data.take(calibration_indices(data, options.samples, options.seed)) if needs_data else None
    keras_env.seed_everything(options.seed)
    shapes = fixed_shapes(model, data)
    # the int8 calibrator crashes on recurrent loops: calibrate an unrolled copy, proven equal
    target, unrolled = recurrent.unroll(model, shapes, calib) if calib is not None else (model, None)
    with task("calibrating", 0 if calib is None or progress else len(calib)) as advance:
        flatbuffer, calibration = _flatbuffer(target, options, shapes, calib, progress or advance)
    keras_env.release_graphs()  # the converter's traced graphs are garbage now
    names = read_model(flatbuffer, "converted model").output_names()
    flatbuffer = set_edgeconv_info(flatbuffer, {
        "preprocess": json.loads(preprocess.to_json()), "outputs": names, "mode": options.mode,
        "inputs": signature_input_names(model, len(shapes)),  # the data's (Keras') input order
        "classes": list(data.classes) if data is not None and data.classes else None})
    info = read_model(flatbuffer, "converted model")
    proof = prove_integer(info, options.boundary_dtype) if needs_data else None
    if proof is not None and not proof.ok:
        raise _not_integer_error(proof, options)
    fixed = [(m, f) for m, f in zip(input_shapes(model), shapes) if tuple(m[1:]) != tuple(f[1:])]
    return ConversionResult(flatbuffer, info, options, proof, time.perf_counter() - start,
                            0 if calib is None else len(calib), info.output_names(), fixed, unrolled=unrolled,
                            calibration=calibration)


def _flatbuffer(model, options: ConvertOptions, shapes: list[tuple], calib: Dataset | None,
                progress) -> tuple[bytes, dict | None]:
    converter = make_converter(model, options, shapes)
    names = signature_input_names(model, len(shapes))
    if calib is not None and options.calibration != "minmax":  # the converter's own path stays minmax's
        from .calibration import calibrated_flatbuffer

        return calibrated_flatbuffer(converter, calib, options, names, progress)
    if calib is not None:
        converter.representative_dataset = representative(calib, options.batch_size, progress, names)
    return _run(converter), None


def fixed_shapes(model, data: Dataset | None) -> list[tuple]:
    """The model's input shapes, with free dimensions other than the batch taken from the data:
    a .tflite with dynamic dimensions cannot be planned (tensor arena) nor run by most targets."""
    shapes = input_shapes(model)
    if all(d is not None for s in shapes for d in s[1:]):
        return shapes
    if data is None:
        raise ConversionError(f"the model's input shape {shapes[0][1:]} has free dimensions and there is no data "
                              "to fix them", hint="pass --data with samples of the size the device will feed")
    return [(s[0], *x.shape[1:]) for s, x in zip(shapes, data.inputs)]


def signature_input_names(model, count: int) -> list[str]:
    """The signature's input names: the Keras input names where the model has them."""
    return input_names(model) or [f"input_{i}" for i in range(count)]


def make_converter(model, options: ConvertOptions, shapes: list[tuple]):
    """Trace the model as a concrete function with a fixed batch and named outputs. This works
    for Sequential, Functional and subclassed models alike and keeps the Keras output names as
    the signature's output keys, so outputs can be matched by name after conversion."""
    tf = keras_env.tf()
    in_names = signature_input_names(model, len(shapes))
    specs = [tf.TensorSpec((options.batch_size, *s[1:]), tf.float32, name=n) for s, n in zip(shapes, in_names)]
    out_names = output_names(model)

    def serve(*xs):
        outs = tf.nest.flatten(model(xs[0] if len(xs) == 1 else list(xs), training=False))
        return dict(zip(out_names or [f"output_{i}" for i in range(len(outs))], outs))

    concrete = tf.function(serve).get_concrete_function(*specs)
    # a model known by its signature holds its variables in the loaded SavedModel object
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], getattr(model, "trackable", model))
    _configure(converter, options, tf)
    return converter


def _configure(converter, options: ConvertOptions, tf) -> None:
    if options.mode == "float32":
        return
    if options.mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.mode == "dynamic":
        return
    integer_ops = (tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                   if options.mode == "int16x8" else tf.lite.OpsSet.TFLITE_BUILTINS_INT8)
    # Float kernels stay allowed so an op that cannot be quantized still converts; the proof
    # that follows then names it and its layer, instead of the converter's opaque failure.
    converter.target_spec.supported_ops = [integer_ops, tf.lite.OpsSet.TFLITE_BUILTINS]
    io = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[options.io_type]
    if options.mode == "int16x8" and options.io_type != "float32":
        io = tf.int16
    converter.inference_input_type = io
    converter.inference_output_type = io
    converter._experimental_disable_per_channel = not options.per_channel


def representative(calib: Dataset, batch_size: int, progress=None, names: list[str] | None = None):
    """Calibration batches; keyed by input name when `names` is given, because the converter
    may order a multi-input model's inputs differently from Keras (seen: alphabetically)."""
    def gen():
        for i in range(0, len(calib) - batch_size + 1, batch_size):
            if progress:
                progress(batch_size)
            batch = [x[i:i + batch_size].astype(np.float32) for x in calib.inputs]
            yield dict(zip(names, batch)) if names else batch
    return gen


def _run(converter) -> bytes:
    try:
        return converter.convert()
    except Exception as e:  # the converter raises ConverterError/RuntimeError with MLIR dumps
        raise _conversion_failure(e) from None


def _conversion_failure(e: Exception) -> ConversionError:
    text = str(e)
    select = re.search(r"TF Select ops: ([^\n]+)", text)
    if select or "flex op" in text:
        ops = select.group(1).strip() if select else "see the log"
        return ConversionError(f"the model uses TensorFlow ops that TFLite has no builtin kernel for: {ops}",
                               hint="replace the layers that use them; Select TF (Flex) ops cannot run on edge targets")
    lines = [ln.split("error:", 1)[1].strip() for ln in text.splitlines() if "error:" in ln]
    detail = (lines[0] if lines else (text.strip().splitlines() or [type(e).__name__])[0])[:300]
    return ConversionError(f"TFLite conversion failed: {detail}", hint="run with --verbose for the converter log")


def _not_integer_error(proof: IntegerProof, options: ConvertOptions) -> ConversionError:
    # QUANTIZE/DEQUANTIZE around a float op are symptoms: name the op that computes in float
    compute = [o for o in proof.offences if o.op not in ("QUANTIZE", "DEQUANTIZE")] or list(proof.offences)
    problems = [*proof.io_problems, *(o.describe() for o in compute)]
    ops = sorted({o.op for o in compute})
    hint = ("those ops have no integer kernel here: replace or remove the layers named above, or, for a "
            "target with a float CPU, use --mode dynamic or --mode float16") if ops else "check the --io option"
    listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
    return ConversionError(f"the {options.mode} model is not fully integer: {listed}", hint=hint)
