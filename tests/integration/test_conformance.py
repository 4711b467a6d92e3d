"""A fast slice of the conformance corpus (`make conformance`, docs/conformance.md): a few of
its models go through the steps that broke before with the `edgeconv` CLI in a child process,
as a user runs it, two models at a time. No step may end in a bug (exit 4, a death by signal,
no JSON document), and each ends exactly as expected: ✓, or a refusal or fallback naming its
reason."""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import benchmarks.conformance
from benchmarks.conformance.corpus import build_one, specs
from benchmarks.conformance.matrix import run_model

PACKAGE = Path(benchmarks.conformance.__file__).parent

# model -> step -> (outcome, words the reason must contain)
EXPECTED = {
    "custom_layer": {"convert": ("ok", ""), "validate": ("ok", "agreement"),  # its code from --import
                     # (no figure: this untrained model's top-2 scores lie within half an int8 step)
                     "qat": ("fallback", "1 layers left to calibration: ChannelGain ×1 (a custom layer")},
    "plain_savedmodel": {"convert": ("ok", ""), "prune": ("refused", "pruning needs a Keras model")},
    "nested": {"prune": ("ok", "")},  # inlined for TFMOT
    "subclassed": {"convert": ("ok", ""), "validate": ("ok", "cosine 1.000"),  # built from its .keras build_config
                   "distill": ("ok", "student 2,702 params")},  # the student sized by calling the teacher
    "stateful_stream": {"convert": ("refused", "stateful recurrent layers (gru)")},
}  # the keras.applications (25 s and more per conversion) are left to `make conformance`


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("conformance")
    for name in EXPECTED:
        build_one(name, root / name)

    def row(name):
        return name, run_model(specs()[name], root / name, PACKAGE, list(EXPECTED[name]))

    with ThreadPoolExecutor(2) as pool:  # each step is a CLI process: two keep both cores busy
        return dict(pool.map(row, EXPECTED))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_corpus_model_steps(rows, name):
    for step, (outcome, words) in EXPECTED[name].items():
        cell = rows[name][step]
        assert cell.outcome != "bug", f"{name} / {step}: exit {cell.exit_code}: {cell.why}"
        assert (cell.outcome, cell.exit_code) == (outcome, 3 if outcome == "refused" else 0), (step, cell)
        assert words in cell.why, (step, cell)
