"""Latency and memory of .tflite models on the host, across thread counts and kernels.

Each configuration runs in its own worker process, so its peak RSS is the runtime's alone.
"""
from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass
from pathlib import Path

from ..targets.base import LatencyStats
from ..targets.registry import open_runtime, timing_label
from ..targets.worker import WorkerSession
from ..tflite.arena import arena_figures
from ..tflite.macs import model_macs
from ..tflite.reader import read_model, read_model_file


@dataclass(frozen=True)
class BenchRow:
    model: str
    kernels: str
    threads: int
    latency: LatencyStats
    peak_rss_bytes: int | None  # None where the target does not report it
    macs: int
    runtime: str = "host LiteRT (XNNPACK)"  # where it was timed (targets/registry.py's label)

    @property
    def mac_per_s(self) -> float:
        return self.macs / (self.latency.p50_ms / 1e3) if self.latency.p50_ms > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "mac_per_s": self.mac_per_s}


def bench_model(path: Path, threads: list[int], kernels: list[str], runs: int, warmup: int,
                target: str = "host") -> list[BenchRow]:
    """One row per kernel set and thread count on the host (each in its own worker process, so
    its peak RSS is the runtime's alone); one row per kernel set on another target."""
    model = path.read_bytes()
    macs = model_macs(read_model(model, str(path)).main)
    if target != "host":
        return [_bench_on(target, model, path.name, k, runs, warmup, macs) for k in kernels]
    rows = []
    for k in kernels:
        for t in threads:
            with WorkerSession(model, t, k) as session:
                stats = session.benchmark(runs, warmup)
                rss = session.memory().peak_rss_bytes
            rows.append(BenchRow(path.name, k, t, stats, rss, macs, timing_label("host")))
    return rows


def _bench_on(target: str, model: bytes, name: str, kernels: str, runs: int, warmup: int, macs: int) -> BenchRow:
    runtime = open_runtime(target, kernels=kernels)
    with runtime.open(model) as session:
        stats = session.benchmark(runs, warmup)
        rss = session.memory().peak_rss_bytes
    return BenchRow(name, kernels, stats.threads, stats, rss, macs, timing_label(runtime.name))


def gzip_size(data: bytes) -> int:
    """What a model costs in an app download or an OTA update (pruned weights pay off here)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def size_breakdown(info) -> dict:
    """Where the bytes of a model go: integer weights, int32 biases, float weights,
    quantization parameters, and the rest (graph structure, names, metadata)."""
    sg = info.main
    const = [t for t in sg.tensors if t.is_constant]
    parts = {"int_weights": sum(t.nbytes for t in const if t.dtype in ("int8", "uint8", "int16")),
             "int32_biases": sum(t.nbytes for t in const if t.dtype == "int32"),
             "float_weights": sum(t.nbytes for t in const if t.dtype in ("float32", "float16")),
             "quant_params": sum(4 * len(t.scales) + 8 * len(t.zero_points) for t in sg.tensors)}
    parts["other"] = info.size_bytes - sum(parts.values())
    return parts


def size_figures(path: Path) -> dict:
    info = read_model_file(path)  # clear errors for missing or non-model files
    data = path.read_bytes()
    return {"model": path.name, "size_bytes": len(data), "gzip_bytes": gzip_size(data), **arena_figures(info),
            "macs": model_macs(info.main)}


def measured_arena(path: Path) -> dict:
    """tflite-micro's measured arena (64-bit host), or why there is none."""
    from ..targets.micro import measure_arena

    measured, why = measure_arena(path.read_bytes())
    return measured if measured else {"unavailable": why}
