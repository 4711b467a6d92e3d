"""Host runtime and its worker processes: isolation, parallel shards, per-sample failures; the
session protocol (context managers, `failures`, typed memory) and the target registry."""
import os
import signal

import numpy as np
import pytest

from converter.inputs.data import Dataset
from converter.errors import ModelError
from converter.targets.base import ClosingSession, Memory, SampleFailure
from converter.targets.host import HostRuntime, HostSession
from converter.targets.keras import KerasSession
from converter.targets.registry import open_runtime
from converter.targets.worker import ParallelSession, WorkerRuntime, WorkerSession
from converter.verify.compare import compare


def test_worker_and_parallel_sessions_match_in_process(chain, digits):
    model = chain.int8_tflite.read_bytes()
    x = [digits[1].x[:101]]
    with HostSession(model) as host:
        want = host.predict(x)["probs"]
    with WorkerSession(model) as worker, ParallelSession(model, workers=3) as parallel:
        assert np.array_equal(worker.predict(x)["probs"], want)
        assert np.array_equal(parallel.predict(x)["probs"], want)
        memory = worker.memory()
    assert isinstance(memory, Memory) and memory.peak_rss_bytes > 10 * 2**20
    assert memory.measured_on == "host LiteRT process" and memory.model_bytes == len(model)


def test_worker_predict_in_two_halves(chain, digits):
    """The public split API ParallelSession uses: several workers run while the caller waits."""
    model = chain.int8_tflite.read_bytes()
    x = [digits[1].x[:7]]
    with HostSession(model) as host, WorkerSession(model) as a, WorkerSession(model) as b:
        a.send_predict([x[0][:3]])
        b.send_predict([x[0][3:]])
        (first, fa), (second, fb) = a.receive_predict("first"), b.receive_predict("second")
        assert fa == fb == [] and a.failures == b.failures == []
        assert np.array_equal(np.concatenate([first["probs"], second["probs"]]), host.predict(x)["probs"])


def test_open_runtime_host_runs_in_workers(chain, digits):
    model = chain.int8_tflite.read_bytes()
    runtime = open_runtime("host", workers=2, kernels="reference")
    assert isinstance(runtime, WorkerRuntime) and runtime.name == "host" and runtime.availability().ok
    with runtime.open(model) as session, HostRuntime(kernels="reference").open(model) as host:
        assert isinstance(session, ParallelSession) and len(session._workers) == 2
        x = [digits[1].x[:9]]
        assert np.array_equal(session.predict(x)["probs"], host.predict(x)["probs"])


def test_sessions_are_closed_by_with_even_on_errors(chain):
    model = chain.int8_tflite.read_bytes()
    with pytest.raises(KeyError):
        with ParallelSession(model, workers=2) as parallel, HostSession(model) as host:
            raise KeyError("boom")
    assert all(w._conn.closed and w._proc.poll() is not None for w in parallel._workers)
    assert host._interp is None


def test_every_session_starts_without_failures(chain):
    """`failures` is part of the Session protocol: compare reads it without a default."""
    model = chain.int8_tflite.read_bytes()
    sessions = [HostSession(model), WorkerSession(model), ParallelSession(model, 2), KerasSession(chain.model)]
    for s in sessions:
        with s:
            assert isinstance(s, ClosingSession) and s.failures == [], type(s).__name__


def test_compare_takes_failures_from_the_session(chain, digits):
    class Flaky(ClosingSession):
        """Sample 1 failed: NaN outputs, one recorded failure."""

        def __init__(self, inner):
            self.inner, self.failures = inner, []
            self.input_names, self.output_names = inner.input_names, inner.output_names

        def predict(self, inputs):
            out = self.inner.predict(inputs)
            out["probs"][1] = np.nan
            self.failures.append(SampleFailure(1, "DIV", "failed to invoke"))
            return out

        def close(self):
            self.inner.close()

    data = Dataset(digits[1].x[:6], digits[1].y[:6], "t")
    with Flaky(HostSession(chain.int8_tflite.read_bytes())) as candidate:
        v = compare(KerasSession(chain.model), candidate, data)
    assert v.samples == 5 and v.failures == (SampleFailure(1, "DIV", "failed to invoke"),)
    assert candidate.inner._interp is None


@pytest.mark.parametrize("dead_before_send", [False, True], ids=["dying", "dead"])
def test_native_crash_in_worker_is_a_clear_error(chain, dead_before_send):
    with WorkerSession(chain.int8_tflite.read_bytes()) as worker:
        os.kill(worker._proc.pid, signal.SIGSEGV)
        if dead_before_send:  # the send then meets a closed socket (a BrokenPipeError before the fix)
            worker._proc.wait(10)
        with pytest.raises(ModelError, match=r"the runtime crashed \(killed by SIGSEGV\) while running 1 samples"):
            worker.predict([np.zeros((1, 8, 8, 1), np.float32)])


def test_corrupt_model_in_worker_is_reported(chain):
    with pytest.raises(ModelError, match="corrupt TFLite flatbuffer"):
        WorkerSession(chain.int8_tflite.read_bytes()[:2000])


def test_failed_samples_are_reported_not_fatal(chain, digits):
    """A candidate that fails on some samples: metrics use the rest, failures name index and op."""
    session = HostSession(chain.int8_tflite.read_bytes())
    real_invoke = session._interp.invoke
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] in (3, 7):
            raise RuntimeError("tensorflow/lite/kernels/div.cc:9 Node number 5 (DIV) failed to invoke.")
        real_invoke()

    session._interp.invoke = flaky
    v = compare(KerasSession(chain.model), session, Dataset(digits[1].x[:20], digits[1].y[:20], "t"))
    assert v.samples == 18
    assert [(f.index, f.op) for f in v.failures] == [(2, "DIV"), (6, "DIV")]


def test_dynamic_batch_and_top5(chain, digits):
    session = HostSession(chain.float_tflite.read_bytes())
    session._fit_shapes([np.zeros((4, 8, 8, 1), np.float32)])  # resized to a batch of 4
    assert session.predict([digits[1].x[:10]])["probs"].shape == (10, 10)
    v = compare(KerasSession(chain.model), HostSession(chain.float_tflite.read_bytes()), digits[1])
    assert v.reference_top5 >= v.reference_accuracy and v.candidate_top5 is not None
