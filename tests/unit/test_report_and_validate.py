import json

import numpy as np
import pytest

from converter.errors import InputError
from converter.report import Report
from converter.report.render import to_markdown
from converter.verify.compare import match_outputs


def test_report_json_is_strict_and_markdown_shows_checks():
    r = Report("t")
    r.add("validation", snr_db=float("inf"), agreement=np.float32(0.5))
    r.check("fully integer", True, "7 ops")
    r.check("accuracy drop", False, "2.0 points (budget 1.0)")
    doc = json.loads(r.to_json(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert doc["schema"] == "edgeconv.report/1" and doc["ok"] is False
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
