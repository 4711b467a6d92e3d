import hashlib
import html
import json
from types import SimpleNamespace

import numpy as np
import pytest

from converter.errors import InputError
from converter.report import Report
from converter.report.files import write_manifest, write_report
from converter.report.render import to_markdown
from converter.tflite.kind import model_kind
from converter.tflite.reader import TensorInfo
from converter.verify.compare import match_outputs


def test_report_json_is_strict_and_markdown_shows_checks():
    r = Report("t")
    r.add("validation", snr_db=float("inf"), agreement=np.float32(0.5))
    r.check("fully integer", True, "7 ops")
    r.check("accuracy drop", False, "2.0 points (budget 1.0)")
    doc = json.loads(r.to_json(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert doc["schema"] == "edgeconv.report/2" and doc["ok"] is False
    assert doc["sections"]["validation"] == {"snr_db": None, "agreement": 0.5}
    md = to_markdown(r)
    assert "- ✓ **fully integer**: 7 ops" in md and "- ✗ **accuracy drop**" in md


def test_outputs_match_by_name_then_shape_never_position():
    ref = {"boxes": np.zeros((2, 4)), "scores": np.zeros((2, 10))}
    cand = {"StatefulPartitionedCall:1": np.zeros((2, 10)), "StatefulPartitionedCall:0": np.zeros((2, 4))}
    assert sorted(match_outputs(ref, cand)) == [("boxes", "StatefulPartitionedCall:0"),
                                                ("scores", "StatefulPartitionedCall:1")]
    assert match_outputs({"a": ref["boxes"]}, {"a": ref["boxes"]}) == [("a", "a")]


def test_ambiguous_outputs_are_refused():
    with pytest.raises(InputError, match="cannot match reference output 'a'"):
        match_outputs({"a": np.zeros((2, 3)), "b": np.zeros((2, 3))}, {"x": np.zeros((2, 3)), "y": np.zeros((2, 3))})


class _Constant:
    """A session whose outputs do not depend on the input."""

    def __init__(self, **outputs):
        self.outputs = outputs
        self.failures = []  # the Session protocol: it never fails a sample

    def predict(self, inputs):
        return {k: np.repeat(v[None], len(inputs[0]), axis=0) for k, v in self.outputs.items()}


def test_compare_refuses_labels_beyond_the_scored_output_of_a_multi_output_model():
    from converter.inputs.data import Dataset
    from converter.errors import DataError
    from converter.verify.compare import compare

    model = _Constant(scores=np.array([0.2, 0.5, 0.3]), boxes=np.zeros(4))
    data = Dataset(np.zeros((4, 2), np.float32), np.array([0, 1, 2, 7]), "d")  # the loader cannot tell: 2 outputs
    with pytest.raises(DataError, match="label 7 \\(sample 3\\) is out of range: the model has 3 classes"):
        compare(model, model, data)
    v = compare(model, model, Dataset(data.x, np.array([1, 1, 2, 0]), "d"))
    assert (v.reference_accuracy, v.accuracy_drop) == (0.5, 0.0)


def test_a_check_renders_its_own_lines():
    r = Report("t")
    assert r.checks_summary() == "–"
    ok, bad = r.check("fully integer", True, "7 ops"), r.check("size <a>", False, "9 KB")
    assert (ok.line(), bad.short(), bad.verdict()) == ("✓ fully integer: 7 ops", "✗ size <a>", "✗ 9 KB")
    assert bad.line("<b>{}</b>", html.escape) == "✗ <b>size &lt;a&gt;</b>: 9 KB"
    assert r.checks_summary() == "✓ fully integer, ✗ size <a>"


def test_figures_nest_under_their_model_and_render_as_one_table_with_a_column_per_model():
    r = Report("t")
    r.add_model("memory", "int8", arena_estimate={"32bit": {"total_bytes": 5120}}, arena_measured={"unavailable": "no"})
    r.add_model("memory", "float32", arena_estimate={"32bit": {"total_bytes": 9216}})
    r.add_model("latency", "int8", p50_ms=0.5, histogram_ms={"edges": list(range(20)), "counts": list(range(19))})
    r.add_model("size", "int8", bytes=10)
    r.add("size", float_over_int8=3.5)
    assert r.sections["memory"]["int8"]["arena_estimate"]["32bit"]["total_bytes"] == 5120
    assert r.model_figures("memory", "float32") == {"arena_estimate": {"32bit": {"total_bytes": 9216}}}
    assert r.model_figures("latency", "float32") == {} == r.model_figures("compute", "int8")
    md = to_markdown(r)
    assert ("| figure | float32 | int8 |\n|---|---|---|\n| arena, estimated for a 32-bit MCU | 9.0 KB | 5.0 KB |\n"
            "| arena, measured | – | not measured: no |") in md  # the float reference first, as on the summary card
    assert "histogram" not in md  # plotted in report.html; the numbers are in report.json
    assert ("| figure | int8 |\n|---|---|\n| bytes | 10 B |\n\n"
            "| figure | value |\n|---|---|\n| float over int8 | 3.5 |") in md


def _tensor(dtype, constant, quantized=True):
    return TensorInfo(0, "t", dtype, (1,), (1,), constant, False, (0.1,) if quantized else ())


@pytest.mark.parametrize("tensors, kind", [
    ([("float32", False, False), ("int8", False, True), ("int8", True, True), ("int32", True, True)], "int8"),
    ([("int16", False, True), ("int8", True, True), ("int64", True, True)], "int16x8"),
    ([("float32", False, False), ("float16", True, False)], "float16"),
    ([("float32", False, False), ("int8", True, True)], "dynamic"),
    ([("float32", False, False), ("float32", True, False)], "float32"),
])
def test_the_model_kind_is_read_from_the_tensor_types(tensors, kind):
    info = SimpleNamespace(subgraphs=[SimpleNamespace(tensors=[_tensor(*t) for t in tensors])])
    assert model_kind(info) == kind


def test_the_run_folder_holds_the_three_reports_and_a_manifest_of_them(tmp_path):
    r = Report("t")
    r.check("fully integer", True, "7 ops")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.tflite").write_bytes(b"TFL3")
    write_report(tmp_path, r)
    write_manifest(tmp_path)
    assert json.loads((tmp_path / "report.json").read_text()) == r.to_dict()
    assert "- ✓ **fully integer**: 7 ops" in (tmp_path / "report.md").read_text()
    assert "✓ <b>fully integer</b>: 7 ops" in (tmp_path / "report.html").read_text()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest) == {"report.json", "report.md", "report.html", "sub/m.tflite"}
    assert manifest["sub/m.tflite"] == hashlib.sha256(b"TFL3").hexdigest()


def test_compare_runs_in_chunks_and_keeps_each_failure_at_its_sample():
    from converter.inputs.data import Dataset
    from converter.targets.base import SampleFailure
    from converter.verify.compare import CHUNK, compare

    class FailsSecondOfEachCall(_Constant):
        def predict(self, inputs):
            out = super().predict(inputs)
            out["scores"][1] = np.nan
            self.failures.append(SampleFailure(1, "DIV", "failed"))
            return out

    samples = 2 * CHUNK + 10
    data = Dataset(np.zeros((samples, 2), np.float32), np.full(samples, 1), "d")
    v = compare(_Constant(scores=np.array([0.2, 0.5, 0.3])), FailsSecondOfEachCall(scores=np.array([0.2, 0.5, 0.3])),
                data)
    assert [f.index for f in v.failures] == [1, CHUNK + 1, 2 * CHUNK + 1]
    assert v.samples == samples - 3 and v.agreement == 1.0 and v.candidate_accuracy == 1.0


class _Varying(_Constant):
    """A session whose output follows its first input feature."""

    def predict(self, inputs):
        return {"scores": np.stack([inputs[0][:, 0] + np.arange(1, len(inputs[0]) + 1)] * 3, axis=1)}


def test_an_all_zero_candidate_output_has_cosine_0_not_1():
    from converter.inputs.data import Dataset
    from converter.verify.compare import compare

    data = Dataset(np.zeros((3, 2), np.float32), None, "d")
    live, dead = _Constant(scores=np.array([0.001, 0.002, 0.001])), _Constant(scores=np.zeros(3))
    assert compare(live, dead, data).outputs[0].cosine == 0.0
    assert not compare(live, dead, data).outputs[0].constant  # both constant: nothing collapsed
    varied = compare(_Varying(), dead, data).outputs[0]
    assert varied.cosine == 0.0 and varied.constant
    assert compare(dead, dead, data).outputs[0].cosine == 1.0  # the same all-zero output: identical


def test_a_one_value_output_has_no_top1_agreement_and_its_budget_says_why():
    from converter.inputs.data import Dataset
    from converter.report.budgets import Budgets
    from converter.verify.compare import compare

    regression = _Constant(value=np.array([1.7]))  # not a probability, and no labels: a regression
    v = compare(regression, regression, Dataset(np.zeros((3, 1), np.float32), None, "d"))
    assert v.agreement is None and v.outputs[0].snr_db == float("inf")
    r = Report("t")
    r.add("validation", **v.to_dict())
    Budgets(min_agreement=90).apply(r, "int8")
    assert [(c.name, c.ok, c.detail) for c in r.checks] == [
        ("agreement", False, "cannot be evaluated: the first output is a regression (one value per sample, not a "
                             "probability, no labels): there is no top-1 class to agree on")]


class _Sigmoid(_Constant):
    """A binary classifier with one sigmoid unit: p(class 1) follows the first input feature."""

    def __init__(self, inverted: bool = False):
        super().__init__()
        self.inverted = inverted

    def predict(self, inputs):
        p = 1 / (1 + np.exp(-inputs[0][:, :1]))
        return {"p": 1 - p if self.inverted else p}


def test_one_sigmoid_unit_is_scored_as_a_binary_classifier():
    from converter.inputs.data import Dataset
    from converter.verify.compare import compare

    x = np.linspace(-3, 3, 20, dtype=np.float32)[:, None]
    data = Dataset(x, (x[:, 0] > 0).astype(int), "d")
    same, inverted = compare(_Sigmoid(), _Sigmoid(), data), compare(_Sigmoid(), _Sigmoid(inverted=True), data)
    assert (same.reference_accuracy, same.agreement) == (1.0, 1.0)
    assert (inverted.candidate_accuracy, inverted.agreement, inverted.accuracy_drop) == (0.0, 0.0, 1.0)
    assert compare(_Sigmoid(), _Sigmoid(inverted=True), Dataset(x, None, "d")).agreement == 0.0  # probabilities
