"""Activation ranges beyond min/max: percentile and MSE clipping, and `auto`, which picks per
model the method whose int8 model best matches the float model on held-back samples.

How (verified on TF 2.21): TFLiteConverter's calibrate-only model (`_experimental_calibrate_only`)
is the float graph with each activation's min/max written into its tensor's quantization
parameters. We run that float model once more over the calibration samples (LiteRT, all tensors
preserved) to histogram every calibrated tensor, replace min/max with the chosen method's range,
then quantize with the same `mlir_quantize` call the converter makes. With unedited ranges
this gives the converter's own int8 model byte for byte (tested), so every method differs from
today's only in its ranges, and the integer proof applies unchanged.
Why not litert-quantizer's calibration dict: its calibrator keeps a *moving average* of per-batch
min/max (not the absolute range), and its int8 model is a different quantizer's; the converter's
path keeps `minmax` exactly as it was. (litert-quantizer is used where only it can help: mixed
int16 recovery, export/recovery.py, which takes these ranges.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset

METHODS = ("minmax", "percentile", "mse", "auto")
CANDIDATES = ("minmax", "percentile", "mse")
BINS = 2048  # histogram resolution per tensor: 8x finer than an unclipped int8 step
HELD_OUT = 0.25  # share of the calibration samples `auto` keeps back to score the candidates
SNR_CAP_DB = 100.0  # a sample the int8 model reproduces exactly
MSE_SHRINK = np.linspace(0.02, 1.0, 50)  # candidate ranges: the min/max range shrunk by these factors


@dataclass
class TensorStats:
    """One activation's value histogram over [low, high] (the full calibration range), for the
    samples that fit ranges and the samples held back to judge them."""

    low: float
    high: float
    fit: np.ndarray = field(default_factory=lambda: np.zeros(BINS))
    fit_min: float = np.inf
    fit_max: float = -np.inf
    held: np.ndarray = field(default_factory=lambda: np.zeros(BINS))

    def add(self, values: np.ndarray, held_out: bool) -> None:
        width = (self.high - self.low) / BINS
        index = np.clip(((values.ravel() - self.low) / width).astype(np.int64), 0, BINS - 1)
        counts = np.bincount(index, minlength=BINS)
        if held_out:
            self.held += counts
        else:
            self.fit += counts
            self.fit_min, self.fit_max = min(self.fit_min, float(values.min())), max(self.fit_max, float(values.max()))


@dataclass
class Calibration:
    """The calibrated float model, each calibrated tensor's statistics (by tensor index) and
    what was chosen; `ranges(method)` gives {tensor name: (min, max)} from all samples."""

    calibrated: bytes
    stats: dict[int, TensorStats]
    names: dict[int, str]
    held_out: Dataset | None
    percentile: float
    graph_inputs: frozenset[int] = frozenset()  # calibrated tensors no op produces

    def ranges(self, method: str, held_out_too: bool = True) -> dict[int, tuple[float, float]]:
        out = {}
        for i, s in self.stats.items():
            counts = s.fit + s.held if held_out_too else s.fit
            whole = (s.low, s.high) if held_out_too else (s.fit_min, s.fit_max)
            out[i] = tensor_range(method, counts, s.low, s.high, whole, self.percentile)
        return out

    def int8_snr_db(self, ranges: dict[int, tuple[float, float]]) -> dict[int, float]:
        """Each tensor's expected signal-to-quantization-noise ratio in int8 with `ranges`:
        rounding noise inside the range plus clipping error outside, against the float values'
        power. Low where an outlier stretches the range (int8 steps too coarse for the bulk)."""
        out = {}
        for i, s in self.stats.items():
            counts = s.fit + s.held
            edges = np.linspace(s.low, s.high, BINS + 1)
            centres = (edges[:-1] + edges[1:]) / 2
            out[i] = round(float(10 * np.log10(max(np.sum(counts * centres ** 2), 1e-30)
                                               / max(_int8_error(counts, centres, *ranges[i]), 1e-30))), 3)
        return out


def calibrate(converter, calib: Dataset, percentile: float, names: list[str], keep_back: bool,
              progress=None) -> Calibration:
    """Calibrate-only conversion, then the histograms; `keep_back` holds back samples for `auto`."""
    from .tflite import _run, representative

    converter._experimental_calibrate_only = True
    converter.representative_dataset = representative(calib, 1, progress, names)
    calibrated = _run(converter)
    model = _model_object(calibrated)
    tensors = model.subgraphs[0].tensors
    stats = {i: TensorStats(float(t.quantization.min[0]), float(t.quantization.max[0]))
             for i, t in enumerate(tensors) if _calibrated(t)}
    held = max(1, int(len(calib) * HELD_OUT)) if keep_back and len(calib) > 1 else 0
    _histograms(calibrated, calib, names, stats, first_held=len(calib) - held)
    return Calibration(calibrated, stats, {i: _text(tensors[i].name) for i in stats},
                       calib.take(np.arange(len(calib) - held, len(calib))) if held else None, percentile,
                       frozenset(model.subgraphs[0].inputs) & set(stats))


def _calibrated(tensor) -> bool:
    q = tensor.quantization
    return (q is not None and q.min is not None and q.max is not None and len(q.min) == 1
            and float(q.max[0]) > float(q.min[0]))


def _histograms(calibrated: bytes, calib: Dataset, names: list[str], stats: dict[int, TensorStats],
                first_held: int) -> None:
    """Run the float model sample by sample with every intermediate tensor kept."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    runner = interpreter.get_signature_runner()
    for k in range(len(calib)):
        runner(**{n: x[k:k + 1].astype(np.float32) for n, x in zip(names, calib.inputs)})
        for i, s in stats.items():
            s.add(interpreter.get_tensor(i), held_out=k >= first_held)


