"""Stages shared by the recipe runner, the CLI commands and the demo: each takes its inputs,
adds its figures and checks to the Report, and returns its result."""
from __future__ import annotations

from ..verify.measure import gzip_size, size_breakdown
from ..inputs.data import Dataset
from ..inputs.preprocess import Preprocess, range_warning
from ..export.tflite import ConversionResult, ConvertOptions, convert
from ..report import Report
from ..tflite.arena import arena_figures, plan_model
from ..tflite.macs import model_macs
from ..tflite.reader import read_model
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


# Which machine a latency figure describes: only the host figure is a real measurement of a
# deployment target; the others are labelled so nobody reads them as a device prediction.
TIMING = {"host": "host LiteRT (XNNPACK)",
          "micro": "tflite-micro on x86-64 host (not a device prediction)",
          "arm64": "emulated arm64 (qemu), not a hardware prediction"}


def measure_stage(tflite: bytes, label: str, report: Report, runs: int = 200, threads: int = 1,
                  runtime=None) -> None:
    """Latency on the target (`runtime`, default host LiteRT in a worker process whose peak RSS is
    then the runtime's own), the arena (estimated, and measured by tflite-micro when it is
    installed), MACs and size of one .tflite model."""
    info = read_model(tflite)
    stats, extra = _latency(tflite, runs, threads, runtime)
    name = "host" if runtime is None else runtime.name
    where = TIMING.get(name, f"{name} target")
    macs = model_macs(info.main)
    report.add("latency", **{label: {"p50_ms": stats.p50_ms, "p90_ms": stats.p90_ms, "p99_ms": stats.p99_ms,
                                     "mean_ms": stats.mean_ms, "std_ms": stats.std_ms, "runs": stats.runs,
                                     "threads": stats.threads, "runtime": where,
                                     "histogram_ms": {"edges": list(stats.histogram[0]),
                                                      "counts": list(stats.histogram[1])}}})
    arena_stage(tflite, label, report)
    report.add("memory", **{f"{label}_{k}": v for k, v in extra.items()})
    report.add("compute", **{f"{label}_macs": macs, f"{label}_mac_per_s": macs / (stats.p50_ms / 1e3),
                             f"{label}_mac_per_s_on": where})
    report.add("size", **{f"{label}_bytes": len(tflite), f"{label}_gzip_bytes": gzip_size(tflite),
                          f"{label}_breakdown": size_breakdown(info)})


def _latency(tflite: bytes, runs: int, threads: int, runtime):
    if runtime is not None and runtime.name != "host":
        session = runtime.open(tflite)
        try:
            return session.benchmark(min(runs, 50), 2), {}
        finally:
            session.close()
    from ..targets.worker import WorkerSession

    session = WorkerSession(tflite, threads, getattr(runtime, "kernels", "xnnpack"))
    try:
        stats = session.benchmark(runs, 20)
        return stats, {"runtime_peak_rss_bytes": session.memory()["peak_rss_bytes"],
                       "runtime_peak_rss_on": "host LiteRT process"}
    finally:
        session.close()


def arena_stage(tflite: bytes, label: str, report: Report) -> None:
    """The tensor arena: estimated from the flatbuffer (32-bit MCU and 64-bit host), and measured
    by tflite-micro on this 64-bit host when it is installed and can load the model."""
    from ..targets.micro import measure_arena

    info = read_model(tflite)
    figures = arena_figures(info)
    measured, why = measure_arena(tflite)
    report.add("memory", **{f"{label}_arena_estimate_bytes": figures["arena_estimate_bytes"],
                            f"{label}_arena_estimate": figures["arena_estimate"],
                            f"{label}_arena_measured": measured if measured else {"unavailable": why},
                            f"{label}_arena_naive_bytes": plan_model(info).naive_bytes})


def arena_line(memory: dict, label: str) -> str:
    """Total arena with its source: tflite-micro's measurement (64-bit host) and the estimate."""
    est = memory[f"{label}_arena_estimate"]
    line = (f"estimate {est['32bit']['total_bytes']:,} B (32-bit MCU) / {est['64bit']['total_bytes']:,} B (64-bit); ")
    measured = memory[f"{label}_arena_measured"]
    if "total_bytes" in measured:
        return line + f"measured {measured['total_bytes']:,} B by {measured['measured_by']}"
    return line + f"not measured ({measured['unavailable']})"


def warn_about_data(data: Dataset, spec: Preprocess, report: Report) -> None:
    for x in data.inputs:
        message = range_warning(x, spec)
        if message:
            report.warn(message)
