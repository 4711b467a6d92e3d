"""What structured pruning buys on the device side: both models converted to full int8 and
measured the same way (size, MACs, tensor arena, host latency), with the ratios."""
from __future__ import annotations

from ..export.tflite import ConvertOptions, convert
from ..inputs.data import Dataset
from ..report import Report
from ..verify.figures import measure_stage


def int8_before_after(before, after, data: Dataset, runs: int = 100, seed: int = 0) -> dict:
    figures = {"before": int8_figures(before, data, runs, seed), "after": int8_figures(after, data, runs, seed)}
    b, a = figures["before"], figures["after"]
    figures["size_ratio"] = b["bytes"] / a["bytes"]
    figures["speedup"] = b["p50_ms"] / a["p50_ms"] if a["p50_ms"] > 0 else 0.0
    figures["arena_ratio"] = a["arena_bytes"] / b["arena_bytes"] if b["arena_bytes"] else 0.0
    return figures


def int8_figures(model, data: Dataset, runs: int = 100, seed: int = 0) -> dict:
    """One model's int8 figures; the arena is tflite-micro's measurement when it has one, else
    the 32-bit estimate (the field `arena_from` says which)."""
    tflite = convert(model, data, ConvertOptions(samples=min(100, len(data)), seed=seed)).tflite
    report = Report("scratch")
    kind = measure_stage(tflite, report, runs=runs)
    memory, latency = report.model_figures("memory", kind), report.model_figures("latency", kind)
    measured = memory["arena_measured"]
    arena, source = ((measured["total_bytes"], measured["measured_by"]) if "total_bytes" in measured
                     else (memory["arena_estimate_bytes"], "estimate (32-bit MCU)"))
    return {"bytes": len(tflite), "gzip_bytes": report.model_figures("size", kind)["gzip_bytes"],
            "macs": report.model_figures("compute", kind)["macs"], "arena_bytes": arena, "arena_from": source,
            "p50_ms": latency["p50_ms"], "latency_on": latency["runtime"]}
