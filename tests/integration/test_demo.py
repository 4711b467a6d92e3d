"""The built-in demo end to end, held to the promises of the README."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from converter.cli import cli
from converter.tflite.integer_check import prove_integer
from converter.tflite.reader import read_model_file


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`edgeconv demo --json` as a user runs it: its output folder and its JSON document."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(cli, ["demo", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_demo_produces_a_fully_integer_model_within_one_point(demo):
    out, report = demo
    assert sorted(p.name for p in out.iterdir()) == [
        ".edgeconv-output.json", "explain", "manifest.json", "model.keras", "model_float.tflite", "model_int8.tflite",
        "recipe.yaml", "report.html", "report.json", "report.md"]  # the demo is the bundled demo recipe
    assert json.loads((out / "report.json").read_text())["sections"]["validation"] == report["sections"]["validation"]

    info = read_model_file(out / "model_int8.tflite")
    assert prove_integer(info, "int8").ok
    assert {info.main.tensor(i).dtype for i in (*info.main.inputs, *info.main.outputs)} == {"int8"}

    v = report["sections"]["validation"]
    assert v["samples"] == 360
    assert v["reference_accuracy"] > 0.9
    assert abs(v["reference_accuracy"] - v["candidate_accuracy"]) <= 0.01
    assert report["sections"]["latency"]["int8"]["p50_ms"] > 0
    assert report["sections"]["memory"]["int8"]["arena_estimate_bytes"] > 0
    assert report["sections"]["size"]["float32"]["bytes"] > report["sections"]["size"]["int8"]["gzip_bytes"] > 0
    assert [c["name"] for c in report["checks"]] == ["fully integer", "explanation agreement", "accuracy drop"]
    md = (out / "report.md").read_text()
    assert "✓ **fully integer**" in md and "## Validation" in md and "## Layer errors" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 + 4 and "src='http" not in page  # + 4 explanation figures
    assert page.index("<h2>Summary</h2>") < page.index("<h2>Checks</h2>")  # it opens on the summary card
    assert report["sections"]["layer_errors"]["worst"][0]["rmse_lsb"] > 0


def test_demo_is_reproducible_and_keeps_existing_output(tmp_path):
    out = tmp_path / "demo"
    runner = CliRunner()
    first_run = runner.invoke(cli, ["demo", "-o", str(out), "--epochs", "2", "--json"])
    assert first_run.exit_code == 0, first_run.output  # 2 epochs already lose < 1 point to int8 (seed 0)
    assert [(c["name"], c["ok"]) for c in json.loads(first_run.stdout)["checks"]] == [
        ("fully integer", True), ("explanation agreement", True), ("accuracy drop", True)]
    first = (out / "model_int8.tflite").read_bytes()
    again = runner.invoke(cli, ["demo", "-o", str(out), "--epochs", "2"])
    assert again.exit_code == 3 and "already exists" in again.stderr
    forced = runner.invoke(cli, ["demo", "-o", str(out), "--epochs", "2", "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["checks"] == json.loads(first_run.stdout)["checks"]
    assert (out / "model_int8.tflite").read_bytes() == first  # same seed, byte-identical model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_every_report_section_is_documented(demo):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "report-schema.md").read_text()
    sections = demo[1]["sections"]
    assert {"model", "conversion", "layer_errors", "validation", "explanation", "latency", "memory"} <= set(sections)
    assert all(f"| `{name}` |" in doc for name in sections), [s for s in sections if f"| `{s}` |" not in doc]
    for name in ("latency", "memory", "compute", "size"):  # figures nest under the model's kind
        assert set(sections[name]) == {"int8", "float32"}, sections[name].keys()  # float32: convert's baseline
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{name}` | per model:"))
        assert all(f"`{k}`" in row for k in sections[name]["int8"]), (name, sections[name]["int8"].keys())
