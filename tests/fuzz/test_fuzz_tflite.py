"""Mutated and truncated flatbuffers against the reader, the inspector and the runtime worker:
a clear ModelError or a result, never another exception, a hang or a dead process.

Bounded for `make test`; a longer run: EDGECONV_FUZZ_EXAMPLES=20000 pytest tests/fuzz.
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from converter.errors import ModelError
from converter.tflite.arena import plan
from converter.tflite.macs import model_macs
from converter.tflite.reader import read_model

EXAMPLES = int(os.environ.get("EDGECONV_FUZZ_EXAMPLES", "300"))
SEED_MODEL = None


@pytest.fixture(scope="module", autouse=True)
def seed_model(chain):
    global SEED_MODEL
    SEED_MODEL = chain.int8_tflite.read_bytes()


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        b[pos % len(b)] = value
    return bytes(b[:cut] if cut is not None else b)


mutations = st.tuples(
    st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(0, 50_000)),
)


def _dangling_op_input(data: bytes) -> bytes:
    """The model with its first operator's first input pointing past the tensor table."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    op = model.subgraphs[0].operators[0]
    op.inputs = [len(model.subgraphs[0].tensors) + 7, *list(op.inputs)[1:]]
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def analyse(data: bytes) -> None:
    """Everything `inspect` does with a file."""
    info = read_model(data, "fuzzed.tflite")
    for sg in info.subgraphs:
        plan(sg)
        model_macs(sg)
    info.op_counts()
    info.output_names()


@settings(max_examples=EXAMPLES, deadline=2000, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations)
def test_reader_and_inspector_never_crash(mutation):
    edits, cut = mutation
    try:
        analyse(mutate(SEED_MODEL, edits, cut))
    except ModelError:
        pass


@settings(max_examples=12, deadline=30_000, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations)
def test_runtime_worker_contains_native_failures(mutation):
    """LiteRT on a corrupt file may fail or even crash: the worker turns both into ModelError."""
    import numpy as np

    from converter.targets.worker import WorkerSession

    edits, cut = mutation
    data = mutate(SEED_MODEL, edits, cut)
    try:
        session = WorkerSession(data, timeout=20)
    except ModelError:
        return
    try:
        session.predict([np.zeros((2, 8, 8, 1), np.float32)])
    except ModelError:
        pass
    finally:
        session.close()


def test_regressions():
    """Cases found by the fuzzer, kept as fixed examples."""
    # an operator input pointing past the tensor table crashed the arena planner (IndexError);
    # built with the schema's object API, so it does not depend on byte offsets in the seed
    with pytest.raises(ModelError, match=r"corrupt model: op #\d+ \w+ in subgraph 0 refers to tensor"):
        analyse(_dangling_op_input(SEED_MODEL))
    # a zeroed shape vector gave a FULLY_CONNECTED input of rank 0: the MAC counter indexed it
    analyse(mutate(SEED_MODEL, [(292812, 0)], None))
    for data in (b"\x00" * 8, b"\x10\x00\x00\x00TFL3" + b"\xff" * 64, SEED_MODEL[:100], SEED_MODEL[:-10]):
        try:
            analyse(data)
        except ModelError:
            pass
