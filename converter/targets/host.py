"""LiteRT on this machine: XNNPACK (default) or reference kernels (the correctness oracle)."""
from __future__ import annotations

import re
import time

import numpy as np

from ..settings import SettingError
from .base import Availability, ClosingSession, LatencyStats, Memory, SampleFailure, model_memory
from ..errors import ModelError
from ..tflite.kernel_limits import check_runnable
from ..tflite.reader import read_model

KERNELS = ("xnnpack", "reference")


class HostRuntime:
    name = "host"

    def __init__(self, threads: int = 1, kernels: str = "xnnpack"):
        if kernels not in KERNELS:
            raise SettingError(f"kernels must be one of {', '.join(KERNELS)}, not {kernels!r}",
                               hint="xnnpack (fast) or reference (the bit-exact oracle)")
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


class HostSession(ClosingSession):
    """One interpreter. Samples run one batch (usually 1) at a time; a sample on which the
    interpreter fails is recorded in `failures` and its outputs are NaN, so one bad sample
    does not hide the results of the others."""

    def __init__(self, model: bytes, threads: int = 1, kernels: str = "xnnpack"):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.info = read_model(model)
        if kernels == "reference":  # some of their checks abort the process: refuse first
            check_runnable(self.info, "reference")
        self.threads = threads
        self.failures: list[SampleFailure] = []
        self._make = lambda: Interpreter(
            model_content=model, num_threads=threads,
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF if kernels == "reference" else OpResolverType.AUTO)
        self._load()
        tensors = [t for sg in self.info.subgraphs for t in sg.tensors]
        # Variable tensors reset in place; resource variables only by a fresh interpreter.
        self._reset = (self._load if any(t.dtype == "resource" for t in tensors)
                       else self._interp.reset_all_variables if any(t.is_variable for t in tensors) else None)
        self.input_names = self.info.input_names()
        self.output_names = self.info.output_names()

    def _load(self) -> None:
        # A free input size has only a placeholder in the file (XNNPACK may refuse to prepare it):
        # such a model is allocated at its first batch, for the data's size.
        self._sized = not self.info.free_size_inputs()
        try:
            self._interp = self._make()
            if self._sized:
                self._interp.allocate_tensors()
        except (RuntimeError, ValueError) as e:
            raise _load_error(self.info, str(e).strip()) from None
        self._inputs = self._interp.get_input_details()
        self._outputs = self._interp.get_output_details()

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        n = len(inputs[0])
        batch = max(int(self._inputs[0]["shape"][0]), 1)
        results: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for start in range(0, n, batch):
            chunk = [x[start:start + batch] for x in inputs]
            for k, out in enumerate(self._run(chunk, start)):
                results[k].append(out)
        return {name: np.concatenate(r)[:n] for name, r in zip(self.output_names, results)}

    def _run(self, chunk: list[np.ndarray], index: int) -> list[np.ndarray]:
        if self._reset and self._sized:  # a model allocated at this batch starts from its initial state
            self._reset()  # each sample starts from the model's initial state
        self._fit_shapes(chunk)
        for detail, x in zip(self._inputs, chunk):
            self._interp.set_tensor(detail["index"], quantize(x, detail))
        try:
            self._interp.invoke()
        except RuntimeError as e:
            self.failures.append(SampleFailure(index, _failed_op(str(e)), str(e).strip().splitlines()[0][:300]))
            return [np.full((len(chunk[0]), *d["shape"][1:]), np.nan, np.float32) for d in self._outputs]
        return [dequantize(self._interp.get_tensor(d["index"]), d) for d in self._outputs]

    def _fit_shapes(self, chunk: list[np.ndarray]) -> None:
        """Dynamic dimensions (and a batch that differs from the model's) are resized to the data."""
        changed = not self._sized
        for detail, x in zip(self._inputs, chunk):
            if tuple(detail["shape"]) != x.shape:
                self._interp.resize_tensor_input(detail["index"], list(x.shape), strict=False)
                changed = True
        if changed:
            try:
                self._interp.allocate_tensors()
            except RuntimeError as e:
                shapes = ", ".join(str(x.shape[1:]) for x in chunk)
                raise ModelError(f"LiteRT cannot run the model on samples of shape {shapes}: {str(e).strip()[:300]}",
                                 hint="give samples of a size the model's layers take (large enough for its "
                                      "kernels and strides)") from None
            self._sized = True
            self._inputs = self._interp.get_input_details()
            self._outputs = self._interp.get_output_details()

    def benchmark(self, runs: int = 100, warmup: int = 10) -> LatencyStats:
        if not self._sized:
            raise ModelError("the model's input size is free, so there is no size to time it at",
                             hint=_load_hint(self.info))
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

    def memory(self) -> Memory:
        return model_memory(self.info, "host LiteRT")  # in our process: its RSS is not the runtime's

    def close(self) -> None:
        self._interp = None


def _load_error(info, message: str) -> ModelError:
    flex = sorted({op.op.split(":", 1)[1] for sg in info.subgraphs for op in sg.operators
                   if op.op.startswith("CUSTOM:Flex")})
    if flex:
        return ModelError(f"LiteRT cannot load the model: it uses TensorFlow (Flex) ops, {', '.join(flex)}, and "
                          "LiteRT here has no Flex delegate",
                          hint="convert without SELECT_TF_OPS: replace the layers that need TensorFlow ops")
    if "not a valid Flatbuffer" in message:
        return ModelError("LiteRT cannot load the model: the file is not a valid TFLite flatbuffer",
                          hint="the file is damaged or truncated: export the model again")
    return ModelError(f"LiteRT cannot load the model: {message[:300]}", hint=_load_hint(info))


def _load_hint(info) -> str:
    free = info.free_size_inputs()
    if free:
        shape = info.input_shapes()[info.input_names().index(free[0])]
        return (f"its input shape {tuple(shape)} has dynamic dimensions (-1): convert the Keras model again "
                "with `edgeconv convert`, which fixes them from the calibration data")
    return "the model may use ops this runtime lacks; see `edgeconv inspect`"


def _failed_op(message: str) -> str:
    m = re.search(r"Node number \d+ \((\w+)\) failed", message)
    return m.group(1) if m else "unknown"


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer) or detail["quantization"] == (0.0, 0):
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
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
