"""Plots for the HTML report (matplotlib, Agg backend, PNG as base64)."""
from __future__ import annotations

import base64
import io

from ..tflite.kind import KINDS
from . import Report


def plots(report: Report) -> list[tuple[str, str]]:
    """(title, base64 PNG) for each figure the report has data for."""
    s = report.sections
    out = []
    if isinstance(s.get("latency"), dict) and s["latency"]:
        out.append(("Latency histogram (ms)", _latency(s["latency"])))
    if s.get("layer_errors", {}).get("worst"):
        out.append(("Layers that lose the most to quantization", _layer_errors(s["layer_errors"]["worst"])))
    breakdowns = {m: report.model_figures("size", m)["breakdown"] for m in KINDS
                  if "breakdown" in report.model_figures("size", m)}
    if breakdowns:
        out.append(("Where the model's bytes go", _sizes(breakdowns)))
    return out


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(7, 3), dpi=100)


def _png(plt, fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _latency(latency: dict) -> str:
    plt, fig, ax = _figure()
    for model, record in latency.items():
        h = record.get("histogram_ms", {})
        if h.get("counts"):
            ax.stairs(h["counts"], h["edges"], fill=True, alpha=0.5, label=f"{model} (p50 {record['p50_ms']:.3g} ms)")
    ax.set_xlabel("ms per inference")
    ax.set_ylabel("runs")
    ax.legend()
    return _png(plt, fig)


def _layer_errors(worst: list[dict]) -> str:
    plt, fig, ax = _figure()
    ax.barh([f"{w['layer']} ({w['op']})" for w in worst][::-1], [w["rmse_lsb"] for w in worst][::-1])
    ax.set_xlabel("RMSE in quantization steps (LSB)")
    return _png(plt, fig)


def _sizes(breakdowns: dict) -> str:
    plt, fig, ax = _figure()
    labels = list(breakdowns)
    left = [0] * len(labels)
    for part in next(iter(breakdowns.values())):
        values = [breakdowns[m].get(part, 0) for m in labels]
        ax.barh(labels, values, left=left, label=part)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("bytes")
    ax.legend(fontsize=7)
    return _png(plt, fig)
