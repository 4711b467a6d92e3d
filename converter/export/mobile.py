"""A bundle for mobile apps: the model, labels.txt and a model card summarising the report.

The model keeps edgeconv's metadata (preprocessing, output names, classes; see
tflite/metadata.py), which `edgeconv` and any flatbuffer reader can read back.
"""
from __future__ import annotations

from pathlib import Path

from ..report import Report
from ..tflite.metadata import edgeconv_info


def write_bundle(folder: Path, model: bytes, file_name: str, report: Report, description: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_bytes(model)
    info = edgeconv_info(model)
    written = [folder / file_name]
    if info.get("classes"):
        (folder / "labels.txt").write_text("\n".join(info["classes"]) + "\n")
        written.append(folder / "labels.txt")
    (folder / "model_card.md").write_text(model_card(file_name, info, report, description))
    written.append(folder / "model_card.md")
    return written


def model_card(file_name: str, info: dict, report: Report, description: str) -> str:
    s = report.sections
    v, conv = s.get("validation", {}), s.get("conversion", {})
    pre = info.get("preprocess", {})
    lines = [f"# {file_name}", "", description or "Converted with edgeconv.", "",
             "## Inputs and outputs", "",
             f"- mode: {conv.get('mode', '–')}, input/output type: {conv.get('io_type', '–')}",
             f"- preprocessing: scale {pre.get('scale', 1)}, offset {pre.get('offset', 0)}, mean {pre.get('mean')}, "
             f"std {pre.get('std')}, channel order {pre.get('channel_order', 'rgb')}",
             f"- outputs: {', '.join(info.get('outputs', [])) or '–'}", ""]
    if v:
        lines += ["## Accuracy", "", f"- samples: {v.get('samples')}",
                  f"- float accuracy: {_pct(v.get('reference_accuracy'))}, model accuracy: "
                  f"{_pct(v.get('candidate_accuracy'))}, top-1 agreement: {_pct(v.get('agreement'))}", ""]
    if report.checks:
        lines += ["## Checks", ""] + [f"- {'✓' if c.ok else '✗'} {c.name}: {c.detail}" for c in report.checks]
    return "\n".join(lines) + "\n"


def _pct(x) -> str:
    return "–" if x is None else f"{x * 100:.2f}%"
