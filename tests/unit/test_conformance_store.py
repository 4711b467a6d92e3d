"""The conformance cells kept in the repository (benchmarks/conformance/store.py): which cells a
run takes again and which it keeps, with the CLI replaced by a recorder (no TensorFlow)."""
import json

import pytest

from benchmarks.conformance import matrix
from benchmarks.conformance.corpus import specs
from benchmarks.conformance.render import markdown
from benchmarks.conformance.store import Store

SPEC = specs()["nested"]
DOCS = {"convert": {"sections": {"conversion": {"size_bytes": 100}}}, "validate": {"sections": {}},
        "prune": {"layer_sparsity": {"conv": 0.5}}}


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """The steps the CLI was asked to run; each writes the output its command names."""
    ran = []

    def fake_cli(args, cwd):
        step = {"convert": "convert", "validate": "validate", "prune": "prune"}[args[0]]
        if "-o" in args:
            out = args[args.index("-o") + 1]
            __import__("pathlib").Path(out).parent.mkdir(parents=True, exist_ok=True)
            open(out, "w").close()
        ran.append(step)
        return 0, DOCS[step], "", 2.0

    monkeypatch.setattr(matrix, "run_cli", fake_cli)
    return ran


def _run(tmp_path, store, steps, **kw):
    return matrix.run_model(SPEC, tmp_path / "nested", tmp_path / "package", steps, store=store, **kw)


def test_cells_are_stored_with_portable_commands_and_reused(calls, tmp_path):
    store = Store(tmp_path / "conformance.json")
    _run(tmp_path, store, ["convert", "validate"])
    assert calls == ["convert", "validate"]
    cell = json.loads((tmp_path / "conformance.json").read_text())["cells"]["nested"]["convert"]
    assert cell["argv"][:2] == ["convert", "{model}/model.keras"] and cell["outcome"] == "ok"
    assert cell["date"] and cell["commit"] and cell["seconds"] == 2.0
    _run(tmp_path, Store(tmp_path / "conformance.json"), ["convert", "validate"])
    assert calls == ["convert", "validate"]  # nothing ran again


def test_a_fresh_clone_runs_the_prerequisite_whose_output_is_missing(calls, tmp_path):
    store = Store(tmp_path / "conformance.json")
    _run(tmp_path, store, ["convert", "validate"])
    (tmp_path / "nested" / "runs" / "model_int8.tflite").unlink()  # another machine: the cells, not the files
    _run(tmp_path, Store(tmp_path / "conformance.json"), ["validate"], rerun=True)
    assert calls == ["convert", "validate", "convert", "validate"]  # the model first, then validate on it


def test_current_cells_need_no_outputs(calls, tmp_path):
    store = Store(tmp_path / "conformance.json")
    _run(tmp_path, store, ["convert", "validate"])
    (tmp_path / "nested" / "runs" / "model_int8.tflite").unlink()
    _run(tmp_path, Store(tmp_path / "conformance.json"), ["convert", "validate"])
    assert calls == ["convert", "validate"]  # rendering a fresh clone's matrix runs nothing


def test_two_runs_sharing_a_file_keep_each_others_cells(calls, tmp_path):
    first, second = Store(tmp_path / "conformance.json"), Store(tmp_path / "conformance.json")
    _run(tmp_path, first, ["convert"])
    matrix.run_model(specs()["custom_layer"], tmp_path / "custom_layer", tmp_path / "package", ["convert"],
                     store=second)
    cells = json.loads((tmp_path / "conformance.json").read_text())["cells"]
    assert set(cells) == {"nested", "custom_layer"}
    other = Store(tmp_path / "other.json")
    other.put("nested", "validate", matrix.Cell("ok", "merged"))
    first.merge(other)
    assert Store(tmp_path / "conformance.json").cells("nested")["validate"].why == "merged"


def test_stale_and_rerun_cells_run_again(calls, tmp_path):
    store = Store(tmp_path / "conformance.json")
    _run(tmp_path, store, ["convert", "prune"])
    store.data["cells"]["nested"]["prune"]["argv"] = ["prune", "an", "older", "command"]
    _run(tmp_path, store, ["convert", "prune"])
    assert calls == ["convert", "prune", "prune"]
    _run(tmp_path, store, ["prune"], rerun=True)
    assert calls == ["convert", "prune", "prune", "prune"]


def test_the_document_renders_every_model_from_the_store(calls, tmp_path):
    from benchmarks.conformance.__main__ import _document

    store = Store(tmp_path / "conformance.json")
    _run(tmp_path, store, ["convert"])
    store.put_build("nested", 3.0)
    doc = _document(store, specs(), 1.0)
    assert doc["seconds"] == 5.0 and doc["counts"]["convert"]["ok"] == 1
    assert doc["counts"]["validate"]["notrun"] == len(specs())
    text = markdown(doc)
    assert "| nested | ✓ | · |" in text and "**Incomplete:" in text