def tensor_range(method: str, counts: np.ndarray, low: float, high: float, whole: tuple[float, float],
                 percentile: float) -> tuple[float, float]:
    """The (min, max) `method` gives one tensor, from its histogram over [low, high]."""
    if method == "minmax" or counts.sum() == 0:
        return whole
    edges = np.linspace(low, high, BINS + 1)
    if method == "percentile":
        cdf = np.concatenate([[0], np.cumsum(counts)]) / counts.sum()
        lo, hi = np.interp([(100 - percentile) / 100, percentile / 100], cdf, edges)
        return float(lo), float(hi)  # the quantizer widens a range to hold 0 itself
    if method == "mse":
        return _mse_range(counts, (edges[:-1] + edges[1:]) / 2, whole)
    raise ValueError(f"unknown calibration method {method!r}")


def _mse_range(counts: np.ndarray, centres: np.ndarray, whole: tuple[float, float]) -> tuple[float, float]:
    """The shrunk range with the least expected squared int8 error: uniform rounding noise
    (step^2/12) inside the range, the clipping error outside it."""
    best, best_error = whole, np.inf
    for factor in MSE_SHRINK:
        error = _int8_error(counts, centres, whole[0] * factor, whole[1] * factor)
        if error < best_error:
            best, best_error = (whole[0] * factor, whole[1] * factor), error
    return best


def _int8_error(counts: np.ndarray, centres: np.ndarray, low: float, high: float) -> float:
    """Expected total squared error of int8 over [low, high] (widened to hold 0, as the quantizer does)."""
    lo, hi = min(low, 0.0), max(high, 0.0)
    step = (hi - lo) / 255
    inside = counts[(centres >= lo) & (centres <= hi)].sum()
    return float(inside * step ** 2 / 12 + np.sum(counts * (centres - np.clip(centres, lo, hi)) ** 2))


def quantize(calibration: Calibration, ranges: dict[int, tuple[float, float]], per_channel: bool, io_type: str) -> bytes:
    """The converter's own int8 quantization of the calibrated model, with `ranges` written in."""
    tf = keras_env.tf()
    from tensorflow.lite.python import convert as tf_convert
    from tensorflow.lite.python import lite as tf_lite
    from tensorflow.lite.tools import flatbuffer_utils

    model = _model_object(calibration.calibrated)
    tensors = model.subgraphs[0].tensors
    for i, (lo, hi) in ranges.items():
        tensors[i].quantization.min = np.array([lo], np.float32)
        tensors[i].quantization.max = np.array([hi], np.float32)
    edited = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    io = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[io_type]
    quantized = tf_convert.mlir_quantize(edited, not per_channel, input_data_type=io, output_data_type=io)
    return bytes(tf_lite._deduplicate_readonly_buffers(quantized))  # as the converter does after quantizing


