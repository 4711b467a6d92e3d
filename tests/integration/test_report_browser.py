"""The demo's report.html as a person opens it: headless Debian Chromium, started here."""
import json

import pytest
from click.testing import CliRunner

from converter.cli import cli
from converter.report.units import duration, percent, points, size
from tests.browser import PAGE_FACTS, available, chromium_page

pytestmark = pytest.mark.skipif(available() is not None, reason=f"no headless browser: {available()}")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "demo"
    result = CliRunner().invoke(cli, ["run", "demo", "-o", str(out), "--json", "--set", "demo_epochs=5",
                                      "--set", "stages.explain.samples=2", "--set", "stages.explain.num_samples=50"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_the_demo_report_opens_on_the_summary_card_with_no_console_errors(demo_report):
    out, report = demo_report
    with chromium_page() as page:
        page.open(out / "report.html")
        facts = json.loads(page.evaluate(PAGE_FACTS))
        assert page.errors == []
    assert facts["firstHeading"] == "Summary"  # the first thing under the title
    card = {row[0]: row[1:] for row in facts["card"]}
    assert card["figure"] == ["float32", "int8"]
    s, v = report["sections"], report["sections"]["validation"]
    assert card["accuracy, 360 samples"] == [percent(v["reference_accuracy"]),
                                             f"{percent(v['candidate_accuracy'])} (−{points(v['accuracy_drop'])})"]
    assert card["same top-1 class as float"] == ["–", percent(v["agreement"])]
    assert card["flash: .tflite file"] == [size(s["size"]["float32"]["bytes"]), size(s["size"]["int8"]["bytes"])]
    assert card["flash: gzip"] == [size(s["size"][m]["gzip_bytes"]) for m in ("float32", "int8")]
    assert card["RAM: tensor arena"] == [f"{size(s['memory'][m]['arena_measured']['total_bytes'])}, measured by "
                                         "tflite-micro (64-bit host)" for m in ("float32", "int8")]
    lat = s["latency"]["int8"]
    assert card["latency p50 (p90), host LiteRT (XNNPACK), 1 thread"][1] == \
        f"{duration(lat['p50_ms'])} ({duration(lat['p90_ms'])})"
    assert facts["verdict"] == "✓ all 3 checks pass"
    longest = max(facts["cells"], key=len)
    assert len(longest) <= 80, longest
    assert not any(c.count(",") > 8 for c in facts["cells"])  # no raw arrays (histograms) in a cell
    assert facts["images"] and all(ok and src.startswith("data:image/png") for ok, src in facts["images"])


def test_the_browser_check_sees_console_errors(tmp_path):
    """The first test's `errors == []` means something: a page that logs an error is caught."""
    page_file = tmp_path / "bad.html"
    page_file.write_text("<!doctype html><title>t</title><script>console.error('broken'); undefined_call()</script>")
    with chromium_page() as page:
        page.open(page_file)
        assert page.errors[0] == "broken" and "undefined_call" in page.errors[1]
