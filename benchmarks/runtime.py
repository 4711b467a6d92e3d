"""Runtime figures on int8 MobileNetV2 (weights=None, random calibration): latency harness
fidelity, validation throughput, achieved MAC/s vs the machine's int8 peak."""
from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.common import machine
from converter import keras_env
from converter.inputs.data import Dataset
from converter.export.tflite import ConvertOptions, convert
from converter.targets.host import HostSession
from converter.targets.worker import ParallelSession
from converter.tflite.macs import model_macs
from converter.tflite.reader import read_model


def mobilenet_int8(size: int = 224) -> bytes:
    model = keras_env.keras().applications.MobileNetV2(weights=None, input_shape=(size, size, 3))
    x = np.random.default_rng(0).random((64, size, size, 3), dtype=np.float32)
    return convert(model, Dataset(x, None, "random"), ConvertOptions(samples=32)).tflite


def harness_fidelity(model: bytes, runs: int = 60, repeats: int = 5) -> dict:
    """Our benchmark()'s p50 vs a bare invoke() loop on the same interpreter, interleaved."""
    session = HostSession(model)
    ours, bare = [], []
    for _ in range(repeats):
        ours.append(session.benchmark(runs, 5).p50_ms)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            session._interp.invoke()
            times.append(time.perf_counter() - t0)
        bare.append(statistics.median(times) * 1e3)
    o, b = statistics.median(ours), statistics.median(bare)
    return {"edgeconv_p50_ms": o, "bare_p50_ms": b, "difference": abs(o - b) / b}


def validation_throughput(model: bytes, samples: int = 1000) -> dict:
    shape = read_model(model).main.tensor(read_model(model).main.inputs[0]).shape
    x = np.random.default_rng(1).random((samples, *shape[1:]), dtype=np.float32)
    t0 = time.perf_counter()
    HostSession(model).predict([x])
    single = samples / (time.perf_counter() - t0)
    parallel = ParallelSession(model, workers=2)
    t0 = time.perf_counter()
    parallel.predict([x])
    both = samples / (time.perf_counter() - t0)
    parallel.close()
    return {"samples": samples, "single_process_per_s": single, "edgeconv_2_workers_per_s": both,
            "speedup": both / single}


def mac_rate(model: bytes) -> dict:
    """Achieved int8 MAC/s on one thread vs the core's peak: AVX-512 VNNI does 64 int8 MACs per
    instruction; two per cycle is assumed (what Zen 4 / Ice Lake class cores issue)."""
    macs = model_macs(read_model(model).main)
    p50 = HostSession(model).benchmark(30, 5).p50_ms / 1e3
    mhz = float(next((line.split(":")[1] for line in open("/proc/cpuinfo") if line.startswith("cpu MHz")), "0"))
    flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    per_cycle = 128 if "avx512_vnni" in flags else 64 if "avx_vnni" in flags else 32
    peak = mhz * 1e6 * per_cycle
    return {"macs": macs, "p50_ms": p50 * 1e3, "mac_per_s": macs / p50, "peak_mac_per_s_1core": peak,
            "ratio": macs / p50 / peak, "assumption": f"{per_cycle} int8 MACs/cycle at {mhz:.0f} MHz",
            "cpu": machine()["cpu"]}
