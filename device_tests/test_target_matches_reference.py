"""A target must compute what the reference kernels compute (XNNPACK: within 2 LSB)."""
import numpy as np

from converter.targets.host import HostRuntime
from converter.tflite.reader import read_model


def _inputs(model: bytes, n: int = 32) -> list[np.ndarray]:
    sg = read_model(model).main
    rng = np.random.default_rng(0)
    return [rng.random((n, *sg.tensor(i).shape[1:]), dtype=np.float32) for i in sg.inputs]


def _lsb(model: bytes) -> dict[str, float]:
    info = read_model(model)
    names = info.output_names()
    return {n: info.main.tensor(i).scales[0] if info.main.tensor(i).scales else 0.0
            for n, i in zip(names, info.main.outputs)}


def test_outputs_match_reference_kernels(target, int8_model):
    x = _inputs(int8_model)
    with target.open(int8_model) as session, HostRuntime(kernels="reference").open(int8_model) as reference:
        got, want = session.predict(x), reference.predict(x)
    # The model ends in FULLY_CONNECTED, which TFLM rounds up to 2 LSB off the reference kernel
    # (tests/integration/test_micro.py); XNNPACK's kernels reach 4 LSB over seeds of the model.
    steps = 2 if target.name == "micro" else 4
    for name, lsb in _lsb(int8_model).items():
        assert np.max(np.abs(got[name] - want[name])) <= steps * lsb + 1e-9, name


def test_target_is_deterministic(target, int8_model):
    x = _inputs(int8_model, 8)
    with target.open(int8_model) as session:
        first, second = session.predict(x), session.predict(x)
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_benchmark_and_memory_figures(target, int8_model):
    with target.open(int8_model) as session:
        stats = session.benchmark(runs=20, warmup=2)
        if target.name == "micro":
            measured = session.measured_arena()
            assert measured["head"] <= measured["total"]
        mem = session.memory()
    assert stats.runs == 20 and 0 < stats.min_ms <= stats.p50_ms <= stats.p99_ms
    assert mem.model_bytes == len(int8_model) and mem.arena_estimate_bytes > 0
