"""A fast slice of the conformance corpus (`make conformance`, docs/conformance.md): a few of
its models go through convert, validate and one training step with the `edgeconv` CLI in a
child process, as a user runs it. No step may end in a bug (exit 4, a death by signal, no JSON
document), and each ends exactly as expected: ✓, or a refusal or fallback naming its reason."""
import pytest

from benchmarks.conformance.corpus import build_one, specs
from benchmarks.conformance.matrix import run_model

PACKAGE = __import__("pathlib").Path(__import__("benchmarks.conformance", fromlist=["x"]).__file__).parent

# model -> step -> (outcome, words the reason must contain)
EXPECTED = {
    "custom_layer": {"convert": ("ok", ""), "validate": ("ok", "agreement 100%"),
                     "qat": ("fallback", "1 layers left to calibration: ChannelGain")},
    "plain_savedmodel": {"convert": ("ok", ""), "validate": ("ok", "agreement 100%"),
                         "prune": ("refused", "pruning needs a Keras model")},
    "nested": {"convert": ("ok", ""), "validate": ("ok", "agreement 100%"), "prune": ("ok", "")},
    "subclassed": {"convert": ("ok", ""), "validate": ("ok", "cosine 1.000"),  # built from its .keras build_config
                   "distill": ("ok", "student 2,702 params")},  # the student sized by calling the teacher
    "stateful_stream": {"convert": ("refused", "stateful recurrent layers (gru)")},
}  # MobileNetV2 (a 25 s conversion) is left to `make conformance` to keep this under a minute


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("conformance")
    for name in EXPECTED:
        build_one(name, root / name)
    return root


@pytest.mark.parametrize("name", list(EXPECTED))
def test_corpus_model_steps(corpus, name):
    steps = list(EXPECTED[name])
    row = run_model(specs()[name], corpus / name, PACKAGE, steps)
    for step in steps:
        cell = row[step]
        assert cell.outcome != "bug", f"{name} / {step}: exit {cell.exit_code}: {cell.why}"
        outcome, words = EXPECTED[name][step]
        assert (cell.outcome, cell.exit_code) == (outcome, 3 if outcome == "refused" else 0), (step, cell)
        assert words in cell.why, (step, cell)
