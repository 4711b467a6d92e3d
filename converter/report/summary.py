"""The summary card: does the model fit its device, and what did quantization cost?

Float and the converted model side by side for the task metric, flash (file and gzip), RAM
(the total tensor arena, measured or estimated, saying which) and latency per target with its
thread count, then the checks. Reports open on it; `demo` and `run` print it."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..tflite.kind import KINDS
from . import Check, Report
from .units import duration, percent, points, size, threads

FLOAT = "float32"
_MODEL_SECTIONS = ("size", "latency", "memory")


@dataclass
class Card:
    columns: list[str]  # model kinds, the float reference first
    rows: list[tuple[str, list[str]]] = field(default_factory=list)  # (figure, one value per column)
    checks: list[Check] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """'✓ all 3 checks pass', '✗ 1 of 3 checks fails', or '' when nothing was checked."""
        failed = [c for c in self.checks if not c.ok]
        if not self.checks:
            return ""
        if not failed:
            return f"✓ all {len(self.checks)} checks pass" if len(self.checks) > 1 else "✓ the check passes"
        return f"✗ {len(failed)} of {len(self.checks)} checks fail" + ("s" if len(failed) == 1 else "")

    def add(self, figure: str, values: dict[str, str]) -> None:
        if any(v != "–" for v in values.values()):
            self.rows.append((figure, [values.get(c, "–") for c in self.columns]))

    def table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows) for a renderer: a 'figure' column, then one per model."""
        return ["figure", *self.columns], [[figure, *values] for figure, values in self.rows]


def models_of(report: Report) -> list[str]:
    """The kinds of model the report has figures for: the float reference first, then the
    converted ones in KINDS order. The float column appears when validation compared to one."""
    kinds = {k for s in _MODEL_SECTIONS for k in report.sections.get(s, {}) if k in KINDS}
    if "reference_accuracy" in report.sections.get("validation", {}) or "agreement" in report.sections.get(
            "validation", {}):
        kinds.add(FLOAT)
    return sorted(kinds, key=lambda k: (k != FLOAT, KINDS.index(k)))


def candidate_of(report: Report) -> str | None:
    """The model under test: the first converted (non-float) kind, else the float one."""
    models = models_of(report)
    converted = [m for m in models if m != FLOAT]
    return converted[0] if converted else (models[0] if models else None)


def summary_card(report: Report) -> Card:
    card = Card(models_of(report), checks=list(report.checks))
    candidate = candidate_of(report)
    _task_metric(card, report.sections.get("validation", {}), candidate)
    card.add("flash: .tflite file", {m: size(report.model_figures("size", m).get("bytes")) for m in card.columns})
    card.add("flash: gzip", {m: size(report.model_figures("size", m).get("gzip_bytes")) for m in card.columns})
    card.add("RAM: tensor arena", {m: arena_total(report, m) for m in card.columns})
    card.add("RAM: arena on a 32-bit MCU", {m: _mcu_estimate(report, m) for m in card.columns})
    for label, values in _latency_rows(report, card.columns):
        card.add(label, values)
    return card


def _task_metric(card: Card, v: dict, candidate: str | None) -> None:
    if not v or candidate is None:
        return
    samples = f"{v['samples']:,} samples" if "samples" in v else "the data"
    if v.get("reference_accuracy") is not None:
        drop = v.get("accuracy_drop")
        lost = "" if drop is None else f" ({'−' if drop >= 0 else '+'}{points(abs(drop))})"
        card.add(f"accuracy, {samples}", {FLOAT: percent(v["reference_accuracy"]),
                                          candidate: percent(v.get("candidate_accuracy")) + lost})
    if v.get("reference_top5") is not None:
        card.add("top-5 accuracy", {FLOAT: percent(v["reference_top5"]), candidate: percent(v.get("candidate_top5"))})
    if v.get("agreement") is not None:
        card.add("same top-1 class as float", {candidate: percent(v["agreement"])})


def arena_total(report: Report, model: str) -> str:
    """The whole arena (head + persistent tail) and where the figure comes from: tflite-micro's
    measurement when it ran the model, else the 32-bit estimate (what a Cortex-M build needs)."""
    memory = report.model_figures("memory", model)
    measured = memory.get("arena_measured", {})
    if "total_bytes" in measured:
        return f"{size(measured['total_bytes'])}, measured by {measured['measured_by']}"
    estimate = memory.get("arena_estimate", {}).get("32bit")
    if estimate:
        return f"{size(estimate['total_bytes'])}, estimated for a 32-bit MCU"
    return "–"


def _mcu_estimate(report: Report, model: str) -> str:
    """Shown beside a measurement, which is of this 64-bit host: MCU structs are smaller."""
    memory = report.model_figures("memory", model)
    estimate = memory.get("arena_estimate", {}).get("32bit")
    if "total_bytes" not in memory.get("arena_measured", {}) or not estimate:
        return "–"
    return f"{size(estimate['total_bytes'])}, estimated"


def _latency_rows(report: Report, models: list[str]):
    """One row per target and thread count: 'latency p50 (p90), host LiteRT (XNNPACK), 1 thread'."""
    rows: dict[str, dict[str, str]] = {}
    for m in models:
        lat = report.model_figures("latency", m)
        if "p50_ms" not in lat:
            continue
        label = f"latency p50 (p90), {lat.get('runtime', 'host')}" + (
            f", {threads(lat['threads'])}" if lat.get("threads") else "")
        p90 = f" ({duration(lat['p90_ms'])})" if lat.get("p90_ms") is not None else ""
        rows.setdefault(label, {})[m] = duration(lat["p50_ms"]) + p90
    return rows.items()

