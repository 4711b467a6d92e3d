"""Run a host interpreter in a child process, so a crash in native code (a malformed model,
a kernel bug) becomes a clear error instead of a dead CLI; and split work across several
children to use every core.

The child is a fresh `python -m converter.targets.worker` (not a fork: TensorFlow's threads
in the parent must not be copied; not multiprocessing's spawn: that re-imports the caller's
main module). It imports only NumPy and LiteRT and talks over a socket pair.
"""
from __future__ import annotations

import contextlib
import dataclasses
import resource
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection

import numpy as np

from ..settings import SettingError
from .base import Availability, ClosingSession, LatencyStats, Memory, SampleFailure
from ..errors import ConverterError, ModelError
from ..logs import log_path

_HINT = "the model or a kernel is faulty: try the other --kernels (xnnpack or reference), and `edgeconv inspect` the model"
MEASURED_ON = "host LiteRT process"  # a worker's peak RSS is the runtime's alone


def _serve(conn) -> None:
    from .host import HostSession

    model, threads, kernels = conn.recv()
    try:
        session = HostSession(model, threads, kernels)
    except ConverterError as e:
        conn.send(("error", e.message, e.hint))
        return
    conn.send(("ok", (session.input_names, session.output_names)))
    handlers = {
        "predict": lambda inputs: (session.predict(inputs), _drain(session.failures)),
        "predict_shared": lambda blocks, start, stop: _predict_shared(session, blocks, start, stop),
        "benchmark": session.benchmark,
        "memory": lambda: dataclasses.replace(session.memory(), peak_rss_bytes=_peak_rss(), measured_on=MEASURED_ON),
    }
    while True:
        command, *args = conn.recv()
        if command == "close":
            return
        try:
            conn.send(("ok", handlers[command](*args)))
        except ConverterError as e:
            conn.send(("error", e.message, e.hint))


