"""One Report object that every stage adds figures to; rendering lives in render.py."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

SCHEMA = "edgeconv.report/1"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    title: str
    sections: dict[str, dict] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, section: str, **figures) -> None:
        self.sections.setdefault(section, {}).update(figures)

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
