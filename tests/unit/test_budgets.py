"""Budgets: each becomes a check that names the figure it checked; one that cannot be
evaluated fails and says why."""
from converter.report.budgets import Budgets
from converter.report import Report

_ESTIMATE = {"32bit": {"total_bytes": 5 * 1024}, "64bit": {"total_bytes": 6 * 1024}}


def _report(measured: dict, labelled: bool = True) -> Report:
    r = Report("t")
    r.add("validation", agreement=0.99, accuracy_drop=0.004 if labelled else None)
    r.add_model("memory", "int8", arena_estimate=_ESTIMATE, arena_measured=measured)
    return r


def test_arena_budget_checks_the_measured_total_and_says_so():
    r = _report({"total_bytes": 6272, "measured_by": "tflite-micro (64-bit host)"})
    Budgets(max_arena_kb=6).apply(r, "int8")
    assert [(c.name, c.ok, c.detail) for c in r.checks] == [
        ("arena", False, "6.1 KB total arena, measured by tflite-micro (64-bit host) (budget 6 KB)")]


def test_arena_budget_falls_back_to_the_32_bit_estimate():
    r = _report({"unavailable": "tflite-micro is not installed"})
    Budgets(max_arena_kb=6).apply(r, "int8")
    assert [(c.ok, c.detail) for c in r.checks] == [(True, "5.0 KB total arena, estimated, 32-bit MCU (budget 6 KB)")]


def test_a_budget_without_its_figure_fails_with_the_reason():
    r = _report({}, labelled=False)
    Budgets(max_accuracy_drop=1, max_latency_ms=5, min_agreement=90).apply(r, "int8")
    assert [(c.name, c.ok, c.detail) for c in r.checks] == [
        ("accuracy drop", False, "cannot be evaluated: the data has no labels"),
        ("agreement", True, "99.00% (budget ≥ 90%)"),
        ("latency", False, "cannot be evaluated: latency was not measured")]
    assert not r.ok


def test_budgets_check_the_model_under_test_not_its_reference():
    r = Report("t")
    r.add_model("size", "float32", bytes=40 * 1024)
    r.add_model("size", "int8", bytes=10 * 1024)
    Budgets(max_size_kb=20, max_latency_ms=1).apply(r, "int8")
    assert [(c.name, c.ok, c.detail) for c in r.checks] == [
        ("latency", False, "cannot be evaluated: latency was not measured"),
        ("size", True, "10.0 KB (budget 20 KB)")]
    assert r.model_figures("size", "int8") == {"bytes": 10 * 1024} and r.model_figures("memory", "int8") == {}


def test_a_drop_of_exactly_the_budget_passes_despite_float_noise():
    r = Report("t")
    r.add("validation", agreement=0.9, accuracy_drop=0.99 - 0.98)  # 1.0000000000000009 points unrounded
    Budgets(max_accuracy_drop=1, min_agreement=90).apply(r, "int8")
    assert [(c.name, c.ok) for c in r.checks] == [("accuracy drop", True), ("agreement", True)]
