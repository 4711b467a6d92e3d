"""A Session whose interpreter runs elsewhere (an emulator, a board) through arm64_runner.py:
inputs are quantized here, the raw tensors travel, outputs are dequantized here, so the far
side needs nothing but NumPy and a TFLite interpreter."""
from __future__ import annotations

import numpy as np

from .base import ClosingSession, LatencyStats, Memory, model_memory
from .host import dequantize, quantize
from ..tflite.kernel_limits import check_runnable
from ..tflite.reader import read_model


def boundary_details(info, indices) -> list[dict]:
    """Interpreter-style details (dtype, shape, quantization) of graph inputs or outputs."""
    out = []
    for i in indices:
        t = info.main.tensor(i)
        out.append({"dtype": np.dtype(t.dtype).type, "shape": t.shape,
                    "quantization": (t.scales[0], t.zero_points[0]) if t.scales else (0.0, 0)})
    return out


class RunnerSession(ClosingSession):
    """Subclasses implement `_run(raw_inputs, runs, warmup)` returning the runner's result arrays,
    and set `where` (the Memory.measured_on of their figures)."""

    where = "runner"

    def __init__(self, model: bytes, kernels: str = "xnnpack"):
        self.model, self.info = model, read_model(model)
        if kernels == "reference":  # the far side would die on an abort, with less to say
            check_runnable(self.info, "reference")
        self.input_names, self.output_names = self.info.input_names(), self.info.output_names()
        self.failures = []

    def _run(self, inputs: list[np.ndarray], runs: int, warmup: int) -> dict:
        raise NotImplementedError

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        raw = [quantize(x, d) for x, d in zip(inputs, boundary_details(self.info, self.info.main.inputs))]
        result = self._run(raw, 0, 0)
        outs = boundary_details(self.info, self.info.main.outputs)
        return {name: dequantize(result[f"out{k}"], outs[k]) for k, name in enumerate(self.output_names)}

    def benchmark(self, runs: int = 20, warmup: int = 2) -> LatencyStats:
        zeros = [np.zeros((1, *d["shape"][1:]), d["dtype"]) for d in boundary_details(self.info, self.info.main.inputs)]
        return LatencyStats.from_seconds(list(self._run(zeros, runs, warmup)["invoke_seconds"]), warmup, 1)

    def memory(self) -> Memory:
        return model_memory(self.info, self.where)

    def close(self) -> None:
        pass


def write_request(folder, model: bytes, kernels: str, inputs: list[np.ndarray], runs: int, warmup: int) -> None:
    (folder / "model.tflite").write_bytes(model)
    np.savez(folder / "request.npz", kernels=np.array(kernels), runs=np.array(runs), warmup=np.array(warmup),
             **{f"in{i}": x for i, x in enumerate(inputs)})


def read_result(path) -> dict:
    with np.load(path) as r:
        return {k: r[k] for k in r.files}
