"""A bundle for mobile apps: the model with standard TFLite metadata (normalization, image
properties, labels packed as an associated file; see tflite_metadata.py), labels.txt, and a
model card summarising the report. edgeconv's own metadata stays in the model too."""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..report import Report
from ..tflite.metadata import edgeconv_info
from ..tflite.reader import read_model
from .tflite_metadata import MobileMetadata, with_metadata


def write_bundle(folder: Path, model: bytes, file_name: str, report: Report, description: str = "") -> list[Path]:
    parsed = read_model(model)
    _check_one_input_and_output(parsed, file_name)
    folder.mkdir(parents=True, exist_ok=True)
    info = edgeconv_info(model)
    model = with_metadata(model, standard_metadata(parsed, info, file_name, description), info.get("classes"))
    (folder / file_name).write_bytes(model)
    written = [folder / file_name]
    if info.get("classes"):
        (folder / "labels.txt").write_text("\n".join(info["classes"]) + "\n")
        written.append(folder / "labels.txt")
    (folder / "model_card.md").write_text(model_card(file_name, info, report, description))
    written.append(folder / "model_card.md")
    return written


def _check_one_input_and_output(m, file_name: str) -> None:
    inputs, outputs = len(m.main.inputs), len(m.main.outputs)
    if (inputs, outputs) != (1, 1):
        raise ModelError(f"the mobile bundle's metadata describes one input and one output; {file_name} has "
                         f"{inputs} input(s) and {outputs} output(s)",
                         hint="package it with --format c-array, or write its metadata with the TFLite Support "
                              "metadata writers")


def _description(info: dict, description: str) -> str:
    if description:
        return description
    if "preprocess" in info:
        return "Converted with edgeconv."
    return "Packaged by edgeconv (not converted by it: its preprocessing is unknown)."


def standard_metadata(m, info: dict, file_name: str, description: str) -> MobileMetadata:
    """edgeconv's preprocessing (x * scale + offset, or (x - mean) / std) as the standard
    normalization (x - mean) / std that app code generators apply; none for a model edgeconv
    did not convert (its preprocessing is not recorded, so nothing is claimed)."""
    pre = info.get("preprocess")
    if pre is None:
        mean = std = None
    elif pre.get("mean") is not None:
        mean, std = tuple(pre["mean"]), tuple(pre["std"])
    else:
        scale, offset = pre.get("scale", 1.0), pre.get("offset", 0.0)
        mean, std = (-offset / scale,), (1 / scale,)
    shape = m.main.tensor(m.main.inputs[0]).shape_signature
    return MobileMetadata(name=file_name.rsplit(".", 1)[0], description=_description(info, description),
                          version="1", input_name=m.input_names()[0], mean=mean, std=std,
                          image=tuple(shape[1:]) if len(shape) == 4 else None, output_name=m.output_names()[0],
                          labels_file="labels.txt" if info.get("classes") else None)


def model_card(file_name: str, info: dict, report: Report, description: str) -> str:
    s = report.sections
    v, conv = s.get("validation", {}), s.get("conversion", {})
    lines = [f"# {file_name}", "", _description(info, description), "",
             "## Inputs and outputs", "",
             f"- mode: {conv.get('mode', '–')}, input/output type: {conv.get('io_type', '–')}",
             _preprocessing_line(info.get("preprocess")),
             f"- outputs: {', '.join(info.get('outputs', [])) or '–'}", ""]
    if v:
        lines += ["## Accuracy", "", f"- samples: {v.get('samples')}",
                  f"- float accuracy: {_pct(v.get('reference_accuracy'))}, model accuracy: "
                  f"{_pct(v.get('candidate_accuracy'))}, top-1 agreement: {_pct(v.get('agreement'))}", ""]
    if report.checks:
        lines += ["## Checks", ""] + [f"- {c.line()}" for c in report.checks]
    return "\n".join(lines) + "\n"


def _preprocessing_line(pre: dict | None) -> str:
    if pre is None:
        return "- preprocessing: unknown (the model does not record it: it was not converted by edgeconv)"
    return (f"- preprocessing: scale {pre.get('scale', 1)}, offset {pre.get('offset', 0)}, mean {pre.get('mean')}, "
            f"std {pre.get('std')}, channel order {pre.get('channel_order', 'rgb')}")


def _pct(x) -> str:
    return "–" if x is None else f"{x * 100:.2f}%"