def _peak_rss() -> int:
    """This process's own high-water mark. ru_maxrss is not: on Linux it survives exec and so
    includes the moment the child was a fork of the (large) parent."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _predict_shared(session, blocks: list[tuple], start: int, stop: int):
    """Predict rows start..stop of arrays the parent put in shared memory: no copy through the
    socket, no copy here (the views live while the blocks stay attached)."""
    from multiprocessing import resource_tracker, shared_memory

    attached = []
    try:
        for name, _, _ in blocks:
            attached.append(shared_memory.SharedMemory(name=name))
            resource_tracker.unregister(attached[-1]._name, "shared_memory")  # the parent owns and unlinks it
        views = [np.ndarray(shape, dtype, buffer=shm.buf)[start:stop] for shm, (_, shape, dtype) in zip(attached, blocks)]
        result = session.predict(views), _drain(session.failures)
        del views
        return result
    finally:
        for shm in attached:
            shm.close()


def _drain(items: list) -> list:
    out = list(items)
    items.clear()
    return out


class WorkerRuntime:
    """Host LiteRT whose sessions run in worker processes: `workers` share the samples of a
    predict, and a native crash in one is a clear error, not a dead CLI."""

    name = "host"

    def __init__(self, kernels: str = "xnnpack", workers: int = 1):
        from .host import KERNELS

        if kernels not in KERNELS:
            raise SettingError(f"kernels must be one of {', '.join(KERNELS)}, not {kernels!r}",
                               hint="xnnpack (fast) or reference (the bit-exact oracle)")
        self.kernels, self.workers = kernels, workers

    def availability(self) -> Availability:
        from .host import HostRuntime

        return HostRuntime(kernels=self.kernels).availability()

    def open(self, model: bytes) -> ParallelSession:
        return ParallelSession(model, self.workers, self.kernels)


class WorkerSession(ClosingSession):
    """A HostSession in a child process; same interface. A predict is also available in two
    halves (`send_predict*`, then `receive_predict`) so several workers can run at once."""

    def __init__(self, model: bytes, threads: int = 1, kernels: str = "xnnpack", timeout: float = 600.0):
        parent, child = socket.socketpair()
        log = log_path()
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as native_log:  # LiteRT's INFO lines and any child traceback
            self._proc = subprocess.Popen([sys.executable, "-m", __name__, str(child.fileno())],
                                          pass_fds=[child.fileno()], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=native_log)
        child.close()
        self._conn = Connection(parent.detach())
        self._send(model, threads, kernels)
        self.timeout = timeout
        self.failures: list[SampleFailure] = []
        self.input_names, self.output_names = self._receive("loading the model")

    def _send(self, *message) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child died: the _receive that follows every send reports how

    def send_predict(self, inputs: list[np.ndarray]) -> None:
        """Start a predict of `inputs` (copied through the socket); `receive_predict` ends it."""
        self._send("predict", inputs)

    def send_predict_shared(self, blocks: list[tuple], start: int, stop: int) -> None:
        """Start a predict of rows start..stop of shared memory blocks ((name, shape, dtype) each)."""
        self._send("predict_shared", blocks, start, stop)

    def receive_predict(self, doing: str) -> tuple[dict[str, np.ndarray], list[SampleFailure]]:
        """The outputs of the predict started last, and its failed samples (indexed within that
        predict, not added to `failures`: the caller knows where its samples start)."""
        return self._receive(doing)

    def _receive(self, doing: str):
        if not self._conn.poll(self.timeout):
            self.close()
            raise ModelError(f"the runtime did not answer within {self.timeout:.0f} s while {doing}", hint=_HINT)
        try:
            status, *payload = self._conn.recv()
        except (EOFError, ConnectionResetError):
            raise ModelError(f"the runtime crashed ({self._exit_reason()}) while {doing}", hint=_HINT) from None
        if status == "error":
            raise ModelError(payload[0], hint=payload[1])
        return payload[0]

    def _exit_reason(self) -> str:
        try:
            code = self._proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        self.send_predict(inputs)
        outputs, failures = self.receive_predict(f"running {len(inputs[0])} samples")
        self.failures.extend(failures)
        return outputs

    def benchmark(self, runs: int = 100, warmup: int = 10) -> LatencyStats:
        self._send("benchmark", runs, warmup)
        return self._receive("benchmarking")

    def memory(self) -> Memory:
        self._send("memory")
        return self._receive("measuring memory")

    def close(self) -> None:
        if self._conn.closed:
            return
        if self._proc.poll() is None:
            try:
                self._conn.send(("close",))
                self._proc.wait(2)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._conn.close()


@contextlib.contextmanager
def _shared_blocks():
    """Shared memory blocks created by `put` and freed on exit: each worker reads its shard
    from its own block, so the first worker starts while the next shard is still copied."""
    from multiprocessing import shared_memory

    blocks = []

    def put(inputs: list[np.ndarray]) -> list[tuple]:
        described = []
        for x in inputs:
            shm = shared_memory.SharedMemory(create=True, size=max(x.nbytes, 1))
            blocks.append(shm)
            np.ndarray(x.shape, x.dtype, buffer=shm.buf)[...] = x
            described.append((shm.name, x.shape, x.dtype.str))
        return described

    try:
        yield put
    finally:
        for shm in blocks:
            shm.close()
            shm.unlink()


class ParallelSession(ClosingSession):
    """Several WorkerSessions; predict splits the samples into contiguous shards, one each."""

    def __init__(self, model: bytes, workers: int = 2, kernels: str = "xnnpack"):
        self._workers: list[WorkerSession] = []
        try:
            for _ in range(max(1, workers)):
                self._workers.append(WorkerSession(model, 1, kernels))
        except BaseException:
            self.close()  # the workers already started must not outlive a failed open
            raise
        self.input_names = self._workers[0].input_names
        self.output_names = self._workers[0].output_names
        self.failures: list[SampleFailure] = []

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        n = len(inputs[0])
        bounds = np.linspace(0, n, len(self._workers) + 1).astype(int)
        shards = [(w, a, b) for w, a, b in zip(self._workers, bounds[:-1], bounds[1:]) if b > a]
        with _shared_blocks() as put:
            for w, a, b in shards:
                w.send_predict_shared(put([x[a:b] for x in inputs]), 0, int(b - a))
            return self._collect(shards)

    def _collect(self, shards) -> dict[str, np.ndarray]:
        parts = []
        for w, a, b in shards:
            outputs, failures = w.receive_predict(f"running samples {a}..{b - 1}")
            self.failures.extend(SampleFailure(f.index + a, f.op, f.message) for f in failures)
            parts.append(outputs)
        return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}

    def benchmark(self, runs: int = 100, warmup: int = 10) -> LatencyStats:
        return self._workers[0].benchmark(runs, warmup)

    def memory(self) -> Memory:
        return self._workers[0].memory()

    def close(self) -> None:
        for w in self._workers:
            w.close()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
