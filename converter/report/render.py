"""Report -> Markdown (and the short console summary)."""
from __future__ import annotations

from . import Report


def fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    return "–" if value is None else str(value)


def to_markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    if report.checks:
        lines += ["## Checks", ""]
        lines += [f"- {'✓' if c.ok else '✗'} **{c.name}**: {c.detail}" for c in report.checks]
        lines.append("")
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- ⚠ {w}" for w in report.warnings] + [""]
    for name, figures in report.sections.items():
        lines += [f"## {name.replace('_', ' ').capitalize()}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in figures.items()]
        lines.append("")
    return "\n".join(lines)
