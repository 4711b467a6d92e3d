"""tflite-micro (the [micro] extra): run a model in the microcontroller interpreter on this
machine, and measure the tensor arena it really needs."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .base import Availability, ClosingSession, LatencyStats, Memory, model_memory
from .host import dequantize, quantize
from .runner_session import boundary_details
from ..errors import ModelError
from ..tflite.compat.tflm import micro_problems
from ..tflite.kernel_limits import check_runnable
from ..tflite.reader import read_model

INSTALL = "pip install 'edgeconv[micro]'  (tflite-micro, x86_64 Linux wheels)"
DEFAULT_ARENA = 8 * 2**20  # generous for measuring; the recording allocator reports what is used
MEASURED_BY = "tflite-micro (64-bit host)"  # the wheel's structs are 64-bit: a Cortex-M needs less


class MicroRuntime:
    name = "micro"

    def availability(self) -> Availability:
        try:
            from tflite_micro import runtime  # noqa: F401
        except ImportError as e:
            return Availability(False, f"tflite-micro is not installed ({e})", INSTALL)
        return Availability(True)

    def open(self, model: bytes) -> MicroSession:
        status = self.availability()
        if not status.ok:
            raise ModelError(status.reason, hint=status.install)
        return MicroSession(model)


class MicroSession(ClosingSession):
    def __init__(self, model: bytes, arena_size: int = DEFAULT_ARENA):
        from tflite_micro import runtime

        self.info = read_model(model)
        problems = micro_problems(self.info)
        if problems:
            raise ModelError(f"tflite-micro cannot run this model: {'; '.join(problems)}",
                             hint="replace the layers that produce them, or target a runtime that runs them")
        check_runnable(self.info, "micro")  # its kernels abort where their preconditions fail
        try:
            self._interp = runtime.Interpreter.from_bytes(
                model, arena_size=arena_size, intrepreter_config=runtime.InterpreterConfig.kAllocationRecording)
        except RuntimeError as e:
            raise ModelError(f"tflite-micro cannot load the model: {str(e).strip()[:300]}",
                             hint="see `edgeconv inspect` for its ops") from None
        self.input_names = self.info.input_names()
        self.output_names = self.info.output_names()
        self.failures = []

    def _details(self, kind: str, i: int) -> dict:
        sg = self.info.main
        return boundary_details(self.info, [(sg.inputs if kind == "input" else sg.outputs)[i]])[0]

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        outputs = [[] for _ in self.output_names]
        for n in range(len(inputs[0])):
            for i, x in enumerate(inputs):
                self._interp.set_input(quantize(x[n:n + 1], self._details("input", i)), i)
            self._interp.invoke()
            for k in range(len(self.output_names)):
                outputs[k].append(dequantize(self._interp.get_output(k), self._details("output", k)))
        return {name: np.concatenate(o) for name, o in zip(self.output_names, outputs)}

    def benchmark(self, runs: int = 20, warmup: int = 2) -> LatencyStats:
        x = [np.zeros((1, *self._details("input", i)["shape"][1:]), np.float32) for i in range(len(self.input_names))]
        for _ in range(warmup):
            self.predict(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self._interp.invoke()
            times.append(time.perf_counter() - t0)
        return LatencyStats.from_seconds(times, warmup, 1)

    def memory(self) -> Memory:
        return model_memory(self.info, MEASURED_BY, arena_measured=measured_figures(self.measured_arena()))

    def measured_arena(self) -> dict:
        """TFLM's recording allocator prints its totals to C-level stderr: capture them there.
        head: activations and scratch; tail: everything persistent; total = head + tail."""
        with tempfile.TemporaryFile() as capture:
            saved = os.dup(2)
            os.dup2(capture.fileno(), 2)
            try:
                self._interp.print_allocations()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
        found = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
        if not found:
            raise ModelError("tflite-micro did not report its arena", hint="a newer tflite-micro may print differently")
        return {k: int(v) for k, v in found.items()}

    def close(self) -> None:
        self._interp = None


def measured_figures(measured: dict) -> dict:
    return {"head_bytes": measured["head"], "tail_bytes": measured["tail"], "total_bytes": measured["total"],
            "measured_by": MEASURED_BY}


def measure_arena(model: bytes, timeout: float = 300) -> tuple[dict | None, str]:
    """The arena tflite-micro allocates for `model`, measured in a child process (a native
    abort in TFLM must not end ours): (figures, "") or (None, why not)."""
    if not MicroRuntime().availability().ok:
        return None, "tflite-micro is not installed"
    with tempfile.TemporaryDirectory(prefix="edgeconv-micro-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        try:
            done = subprocess.run([sys.executable, "-m", __name__, str(path)], capture_output=True, text=True,
                                  timeout=timeout, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        except subprocess.TimeoutExpired:
            return None, f"tflite-micro did not finish loading the model within {timeout:.0f} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return None, last[:300] if last.startswith("tflite-micro") else f"tflite-micro failed on the model: {last[:200]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


if __name__ == "__main__":  # the child of measure_arena: one JSON line on stdout, or the reason on stderr
    from ..errors import ConverterError

    try:
        with MicroSession(Path(sys.argv[1]).read_bytes()) as _session:
            print(json.dumps(measured_figures(_session.measured_arena())))
    except ConverterError as _refusal:
        sys.exit(_refusal.message)