def choose(calibration: Calibration, per_channel: bool, io_type: str, names: list[str]) -> tuple[str, list[dict]]:
    """`auto`: each candidate's int8 model, with ranges from the fitting samples only, against the
    float (calibrated) model on the held-back samples. Ranked by top-1 agreement, then by the
    mean per-sample output SNR in dB: a pooled SNR is decided by the one or two outlier samples
    whose clipping every range method trades away, which is not what accuracy rewards; a median
    ties on models whose int8 softmax reproduces most samples exactly (the demo CNN). A tie
    keeps the first candidate, minmax."""
    from ..targets.host import HostSession

    scores = []
    with HostSession(calibration.calibrated) as reference:
        expected = _outputs(reference, calibration.held_out, names)
        for method in CANDIDATES:
            model = quantize(calibration, calibration.ranges(method, held_out_too=False), per_channel, io_type)
            with HostSession(model) as candidate:
                scores.append({"method": method, **agreement_and_snr(expected, _outputs(candidate, calibration.held_out, names))})
    best = max(scores, key=lambda s: (s["agreement"], s["mean_snr_db"]))
    return best["method"], scores


def _outputs(session, data: Dataset, names: list[str]) -> dict[str, np.ndarray]:
    from ..inputs.data import in_order

    return session.predict(in_order(data.inputs, names, session.input_names))


def agreement_and_snr(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> dict:
    """Top-1 agreement of the first output and the mean over samples of each sample's output SNR
    (dB, the worst output's; an exact sample counts as SNR_CAP_DB)."""
    from ..verify.compare import match_outputs

    pairs = match_outputs(reference, candidate)
    snrs = []
    for r, c in pairs:
        a = reference[r].reshape(len(reference[r]), -1).astype(np.float64)
        noise = np.sum((a - candidate[c].reshape(a.shape)) ** 2, axis=1)
        power = np.maximum(np.sum(a ** 2, axis=1), 1e-30)
        snrs.append(np.minimum(10 * np.log10(power / np.maximum(noise, power * 10 ** (-SNR_CAP_DB / 10))), SNR_CAP_DB))
    first_r, first_c = (reference[pairs[0][0]], candidate[pairs[0][1]])
    agree = np.mean(first_r.reshape(len(first_r), -1).argmax(1) == first_c.reshape(len(first_c), -1).argmax(1))
    return {"agreement": round(float(agree), 4), "mean_snr_db": round(float(np.mean(np.min(snrs, axis=0))), 3)}


def calibrated_flatbuffer(converter, calib: Dataset, options, names: list[str], progress=None) -> tuple[bytes, dict]:
    """The int8 model with the `options.calibration` method's ranges (from all calibration
    samples), and what the report says about it."""
    method, percentile, per_channel, io_type = options.calibration, options.percentile, options.per_channel, options.io_type
    calibration = calibrate(converter, calib, percentile, names, keep_back=method == "auto", progress=progress)
    summary = {"requested": method, **({"percentile": percentile} if method in ("percentile", "auto") else {})}
    if method == "auto":
        method, scores = choose(calibration, per_channel, io_type, names)
        summary.update(held_out_samples=len(calibration.held_out), candidates=scores)
    ranges = calibration.ranges(method)
    narrowed = sum(1 for i, (lo, hi) in ranges.items()
                   if hi - lo < 0.999 * (calibration.stats[i].high - calibration.stats[i].low))
    summary.update(method=method, tensors=len(ranges), tensors_clipped=narrowed)
    return quantize(calibration, ranges, per_channel, io_type), summary


def _model_object(flatbuffer: bytes):
    from tensorflow.lite.tools import flatbuffer_utils

    keras_env.tf()
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)
