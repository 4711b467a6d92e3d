"""Figures of one .tflite model: latency on a target, the tensor arena (estimated, and measured
by tflite-micro), MACs and size. Each figure says where it was measured."""
from __future__ import annotations

from ..report import Report
from ..targets.registry import timing_label
from ..tflite.arena import arena_figures, plan_model
from ..tflite.kind import model_kind
from ..tflite.macs import model_macs
from ..tflite.reader import read_model
from .measure import gzip_size, size_breakdown


def measure_stage(tflite: bytes, report: Report, runs: int = 200, threads: int = 1, runtime=None) -> str:
    """Latency on the target (`runtime`, default host LiteRT in a worker process whose peak RSS is
    then the runtime's own), the arena (estimated, and measured by tflite-micro when it is
    installed), MACs and size of one .tflite model, filed under its kind (e.g. 'int8'), which
    is returned: that key is the same in every command, because the file decides it."""
    info = read_model(tflite)
    model = model_kind(info)
    stats, extra = _latency(tflite, runs, threads, runtime)
    name = "host" if runtime is None else runtime.name
    where = timing_label(name)  # only a measured target's figure describes a deployment target
    macs = model_macs(info.main)
    report.add_model("latency", model, p50_ms=stats.p50_ms, p90_ms=stats.p90_ms, p99_ms=stats.p99_ms,
                     mean_ms=stats.mean_ms, std_ms=stats.std_ms, runs=stats.runs, threads=stats.threads,
                     runtime=where,
                     histogram_ms={"edges": list(stats.histogram[0]), "counts": list(stats.histogram[1])})
    arena_stage(tflite, report)
    report.add_model("memory", model, **extra)
    report.add_model("compute", model, macs=macs, mac_per_s=macs / (stats.p50_ms / 1e3), mac_per_s_on=where)
    report.add_model("size", model, bytes=len(tflite), gzip_bytes=gzip_size(tflite), breakdown=size_breakdown(info))
    return model


def _latency(tflite: bytes, runs: int, threads: int, runtime):
    if runtime is not None and runtime.name != "host":
        with runtime.open(tflite) as session:
            return session.benchmark(min(runs, 50), 2), {}
    from ..targets.worker import WorkerSession

    # A worker of its own, with `threads`, so the peak RSS is the runtime's alone.
    with WorkerSession(tflite, threads, getattr(runtime, "kernels", "xnnpack")) as session:
        stats = session.benchmark(runs, 20)
        memory = session.memory()
    return stats, {"runtime_peak_rss_bytes": memory.peak_rss_bytes, "runtime_peak_rss_on": memory.measured_on}


def arena_stage(tflite: bytes, report: Report) -> str:
    """The tensor arena: estimated from the flatbuffer (32-bit MCU and 64-bit host), and measured
    by tflite-micro on this 64-bit host when it is installed and can load the model. Filed under
    the model's kind, which is returned."""
    from ..targets.micro import measure_arena

    info = read_model(tflite)
    model = model_kind(info)
    figures = arena_figures(info)
    measured, why = measure_arena(tflite)
    report.add_model("memory", model, arena_estimate_bytes=figures["arena_estimate_bytes"],
                     arena_estimate=figures["arena_estimate"],
                     arena_measured=measured if measured else {"unavailable": why},
                     arena_naive_bytes=plan_model(info).naive_bytes)
    return model

