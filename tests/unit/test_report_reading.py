"""What a person reads in report.md/.html: units, rounding, the summary card first, short cells."""
import pytest

from converter.report import Report
from converter.report.present import blocks, cell
from converter.report.render import to_html, to_markdown
from converter.report.summary import summary_card
from converter.report.units import count, duration, percent, points, seconds, size


@pytest.mark.parametrize("ms, text", [(0.005781, "5.78 µs"), (0.01359, "13.6 µs"), (0.017997, "18.0 µs"),
                                      (0.2876, "288 µs"), (1.25, "1.25 ms"), (42.0, "42.0 ms"), (2400, "2.4 s"),
                                      (None, "–")])
def test_durations_carry_their_unit(ms, text):
    assert duration(ms) == text


def test_sizes_shares_and_counts():
    assert [size(n) for n in (512, 45400, 39891, 64126976)] == ["512 B", "44.3 KB", "39.0 KB", "61.2 MB"]
    assert (percent(0.9777777), points(0.002777777777777768)) == ("97.78%", "0.28 points")
    assert (count(337536, "MACs"), count(24836172371.6, "MAC/s")) == ("338 kMACs", "24.8 GMAC/s")
    assert [seconds(s) for s in (2.179, 42.4, 185)] == ["2.2 s", "42 s", "3 min 5 s"]


def _demo_like_report() -> Report:
    r = Report("t")
    r.add("layer_errors", worst=[
        {"layer": "conv1", "op": "CONV_2D", "tensor": "digits_cnn/conv1/Relu;digits_cnn/conv1/BiasAdd;"
         "digits_cnn/conv1/Conv2D;digits_cnn/conv1/BiasAdd/ReadVariableOp1", "rmse_lsb": 0.3168721646304636}])
    r.add("validation", samples=360, reference_accuracy=0.9805555, candidate_accuracy=0.9777777,
          agreement=0.9972222, accuracy_drop=0.002777777777777768)
    for model, (nbytes, gz, p50, total) in {"int8": (45400, 39891, 0.013590, 6272),
                                             "float32": (156488, 143221, 0.015649, 14816)}.items():
        r.add_model("size", model, bytes=nbytes, gzip_bytes=gz)
        r.add_model("latency", model, p50_ms=p50, p90_ms=0.018, threads=1, runtime="host LiteRT (XNNPACK)",
                    histogram_ms={"edges": [i / 100 for i in range(21)], "counts": list(range(20))})
        r.add_model("memory", model, arena_estimate={"32bit": {"total_bytes": total - 1012, "head_bytes": 3072,
                                                               "tail_bytes": 2188}},
                    arena_measured={"total_bytes": total, "head_bytes": 3072, "tail_bytes": 3200,
                                    "measured_by": "tflite-micro (64-bit host)"})
    r.check("accuracy drop", True, "0.28 points (budget 1)")
    return r


def test_the_summary_card_sets_float_and_int8_side_by_side():
    card = summary_card(_demo_like_report())
    header, rows = card.table()
    assert header == ["figure", "float32", "int8"]
    assert rows == [
        ["accuracy, 360 samples", "98.06%", "97.78% (−0.28 points)"],
        ["same top-1 class as float", "–", "99.72%"],
        ["flash: .tflite file", "152.8 KB", "44.3 KB"],
        ["flash: gzip", "139.9 KB", "39.0 KB"],
        ["RAM: tensor arena", "14.5 KB, measured by tflite-micro (64-bit host)",
         "6.1 KB, measured by tflite-micro (64-bit host)"],
        ["RAM: arena on a 32-bit MCU", "13.5 KB, estimated", "5.1 KB, estimated"],
        ["latency p50 (p90), host LiteRT (XNNPACK), 1 thread", "15.6 µs (18.0 µs)", "13.6 µs (18.0 µs)"]]
    assert card.verdict == "✓ the check passes"


def test_tables_hold_no_raw_arrays_and_name_layers_not_tensors():
    r = _demo_like_report()
    md = to_markdown(r)
    assert md.index("## Summary") < md.index("## Checks") < md.index("## Conversion") < md.index("## Validation")
    assert "| accuracy drop | 0.28 points |" in md and "| p50 | 15.6 µs | 13.6 µs |" in md
    assert "histogram" not in md and "digits_cnn/conv1" not in md
    assert "| conv1 | CONV_2D | 0.32 LSB |" in md
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert max(len(c.strip()) for line in lines for c in line.split("|")) <= 80
    page = to_html(r)
    assert page.index("id='summary'") < page.index("<h2>Checks</h2>") < page.index("<section>")
    assert "@media print" in page and "src='http" not in page


def test_a_long_cell_is_cut_in_the_middle_and_a_long_list_is_counted():
    assert cell("figures", [f"explanation_{i}.png" for i in range(10)]) == "10 PNG files beside the report"
    assert cell("edges", list(range(21))) == "21 values (in report.json)"
    text = cell("reason", "x" * 50 + "y" * 50)
    assert len(text) == 80 and text.startswith("x" * 40) and "…" in text and text.endswith("y" * 26)
    assert blocks("memory", {"int8": {"arena_naive_bytes": 4256}}) == [
        ("", ["figure", "int8"], [["arena without buffer reuse", "4.2 KB"]])]
