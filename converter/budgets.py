"""Budgets: limits a build pipeline sets on a model. Each becomes a ✓/✗ check with the
numbers; a failed budget makes the command exit 1."""
from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import InputError
from .report import Report


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

    def apply(self, report: Report, label: str) -> None:
        """Check the figures `report` holds for the model measured under `label`."""
        s = report.sections
        v = s.get("validation", {})
        if self.max_accuracy_drop is not None and v.get("accuracy_drop") is not None:
            drop = v["accuracy_drop"] * 100
            report.check("accuracy drop", drop <= self.max_accuracy_drop,
                         f"{drop:.2f} points (budget {self.max_accuracy_drop:g})")
        if self.min_agreement is not None and "agreement" in v:
            agree = v["agreement"] * 100
            report.check("agreement", agree >= self.min_agreement, f"{agree:.2f}% (budget ≥ {self.min_agreement:g}%)")
        if self.max_latency_ms is not None:
            p50 = s["latency"][label]["p50_ms"]
            report.check("latency", p50 <= self.max_latency_ms, f"p50 {p50:.4g} ms (budget {self.max_latency_ms:g} ms)")
        if self.max_arena_kb is not None:
            kb = s["memory"][f"{label}_arena_estimate_bytes"] / 1024
            report.check("arena", kb <= self.max_arena_kb, f"{kb:.1f} KB estimated (budget {self.max_arena_kb:g} KB)")
        if self.max_size_kb is not None:
            kb = s["size"][f"{label}_bytes"] / 1024
            report.check("size", kb <= self.max_size_kb, f"{kb:.1f} KB (budget {self.max_size_kb:g} KB)")
