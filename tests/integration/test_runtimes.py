"""Host runtime and its worker processes: isolation, parallel shards, per-sample failures."""
import os
import signal

import numpy as np
import pytest

from converter.inputs.data import Dataset
from converter.errors import ModelError
from converter.targets.host import HostSession
from converter.targets.keras import KerasSession
from converter.targets.worker import ParallelSession, WorkerSession
from converter.verify.compare import compare


def test_worker_and_parallel_sessions_match_in_process(chain, digits):
    model = chain.int8_tflite.read_bytes()
    x = [digits[1].x[:101]]
    want = HostSession(model).predict(x)["probs"]
    worker = WorkerSession(model)
    parallel = ParallelSession(model, workers=3)
    try:
        assert np.array_equal(worker.predict(x)["probs"], want)
        assert np.array_equal(parallel.predict(x)["probs"], want)
        assert worker.memory()["peak_rss_bytes"] > 10 * 2**20
    finally:
        worker.close()
        parallel.close()


def test_native_crash_in_worker_is_a_clear_error(chain):
    worker = WorkerSession(chain.int8_tflite.read_bytes())
    os.kill(worker._proc.pid, signal.SIGSEGV)
    with pytest.raises(ModelError, match=r"the runtime crashed \(killed by SIGSEGV\) while running 1 samples"):
        worker.predict([np.zeros((1, 8, 8, 1), np.float32)])
    worker.close()


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
