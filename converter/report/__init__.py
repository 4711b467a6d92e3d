"""One Report object that every stage adds figures to; rendering lives in render.py."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

SCHEMA = "edgeconv.report/2"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "✗"

    def line(self, name_format: str = "{}", escape=str) -> str:
        """'✓ name: detail'; Markdown and HTML pass how the name is set off and how text is escaped."""
        return f"{self.mark} {name_format.format(escape(self.name))}: {escape(self.detail)}"

    def short(self) -> str:
        """'✓ name': the form a summary table's cell joins."""
        return f"{self.mark} {self.name}"

    def verdict(self) -> str:
        """'✓ detail': for tables that give the name its own column."""
        return f"{self.mark} {self.detail}"


@dataclass
class Report:
    title: str
    sections: dict[str, dict] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, section: str, **figures) -> None:
        self.sections.setdefault(section, {}).update(figures)

    def add_model(self, section: str, model: str, **figures) -> None:
        """Figures of one model (its kind, e.g. 'int8'), nested under it: sections[section][model]."""
        self.sections.setdefault(section, {}).setdefault(model, {}).update(figures)

    def model_figures(self, section: str, model: str) -> dict:
        """What `section` holds for `model`; empty when that model was not measured there."""
        figures = self.sections.get(section, {}).get(model)
        return figures if isinstance(figures, dict) else {}

    def checks_summary(self) -> str:
        """'✓ a, ✗ b' for a summary table's checks cell; '–' when nothing was checked."""
        return ", ".join(c.short() for c in self.checks) or "–"

    def check(self, name: str, ok: bool, detail: str) -> Check:
        c = Check(name, bool(ok), detail)
        self.checks.append(c)
        return c

    def warn(self, message: str) -> None:
        """Something the user should see that does not fail the run (the CLI prints it)."""
        self.warnings.append(message)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        from .. import __version__

        return _finite({
            "schema": SCHEMA,
            "tool": {"name": "edgeconv", "version": __version__},
            "title": self.title,
            "ok": self.ok,
            "checks": [c.__dict__ for c in self.checks],
            "warnings": self.warnings,
            "sections": self.sections,
        })

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def _finite(value):
    """JSON has no Infinity/NaN: write them as null so every reader can parse the report."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _finite(value.item())
    return value
