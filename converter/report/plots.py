"""Plots for the HTML report (matplotlib, Agg backend, PNG as base64), each shown with the
section it illustrates, in the units of the tables."""
from __future__ import annotations

import base64
import io
from pathlib import Path

from ..tflite.kind import KINDS
from . import Report
from .units import duration, size

_LSB_GUIDE = 0.5  # quant_debug: above ~0.3-0.5 LSB a layer is a candidate for float or 16-bit
_MOST_EXPLANATIONS = 4  # embedded figures; the rest stay files in the run folder


def section_plots(report: Report, section: str, folder: Path | None = None) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for the figures `section` has data for."""
    figures = report.sections.get(section, {})
    if section == "latency":
        records = {m: r for m, r in figures.items() if m in KINDS and isinstance(r, dict) and "p50_ms" in r}
        return [("Latency: percentiles and histogram of the timed runs", _latency(records))] if records else []
    if section == "layer_errors" and figures.get("worst"):
        return [("Layers that lose the most to quantization (dashed: 0.5 LSB, where a layer starts to matter)",
                 _layer_errors(figures["worst"]))]
    if section == "size":
        breakdowns = {m: r["breakdown"] for m, r in figures.items() if isinstance(r, dict) and r.get("breakdown")}
        return [("Where the model's bytes go", _sizes(breakdowns))] if breakdowns else []
    if section == "tune" and any("accuracy" in t for t in figures.get("trials", [])):
        return [("Trials: accuracy against latency and arena (green: fits every budget; ringed and numbered: the "
                 "Pareto front of those, over accuracy, latency, arena and flash)", _tune(figures["trials"], figures.get("pareto_front", [])))]
    if section == "explanation" and folder is not None:
        return [(f"Explanation of sample {name.split('_')[-1].split('.')[0]}: float vs converted model", png)
                for name, png in _explanation_figures(folder, figures.get("figures", []))]
    return []


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(plt, fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _time_unit(ms_values) -> tuple[str, float]:
    """µs when every figure is under a millisecond, else ms: the axis reads like the table."""
    return ("µs", 1e3) if max(ms_values) < 1 else ("ms", 1.0)


def _latency(records: dict[str, dict]) -> str:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 2.8), dpi=100)
    unit, scale = _time_unit([r.get("p99_ms", r["p50_ms"]) for r in records.values()])
    for row, (model, r) in enumerate(records.items()):
        points = [r.get(p) for p in ("p50_ms", "p90_ms", "p99_ms")]
        left.plot([p * scale for p in points if p is not None], [row] * len([p for p in points if p is not None]),
                  "-o", label=model)
        left.annotate(f"p50 {duration(r['p50_ms'])}", (r["p50_ms"] * scale, row), textcoords="offset points",
                      xytext=(0, 6), fontsize=8)
        h = r.get("histogram_ms", {})
        if h.get("counts"):
            right.stairs(h["counts"], [e * scale for e in h["edges"]], fill=True, alpha=0.5,
                         label=f"{model}, {r.get('runs', sum(h['counts']))} runs")
    left.set_yticks(range(len(records)), list(records))
    left.set_ylim(-0.6, len(records) - 0.3)
    left.set_xlabel(f"{unit} per inference (p50, p90, p99)")
    right.set_yscale("log")  # one slow run among hundreds stays visible
    right.set_xlabel(f"{unit} per inference")
    right.set_ylabel("runs")
    right.legend(fontsize=8)
    return _png(plt, fig)


def _layer_errors(worst: list[dict]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(worst) + 1), dpi=100)
    ax.barh([f"{w['layer']} ({w['op']})" for w in worst][::-1], [w["rmse_lsb"] for w in worst][::-1])
    ax.axvline(_LSB_GUIDE, linestyle="--", color="gray")
    ax.set_xlabel("RMSE in quantization steps (LSB)")
    return _png(plt, fig)


def _sizes(breakdowns: dict[str, dict]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(breakdowns) + 1.2), dpi=100)
    labels = list(breakdowns)
    left = [0.0] * len(labels)
    parts = list(dict.fromkeys(p for b in breakdowns.values() for p in b))
    for part in parts:
        values = [breakdowns[m].get(part, 0) / 1024 for m in labels]
        if any(values):
            ax.barh(labels, values, left=left, label=part.replace("_", " "))
        left = [a + b for a, b in zip(left, values)]
    for row, total in enumerate(left):
        ax.annotate(size(total * 1024), (total, row), textcoords="offset points", xytext=(4, -3), fontsize=8)
    ax.set_xlim(0, max(left) * 1.18)
    ax.set_xlabel("KB in the .tflite file")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(plt, fig)


def _tune(trials: list[dict], front: list[dict]) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100, sharey=True)
    measured = [t for t in trials if "accuracy" in t and "latency_ms" in t]
    unit, scale = _time_unit([t["latency_ms"] for t in measured])
    for ax, key, xscale, xlabel in ((axes[0], "latency_ms", scale, f"latency p50 ({unit})"),
                                    (axes[1], "arena_bytes", 1 / 1024, "total arena (KB)")):
        for fits, colour in ((False, "#999999"), (True, "#137333")):
            group = [t for t in measured if bool(t.get("fits")) == fits and key in t]
            ax.scatter([t[key] * xscale for t in group], [t["accuracy"] * 100 for t in group], c=colour, s=22,
                       label="fits the budgets" if fits else "misses a budget")
        ring = [t for t in front if key in t]  # the front is over four objectives: ringed, not joined
        ax.scatter([t[key] * xscale for t in ring], [t["accuracy"] * 100 for t in ring], s=90, facecolors="none",
                   edgecolors="#137333", label="Pareto front")
        for t in ring:
            ax.annotate(str(t["trial"]), (t[key] * xscale, t["accuracy"] * 100), textcoords="offset points",
                        xytext=(3, 3), fontsize=7)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=7)
    return _png(plt, fig)


def _explanation_figures(folder: Path, names: list[str]):
    """The explain step's PNGs, from the run folder (explain/ there, or the folder itself)."""
    found = 0
    for name in names:
        for path in (folder / "explain" / name, folder / name):
            if path.is_file() and found < _MOST_EXPLANATIONS:
                found += 1
                yield name, base64.b64encode(path.read_bytes()).decode()
                break
