"""Plots for the HTML report (matplotlib, Agg backend, PNG as base64)."""
from __future__ import annotations

import base64
import io

from . import Report


def plots(report: Report) -> list[tuple[str, str]]:
    """(title, base64 PNG) for each figure the report has data for."""
    s = report.sections
    out = []
    if isinstance(s.get("latency"), dict) and s["latency"]:
        out.append(("Latency percentiles (ms)", _latency(s["latency"])))
    if s.get("layer_errors", {}).get("worst"):
        out.append(("Layers that lose the most to quantization", _layer_errors(s["layer_errors"]["worst"])))
    sizes = {k: v for k, v in s.get("size", {}).items() if k.endswith("_bytes")}
    if sizes:
        out.append(("Model size (bytes)", _sizes(sizes)))
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
    labels = list(latency)
    width = 0.8 / 3
    for k, p in enumerate(("p50_ms", "p90_ms", "p99_ms")):
        ax.bar([i + k * width for i in range(len(labels))], [latency[m][p] for m in labels], width, label=p[:3])
    ax.set_xticks([i + width for i in range(len(labels))], labels)
    ax.set_ylabel("ms")
    ax.legend()
    return _png(plt, fig)


def _layer_errors(worst: list[dict]) -> str:
    plt, fig, ax = _figure()
    ax.barh([f"{w['layer']} ({w['op']})" for w in worst][::-1], [w["rmse_lsb"] for w in worst][::-1])
    ax.set_xlabel("RMSE in quantization steps (LSB)")
    return _png(plt, fig)


def _sizes(sizes: dict) -> str:
    plt, fig, ax = _figure()
    ax.barh(list(sizes)[::-1], list(sizes.values())[::-1])
    ax.set_xlabel("bytes")
    return _png(plt, fig)
