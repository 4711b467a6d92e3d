"""Budgets: limits a build pipeline sets on a model. Each becomes a ✓/✗ check with the
numbers; a failed budget makes the command exit 1."""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import InputError
from . import Report


@dataclass(frozen=True)
class Budgets:
    max_accuracy_drop: float | None = None  # percentage points
    min_agreement: float | None = None  # percent of samples with the same top-1 class
    max_latency_ms: float | None = None  # host p50
    max_arena_kb: float | None = None
    max_size_kb: float | None = None

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
                raise InputError(f"budget {f.name} must be a non-negative number, got {v!r}",
                                 hint="e.g. max_accuracy_drop: 1.0 (percentage points)")
        if self.min_agreement is not None and self.min_agreement > 100:
            raise InputError(f"budget min_agreement is a percentage, got {self.min_agreement}", hint="use 0..100")

    def apply(self, report: Report, model: str | None) -> None:
        """Check the figures `report` holds for `model` (the kind of the model under test, e.g.
        'int8'; None when no model was made). A budget whose figure is missing fails and says
        why: a gate that cannot be checked must not pass."""
        for name, limit, check in ((("accuracy drop", self.max_accuracy_drop, self._accuracy_drop),
                                    ("agreement", self.min_agreement, self._agreement),
                                    ("latency", self.max_latency_ms, self._latency),
                                    ("arena", self.max_arena_kb, self._arena),
                                    ("size", self.max_size_kb, self._size))):
            if limit is None:
                continue
            result = check(report, model)
            if isinstance(result, str):
                report.check(name, False, f"cannot be evaluated: {result}")
            else:
                report.check(name, *result)

    def _accuracy_drop(self, report: Report, model: str | None):
        v = report.sections.get("validation", {})
        if v.get("accuracy_drop") is None:
            return "the data has no labels" if "validation" in report.sections else "no validation was run"
        drop = _points(v["accuracy_drop"])
        return drop <= self.max_accuracy_drop, f"{drop:.2f} points (budget {self.max_accuracy_drop:g})"

    def _agreement(self, report: Report, model: str | None):
        v = report.sections.get("validation", {})
        if "agreement" not in v:
            return "no validation was run"
        if v["agreement"] is None:
            return ("the first output is a regression (one value per sample, not a probability, no labels): "
                    "there is no top-1 class to agree on")
        agree = _points(v["agreement"])
        return agree >= self.min_agreement, f"{agree:.2f}% (budget ≥ {self.min_agreement:g}%)"

    def _latency(self, report: Report, model: str | None):
        lat = report.model_figures("latency", model)
        if not lat:
            return "latency was not measured"
        p50 = lat["p50_ms"]
        return p50 <= self.max_latency_ms, (f"p50 {p50:.4g} ms on {lat['runtime']} "
                                            f"(budget {self.max_latency_ms:g} ms)")

    def _arena(self, report: Report, model: str | None):
        total = arena_bytes(report, model)
        if total is None:
            return "the arena was not estimated"
        kb, what = total[0] / 1024, total[1]
        return kb <= self.max_arena_kb, f"{kb:.1f} KB total arena, {what} (budget {self.max_arena_kb:g} KB)"

    def _size(self, report: Report, model: str | None):
        size = report.model_figures("size", model).get("bytes")
        if size is None:
            return "the model size was not recorded"
        kb = size / 1024
        return kb <= self.max_size_kb, f"{kb:.1f} KB (budget {self.max_size_kb:g} KB)"


def arena_bytes(report: Report, model: str | None) -> tuple[int, str] | None:
    """(total arena bytes, where the figure comes from): the measured total when tflite-micro ran
    the model, else the 32-bit estimate (what a Cortex-M arena needs); None when neither exists."""
    memory = report.model_figures("memory", model)
    measured = memory.get("arena_measured", {})
    estimate = memory.get("arena_estimate", {}).get("32bit")
    if "total_bytes" in measured:
        return measured["total_bytes"], f"measured by {measured['measured_by']}"
    if estimate is not None:
        return estimate["total_bytes"], "estimated, 32-bit MCU"
    return None


def _points(fraction: float) -> float:
    """A fraction in percent, rounded off float noise: 1 sample in 100 is 1 point, and a
    1-point budget passes it (0.99 - 0.98 is 1.0000000000000009 points unrounded)."""
    return round(fraction * 100, 9)
