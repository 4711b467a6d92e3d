"""The protocols every target implements, so validate, bench and explain work on all of them.

A Session takes float inputs (one array per model input, samples along axis 0) and returns
float outputs keyed by output name; quantization at the model boundary happens inside.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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


@dataclass(frozen=True)
class Memory:
    """What a session knows of a model's memory; None where its target cannot tell."""

    measured_on: str  # where the measured figures (peak RSS, arena) were taken
    model_bytes: int | None = None
    arena_estimate_bytes: int | None = None  # 32-bit MCU total, estimated from the flatbuffer
    arena_estimate: dict[str, Any] | None = None  # both word sizes in detail: {"32bit": ..., "64bit": ...}
    arena_measured: dict[str, Any] | None = None  # tflite-micro's allocator: head/tail/total_bytes, measured_by
    peak_rss_bytes: int | None = None  # the runtime process's own high-water mark
    parameters: int | None = None  # of a float Keras reference

    @property
    def arena_bytes(self) -> int | None:
        """The arena a runtime really allocated (measured), else None: estimates are not this."""
        return self.arena_measured["total_bytes"] if self.arena_measured else None


def model_memory(info, measured_on: str, **figures) -> Memory:
    """The figures every .tflite session knows from the flatbuffer alone, plus its own."""
    from ..tflite.arena import arena_figures

    return Memory(measured_on, info.size_bytes, **arena_figures(info), **figures)


class Session(Protocol):
    input_names: list[str]
    output_names: list[str]
    failures: list[SampleFailure]  # samples predict could not run (their outputs are NaN); empty by default

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]: ...

    def benchmark(self, runs: int = 100, warmup: int = 10) -> LatencyStats: ...

    def memory(self) -> Memory: ...

    def close(self) -> None: ...

    def __enter__(self) -> Session: ...

    def __exit__(self, *exc) -> None: ...


class ClosingSession:
    """Base of every session: `with runtime.open(model) as session:` closes it however the
    block ends, because interpreters, worker processes and board folders must not outlive it.
    Subclasses set `failures` (a list) in __init__ and implement close()."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


class Runtime(Protocol):
    name: str

    def availability(self) -> Availability: ...

    def open(self, model: bytes) -> Session: ...
