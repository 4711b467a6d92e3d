"""The arena estimate (head + tail, from the flatbuffer alone) against tflite-micro's measured
total on a corpus of real models: within 10% and never below, for every model."""
import pytest

from converter.targets.micro import MicroRuntime

pytestmark = pytest.mark.skipif(not MicroRuntime().availability().ok, reason="tflite-micro not installed")


@pytest.fixture(scope="session")
def corpus_rows():
    from benchmarks.arena_corpus import build, compare

    return {r["model"]: r for r in compare(build())}


def test_corpus_covers_the_architectures(corpus_rows):
    assert len(corpus_rows) >= 10
    assert {"streaming_variables", "rnn_unrolled", "dense_int16x8"} <= set(corpus_rows)
    assert corpus_rows["streaming_variables"]["subgraphs"] == 2  # CALL_ONCE runs an init subgraph


@pytest.mark.parametrize("name", ["conv", "depthwise_residual", "pooling_softmax", "dense", "rnn_unrolled",
                                  "mobilenet_0.25_32", "mobilenetv2_0.35_32", "depthwise_residual_int16x8",
                                  "dense_int16x8", "streaming_variables"])
def test_estimate_within_10_percent_and_never_below_measured(corpus_rows, name):
    r = corpus_rows[name]
    assert r["measured_bytes"] <= r["estimate_64_bytes"] <= 1.10 * r["measured_bytes"], r
    assert r["estimate_32_bytes"] < r["estimate_64_bytes"]  # pointer-sized fields halve on a Cortex-M
