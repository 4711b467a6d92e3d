"""The protocols every target implements, so validate, bench and explain work on all of them.

A Session takes float inputs (one array per model input, samples along axis 0) and returns
float outputs keyed by output name; quantization at the model boundary happens inside.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""
    install: str = ""  # the command that makes the runtime available


@dataclass(frozen=True)
class SampleFailure:
    """The runtime failed on one sample: which one, in which op, and what it said."""

    index: int
    op: str
    message: str


@dataclass(frozen=True)
class LatencyStats:
    runs: int
    warmup: int
    threads: int
    mean_ms: float
    std_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    min_ms: float
    histogram: tuple[tuple[float, ...], tuple[int, ...]] = ((), ())  # (bin edges in ms, counts)

    @classmethod
    def from_seconds(cls, seconds: list[float], warmup: int, threads: int) -> LatencyStats:
        ms = np.asarray(seconds) * 1e3
        counts, edges = np.histogram(ms, bins=min(20, max(1, len(ms))))
        return cls(len(ms), warmup, threads, float(ms.mean()), float(ms.std()),
                   *(float(np.percentile(ms, p)) for p in (50, 90, 99)), float(ms.min()),
                   (tuple(float(e) for e in edges), tuple(int(c) for c in counts)))


class Session(Protocol):
    input_names: list[str]
    output_names: list[str]

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]: ...

    def benchmark(self, runs: int = 100, warmup: int = 10) -> LatencyStats: ...

    def memory(self) -> dict: ...

    def close(self) -> None: ...


class Runtime(Protocol):
    name: str

    def availability(self) -> Availability: ...

    def open(self, model: bytes) -> Session: ...
