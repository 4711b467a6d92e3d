"""LIME explanation drift between float and int8 models: seeded, batched, image and tabular."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli
from converter.inputs.data import Dataset
from converter.verify.explain import ExplainOptions, explain_drift, explain_stage, grid_segments
from converter.report import Report
from converter.targets.host import HostSession
from converter.targets.keras import KerasSession

FAST = ExplainOptions(samples=3, num_samples=200)


def test_grid_segments_cover_tiny_images():
    seg = grid_segments(8, 8, 16)
    assert seg.shape == (8, 8) and len(np.unique(seg)) == 16
    assert len(np.unique(grid_segments(5, 7, 100))) == 35  # one pixel per segment at most


def test_float_vs_int8_drift_with_figures_and_budget(chain, digits, tmp_path):
    report = Report("t")
    result = explain_stage(KerasSession(chain.model), HostSession(chain.int8_tflite.read_bytes()), digits[1],
                           FAST, report, figures=tmp_path, min_agreement=0.0)
    s = report.sections["explanation"]
    assert s["samples"] == 3 and len(s["per_sample"]) == 3 and 0 <= s["mean_top_k_overlap"] <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(s["figures"])
    assert report.checks[0].name == "explanation agreement" and report.checks[0].ok
    assert result.predictions >= 2 * 3 * 200


def test_same_seed_same_numbers_other_seed_other_samples(chain, digits):
    ref, cand = KerasSession(chain.model), HostSession(chain.int8_tflite.read_bytes())
    a = explain_drift(ref, cand, digits[1], FAST)
    b = explain_drift(ref, cand, digits[1], FAST)
    assert a.summary()["per_sample"] == b.summary()["per_sample"]
    assert all(np.array_equal(x, y) for x, y in zip(a.reference_weights + a.candidate_weights,
                                                    b.reference_weights + b.candidate_weights))
    c = explain_drift(ref, cand, digits[1], ExplainOptions(samples=3, num_samples=200, seed=1))
    assert [s.index for s in c.samples] != [s.index for s in a.samples]


def test_model_against_itself_agrees_perfectly(chain, digits):
    session = KerasSession(chain.model)
    summary = explain_drift(session, session, digits[1], FAST).summary()
    assert summary["mean_top_k_overlap"] == 1.0 and summary["mean_rank_correlation"] == 1.0


def test_tabular_breast_cancer(tmp_path):
    from sklearn.datasets import load_breast_cancer

    from converter.export.tflite import ConvertOptions, convert

    keras = keras_env.keras()
    keras_env.seed_everything(0)
    d = load_breast_cancer()
    x = ((d.data - d.data.mean(0)) / d.data.std(0)).astype(np.float32)
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, d.target, epochs=10, verbose=0)
    data = Dataset(x, d.target, "breast-cancer")
    int8 = convert(model, data, ConvertOptions(samples=100)).tflite
    result = explain_drift(KerasSession(model), HostSession(int8), data, ExplainOptions(samples=3, num_samples=300))
    assert len(result.reference_weights[0]) == 30 and result.summary()["mean_top_k_overlap"] >= 0.4


def test_explain_cli(chain, tmp_path):
    out = tmp_path / "ex"
    args = ["explain", str(chain.keras_path), str(chain.int8_tflite), "--data", str(chain.test_npz), "--samples", "2",
            "--num-samples", "100", "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sections"]["explanation"]["samples"] == 2
    assert {"report.json", "report.md", "report.html"} <= {p.name for p in out.iterdir()}
    failing = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "ex2"), "--min-explanation-agreement", "1.01"])
    assert failing.exit_code == 2  # out of range: usage error
    result = CliRunner().invoke(cli, ["explain", str(chain.keras_path), str(chain.invalid), "--data",
                                      str(chain.test_npz), "-o", str(tmp_path / "ex3")])
    assert result.exit_code == 3 and "is not a TFLite model" in result.stderr
    assert not (tmp_path / "ex3").exists()


def test_unsupported_data_shape():
    from converter.errors import InputError

    with pytest.raises(InputError, match="explanations need images"):
        explain_drift(None, None, Dataset(np.zeros((4, 3, 3)), None, "t"), FAST)


def test_several_inputs_and_too_few_features_are_refused():
    from converter.errors import InputError

    two = Dataset((np.zeros((4, 6)), np.zeros((4, 6))), None, "t")
    with pytest.raises(InputError, match="explanations need a model with one input; this one takes 2"):
        explain_drift(None, None, two, FAST)
    with pytest.raises(InputError, match=r"1 feature\(s\), not more than top_k=5: every top-5 overlap would be 1"):
        explain_drift(None, None, Dataset(np.zeros((4, 1)), None, "sine"), FAST)
    images = Dataset(np.zeros((4, 8, 8, 1), np.float32), None, "digits")
    with pytest.raises(InputError, match=r"16 image segment\(s\), not more than top_k=16"):
        explain_drift(None, None, images, ExplainOptions(samples=1, num_samples=50, top_k=16))


def test_a_one_unit_sigmoid_classifier_is_explained_not_scored_a_blank_1():
    """A softmax of one column is 1 for every input: every LIME weight was 0 and the overlap a
    perfect 1.00 that nothing measured."""
    from sklearn.datasets import load_breast_cancer

    keras = keras_env.keras()
    keras_env.seed_everything(0)
    d = load_breast_cancer()
    x = ((d.data - d.data.mean(0)) / d.data.std(0)).astype(np.float32)
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(x, d.target, epochs=10, verbose=0)
    result = explain_drift(KerasSession(model), KerasSession(model), Dataset(x, d.target, "breast-cancer"),
                           ExplainOptions(samples=3, num_samples=300))
    assert all(np.abs(w).max() > 0 for w in result.reference_weights)
    assert {s.label for s in result.samples} <= {0, 1}
