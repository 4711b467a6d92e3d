"""Report -> Markdown and self-contained HTML (with plots). Both render the same blocks."""
from __future__ import annotations

import html

from ..tflite.kind import KINDS
from . import Report


def fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value) if value else "none"
    return "–" if value is None else str(value)


def blocks(figures: dict):
    """A section as (caption, columns, rows) blocks: the figures of each model it measured as one
    table with a column per model, its other scalar figures as one key/value table, then each
    list of records (and a section made of records) as a table of its own."""
    models = {k: v for k, v in figures.items() if k in KINDS and isinstance(v, dict)}
    if models:
        yield ("", ["figure", *models], _by_model(models))
        figures = {k: v for k, v in figures.items() if k not in models}
        if not figures:
            return
    if _is_table(figures):
        yield ("", *_records(figures))
        return
    scalars = [[k, v] for k, v in figures.items() if not _is_table(v)]
    if scalars:
        yield ("", ["figure", "value"], scalars)
    for k, v in figures.items():
        if _is_table(v):
            yield (k, *_records(v))


def _by_model(models: dict[str, dict]) -> list[list]:
    """One row per figure, nested figures as dotted names (arena_estimate.32bit.total_bytes), so
    no cell holds a dict; a figure one model lacks shows as '–'."""
    flat = {m: dict(_flatten(f)) for m, f in models.items()}
    names = list(dict.fromkeys(n for f in flat.values() for n in f))
    return [[n, *(f.get(n) for f in flat.values())] for n in names]


def _flatten(figures: dict, prefix: str = ""):
    for k, v in figures.items():
        if isinstance(v, dict) and v:
            yield from _flatten(v, f"{prefix}{k}.")
        elif isinstance(v, (list, tuple)) and len(v) > _LONGEST_LIST:
            yield f"{prefix}{k}", f"{len(v)} values (see report.json)"  # e.g. a histogram, plotted in HTML
        else:
            yield f"{prefix}{k}", v


_LONGEST_LIST = 8


def _is_table(v) -> bool:
    records = list(v.values()) if isinstance(v, dict) else v
    return isinstance(records, (list, tuple)) and bool(records) and all(isinstance(r, dict) for r in records)


def _records(v) -> tuple[list[str], list[list]]:
    rows = [{"": k, **r} for k, r in v.items()] if isinstance(v, dict) else list(v)
    cols = list(dict.fromkeys(c for r in rows for c in r))
    return cols, [[r.get(c) for c in cols] for r in rows]


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def to_markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    if report.checks:
        lines += ["## Checks", ""] + [f"- {c.line('**{}**')}" for c in report.checks]
        lines.append("")
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- ⚠ {w}" for w in report.warnings] + [""]
    for name, figures in report.sections.items():
        lines += [f"## {_title(name)}", ""]
        for caption, cols, rows in blocks(figures):
            lines += [f"**{caption}**", ""] if caption else []
            lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows] + [""]
    return "\n".join(lines)


_CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.ok{color:#137333}.bad{color:#b3261e}.warn{color:#8a5a00}img{max-width:100%}"""


def to_html(report: Report) -> str:
    """One file, no external resources: plots are embedded as PNG data URIs."""
    from .plots import plots

    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(report.title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(report.title)}</h1>"]
    if report.checks:
        parts.append("<h2>Checks</h2><ul>" + "".join(
            f"<li class='{'ok' if c.ok else 'bad'}'>{c.line('<b>{}</b>', e)}</li>"
            for c in report.checks) + "</ul>")
    if report.warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='warn'>⚠ {e(w)}</li>" for w in report.warnings)
                     + "</ul>")
    for title, png in plots(report):
        parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' src='data:image/png;base64,{png}'>")
    for name, figures in report.sections.items():
        parts.append(f"<h2>{e(_title(name))}</h2>")
        for caption, cols, rows in blocks(figures):
            parts.append((f"<p><b>{e(caption)}</b></p>" if caption else "") + "<table><tr>"
                         + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{e(fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
                         + "</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
