"""A bundle for mobile apps: the model with standard TFLite metadata (normalization, image
properties, labels packed as an associated file; see tflite_metadata.py), labels.txt, and a
model card summarising the report. edgeconv's own metadata stays in the model too."""
from __future__ import annotations

from pathlib import Path

from ..report import Report
from ..tflite.metadata import edgeconv_info
from ..tflite.reader import read_model
from .tflite_metadata import MobileMetadata, with_metadata


def write_bundle(folder: Path, model: bytes, file_name: str, report: Report, description: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    info = edgeconv_info(model)
    model = with_metadata(model, standard_metadata(model, info, file_name, description), info.get("classes"))
    (folder / file_name).write_bytes(model)
    written = [folder / file_name]
    if info.get("classes"):
        (folder / "labels.txt").write_text("\n".join(info["classes"]) + "\n")
        written.append(folder / "labels.txt")
    (folder / "model_card.md").write_text(model_card(file_name, info, report, description))
    written.append(folder / "model_card.md")
    return written


def standard_metadata(model: bytes, info: dict, file_name: str, description: str) -> MobileMetadata:
    """edgeconv's preprocessing (x * scale + offset, or (x - mean) / std) as the standard
    normalization (x - mean) / std that app code generators apply."""
    pre = info.get("preprocess", {})
    if pre.get("mean") is not None:
        mean, std = tuple(pre["mean"]), tuple(pre["std"])
    else:
        scale, offset = pre.get("scale", 1.0), pre.get("offset", 0.0)
        mean, std = (-offset / scale,), (1 / scale,)
    m = read_model(model)
    shape = m.main.tensor(m.main.inputs[0]).shape
    return MobileMetadata(name=file_name.rsplit(".", 1)[0], description=description or "Converted with edgeconv.",
                          version="1", input_name=m.input_names()[0], mean=mean, std=std,
                          image=tuple(shape[1:]) if len(shape) == 4 else None, output_name=m.output_names()[0],
                          labels_file="labels.txt" if info.get("classes") else None)


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
        lines += ["## Checks", ""] + [f"- {c.line()}" for c in report.checks]
    return "\n".join(lines) + "\n"


def _pct(x) -> str:
    return "–" if x is None else f"{x * 100:.2f}%"
