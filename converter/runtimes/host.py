"""LiteRT on this machine: XNNPACK (default) or reference kernels (the correctness oracle)."""
from __future__ import annotations

import time

import numpy as np

from .base import Availability, LatencyStats
from ..errors import ModelError
from ..tflite.arena import plan
from ..tflite.reader import read_model

KERNELS = ("xnnpack", "reference")


class HostRuntime:
    name = "host"

    def __init__(self, threads: int = 1, kernels: str = "xnnpack"):
        if kernels not in KERNELS:
            raise ValueError(f"kernels must be one of {KERNELS}")
        self.threads = threads
        self.kernels = kernels

    def availability(self) -> Availability:
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError as e:
            return Availability(False, str(e), "pip install ai-edge-litert")
        return Availability(True)

    def open(self, model: bytes) -> HostSession:
        return HostSession(model, self.threads, self.kernels)


class HostSession:
    def __init__(self, model: bytes, threads: int = 1, kernels: str = "xnnpack"):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.info = read_model(model)
        self.threads = threads
        resolver = OpResolverType.BUILTIN_REF if kernels == "reference" else OpResolverType.AUTO
        try:
            self._interp = Interpreter(model_content=model, num_threads=threads,
                                       experimental_op_resolver_type=resolver)
            self._interp.allocate_tensors()
        except (RuntimeError, ValueError) as e:
            raise ModelError(f"LiteRT cannot load the model: {str(e).strip()[:300]}",
                             hint="the model may use ops this runtime lacks; see `edgeconv inspect`") from None
        self._inputs = self._interp.get_input_details()
        self._outputs = self._interp.get_output_details()
        self.input_names = self.info.input_names()
        self.output_names = self.info.output_names()

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        n = len(inputs[0])
        batch = max(int(self._inputs[0]["shape"][0]), 1)
        results: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for start in range(0, n, batch):
            for detail, x in zip(self._inputs, inputs):
                self._interp.set_tensor(detail["index"], _quantize(x[start:start + batch], detail))
            self._interp.invoke()
            for k, detail in enumerate(self._outputs):
                results[k].append(_dequantize(self._interp.get_tensor(detail["index"]), detail))
        return {name: np.concatenate(r)[:n] for name, r in zip(self.output_names, results)}

    def benchmark(self, runs: int = 100, warmup: int = 10) -> LatencyStats:
        rng = np.random.default_rng(0)
        for detail in self._inputs:
            self._interp.set_tensor(detail["index"], _random_input(detail, rng))
        for _ in range(warmup):
            self._interp.invoke()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self._interp.invoke()
            times.append(time.perf_counter() - t0)
        return LatencyStats.from_seconds(times, warmup, self.threads)

    def memory(self) -> dict:
        return {"model_bytes": self.info.size_bytes, "arena_estimate_bytes": plan(self.info.main).arena_bytes}

    def close(self) -> None:
        self._interp = None


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer) or detail["quantization"] == (0.0, 0):
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if not np.issubdtype(q.dtype, np.integer) or scale == 0.0:
        return q.astype(np.float32)
    return ((q.astype(np.float32) - zero) * scale).astype(np.float32)


def _random_input(detail: dict, rng) -> np.ndarray:
    shape, dtype = detail["shape"], detail["dtype"]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)
