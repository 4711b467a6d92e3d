"""Report -> Markdown and one self-contained HTML file. Both tell the same story in the same
order: the summary card (does it fit, what did it cost), the checks, then one part per step
with short tables; the HTML adds a plot where a plot says more."""
from __future__ import annotations

import html
from pathlib import Path

from . import Report
from .present import blocks
from .summary import summary_card

# Which step's part a section belongs to; a section not listed gets a part of its own.
STEPS = {"conversion": "Conversion", "layer_errors": "Conversion",
         "validation": "Validation", "latency": "Validation", "memory": "Validation", "compute": "Validation",
         "size": "Validation", "data": "Validation", "explanation": "Explanation"}


def parts(report: Report) -> dict[str, list[str]]:
    """{part title: [section names]} in the order the sections were added, 'Model' first."""
    out: dict[str, list[str]] = {}
    for name in sorted(report.sections, key=lambda n: n != "model"):
        out.setdefault(STEPS.get(name, _title(name)), []).append(name)
    order = list(STEPS)  # within a part, the step's own section first
    return {part: sorted(names, key=lambda n: order.index(n) if n in order else len(order))
            for part, names in out.items()}


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def to_markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    card = summary_card(report)
    if card.rows or card.checks:
        lines += ["## Summary", ""]
        if card.rows:
            lines += _md_table(*card.table())
        lines += [f"**{card.verdict}**", ""] if card.verdict else []
    if report.checks:
        lines += ["## Checks", ""] + [f"- {c.line('**{}**')}" for c in report.checks] + [""]
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- ⚠ {w}" for w in report.warnings] + [""]
    for part, names in parts(report).items():
        lines += [f"## {part}", ""]
        for name in names:
            lines += [f"### {_title(name)}", ""] if _title(name) != part else []
            for caption, cols, rows in blocks(name, report.sections[name]):
                lines += ([f"**{caption}**", ""] if caption else []) + _md_table(cols, rows)
    return "\n".join(lines)


def _md_table(cols: list[str], rows: list[list[str]]) -> list[str]:
    esc = lambda text: str(text).replace("|", "\\|")  # noqa: E731 - a '|' in a cell would split it
    return (["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows] + [""])


_CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.ok{color:#137333}.bad{color:#b3261e}.warn{color:#8a5a00}
img{max-width:100%}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.card{border:2px solid #888;border-radius:8px;padding:.6em 1.2em;margin:1em 0 1.5em;background:#fafafa}
.card h2{border:0;margin:.3em 0}.card table{width:100%}.card td:first-child{font-weight:600;width:38%}
.card .verdict{font-size:1.15em;font-weight:600}.card.fail{border-color:#b3261e}.card.pass{border-color:#137333}
figure{margin:.5em 0 1.5em}figcaption{color:#555;font-size:.9em}
@page{size:A4;margin:14mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:10.5pt}.card,figure,tr,img{break-inside:avoid}
h2,h3{break-after:avoid}th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}}"""


def to_html(report: Report, folder: Path | None = None) -> str:
    """One file, no external resources: plots (and the explanation figures found in `folder`,
    the run folder) are embedded as PNG data URIs."""
    from .plots import section_plots

    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
           f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{e(report.title)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{e(report.title)}</h1>", _html_card(report)]
    if report.checks:
        out.append("<h2>Checks</h2><ul class='checks'>" + "".join(
            f"<li class='{'ok' if c.ok else 'bad'}'>{c.line('<b>{}</b>', e)}</li>" for c in report.checks) + "</ul>")
    if report.warnings:
        out.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='warn'>⚠ {e(w)}</li>" for w in report.warnings)
                   + "</ul>")
    for part, names in parts(report).items():
        out.append(f"<section><h2>{e(part)}</h2>")
        for name in names:
            if _title(name) != part:
                out.append(f"<h3>{e(_title(name))}</h3>")
            out += [(f"<p><b>{e(caption)}</b></p>" if caption else "") + _html_table(cols, rows)
                    for caption, cols, rows in blocks(name, report.sections[name])]
            out += [f"<figure><img alt='{e(title)}' src='data:image/png;base64,{png}'>"
                    f"<figcaption>{e(title)}</figcaption></figure>" for title, png in section_plots(report, name, folder)]
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _html_card(report: Report) -> str:
    card = summary_card(report)
    if not card.rows and not card.checks:
        return ""
    state = "" if not card.checks else (" pass" if all(c.ok for c in card.checks) else " fail")
    body = _html_table(*card.table()) if card.rows else ""
    verdict = f"<p class='verdict {'ok' if 'pass' in state else 'bad'}'>{html.escape(card.verdict)}</p>" \
        if card.verdict else ""
    return f"<div class='card{state}' id='summary'><h2>Summary</h2>{body}{verdict}</div>"


def _html_table(cols: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    return ("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in rows) + "</table>")
