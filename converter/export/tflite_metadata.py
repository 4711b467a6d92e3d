"""Standard TFLite model metadata (the `TFLITE_METADATA` entry, schema metadata_schema.fbs,
file identifier "M001") that Android Studio's ML model binding and the TFLite metadata readers
understand: model name and description, input normalization and image properties, and the
labels file, packed into the model as a zip of associated files.

Written with the flatbuffers builder directly; field slots follow the schema's declaration
order (a union takes two slots: its type, then its value).
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers

from ..tflite.metadata import add_metadata

METADATA_NAME = "TFLITE_METADATA"
PARSER_VERSION = "1.0.0"
IMAGE_PROPERTIES, FEATURE_PROPERTIES = 2, 1  # ContentProperties union members
NORMALIZATION = 1  # ProcessUnitOptions union member
RGB, GRAYSCALE = 1, 2  # ColorSpaceType
TENSOR_AXIS_LABELS = 2  # AssociatedFileType


@dataclass(frozen=True)
class MobileMetadata:
    name: str
    description: str
    version: str
    input_name: str
    mean: tuple[float, ...] | None  # None: the normalization is unknown (a model edgeconv did not convert)
    std: tuple[float, ...] | None
    image: tuple[int, int, int] | None  # (height, width, channels) for image inputs; -1: a free size
    output_name: str
    labels_file: str | None


def with_metadata(model: bytes, meta: MobileMetadata, labels: list[str] | None = None) -> bytes:
    """The model with TFLITE_METADATA set and, when labels are given, labels packed as an
    associated file (a zip appended to the flatbuffer, as the metadata populator does)."""
    out = add_metadata(model, METADATA_NAME, build(meta))
    if not labels:
        return out
    buf = io.BytesIO(out)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(meta.labels_file, date_time=(1980, 1, 1, 0, 0, 0)), "\n".join(labels) + "\n")
    return buf.getvalue()


def build(meta: MobileMetadata) -> bytes:
    b = flatbuffers.Builder(1024)
    strings = {k: b.CreateString(v) for k, v in (("name", meta.name), ("description", meta.description),
                                                 ("version", meta.version), ("parser", PARSER_VERSION))}
    input_md = _input_tensor(b, meta)
    output_md = _output_tensor(b, meta)
    subgraph = _table(b, [(2, _vector(b, [input_md])), (3, _vector(b, [output_md]))])
    root = _table(b, [(0, strings["name"]), (1, strings["description"]), (2, strings["version"]),
                      (3, _vector(b, [subgraph])), (7, strings["parser"])])
    b.Finish(root, file_identifier=b"M001")
    return bytes(b.Output())


def _input_tensor(b, meta: MobileMetadata) -> int:
    name = b.CreateString(meta.input_name)
    known = meta.mean is not None
    desc = b.CreateString("Input, normalized as (x - mean) / std before quantization." if known else
                          "Input (its normalization is not recorded in the model).")
    units = [_table(b, [(0, NORMALIZATION, "u8"), (1, _table(b, [(0, _floats(b, meta.mean)),
                                                                 (1, _floats(b, meta.std))]))])] if known else []
    if meta.image:
        height, width, channels = meta.image
        size = [(1, _table(b, [(0, width, "u32"), (1, height, "u32")]))] if height > 0 and width > 0 else []
        props = _table(b, [(0, GRAYSCALE if channels == 1 else RGB, "u8"), *size])
        content = _table(b, [(0, IMAGE_PROPERTIES, "u8"), (1, props)])
    else:
        content = _table(b, [(0, FEATURE_PROPERTIES, "u8"), (1, _table(b, []))])
    return _table(b, [(0, name), (1, desc), (3, content), *([(4, _vector(b, units))] if units else [])])


def _output_tensor(b, meta: MobileMetadata) -> int:
    name = b.CreateString(meta.output_name)
    desc = b.CreateString("Scores per class.")
    fields = [(0, name), (1, desc), (3, _table(b, [(0, FEATURE_PROPERTIES, "u8"), (1, _table(b, []))]))]
    if meta.labels_file:
        label = _table(b, [(0, b.CreateString(meta.labels_file)), (1, b.CreateString("Class labels.")),
                           (2, TENSOR_AXIS_LABELS, "u8")])
        fields.append((6, _vector(b, [label])))
    return _table(b, fields)


def _table(b, fields: list[tuple]) -> int:
    """fields: (slot, offset) or (slot, value, 'u8'|'u32') for scalars."""
    b.StartObject(max((f[0] for f in fields), default=-1) + 1)
    for field in fields:
        if len(field) == 3:
            slot, value, kind = field
            (b.PrependUint8Slot if kind == "u8" else b.PrependUint32Slot)(slot, value, 0)
        else:
            b.PrependUOffsetTRelativeSlot(field[0], field[1], 0)
    return b.EndObject()


def _vector(b, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _floats(b, values) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def read_back(model: bytes) -> dict:
    """The fields edgeconv writes, read from a model's TFLITE_METADATA and its zip of
    associated files (what a metadata reader sees)."""
    from flatbuffers import util

    from ..tflite.metadata import read_metadata

    raw = read_metadata(model, METADATA_NAME)
    if raw is None:
        return {}
    if util.GetBufferIdentifier(raw, 0) != b"M001":
        raise ValueError("TFLITE_METADATA does not carry the M001 identifier")
    root = _root(raw)
    sub = _at(raw, _vec(root, 3)[0])
    tin, tout = _at(raw, _vec(sub, 2)[0]), _at(raw, _vec(sub, 3)[0])
    units = _vec(tin, 4)
    norm = _ref(_at(raw, units[0]), 1) if units else None
    files = _vec(tout, 6)
    packed = {}
    if zipfile.is_zipfile(io.BytesIO(model)):
        with zipfile.ZipFile(io.BytesIO(model)) as z:
            packed = {n: z.read(n).decode() for n in z.namelist()}
    return {"name": _str(root, 0), "description": _str(root, 1), "version": _str(root, 2),
            "min_parser_version": _str(root, 7), "input": _str(tin, 0), "output": _str(tout, 0),
            "mean": _floatvec(norm, 0) if norm else None, "std": _floatvec(norm, 1) if norm else None,
            "content_type": _u8(_ref(tin, 3), 0), "image_size": _image_size(tin),
            "labels_file": _str(_at(raw, files[0]), 0) if files else None, "associated_files": packed}


def _root(raw: bytes):
    from flatbuffers import table

    return table.Table(raw, flatbuffers.encode.Get(flatbuffers.packer.uoffset, raw, 0))


def _at(raw, pos: int):
    from flatbuffers import table

    return table.Table(raw, pos)


def _ref(t, slot: int):
    o = t.Offset(4 + 2 * slot)
    return _at(t.Bytes, t.Indirect(o + t.Pos)) if o else None


def _vec(t, slot: int) -> list[int]:
    o = t.Offset(4 + 2 * slot)
    if not o:
        return []
    start = t.Vector(o)
    return [t.Indirect(start + 4 * i) for i in range(t.VectorLen(o))]


def _str(t, slot: int) -> str | None:
    o = t.Offset(4 + 2 * slot)
    return t.String(o + t.Pos).decode() if o else None


def _floatvec(t, slot: int) -> list[float]:
    o = t.Offset(4 + 2 * slot)
    if not o:
        return []
    return [float(v) for v in t.GetVectorAsNumpy(flatbuffers.number_types.Float32Flags, o)]


def _u8(t, slot: int) -> int:
    o = t.Offset(4 + 2 * slot)
    return t.Get(flatbuffers.number_types.Uint8Flags, o + t.Pos) if o else 0


def _u32(t, slot: int) -> int:
    o = t.Offset(4 + 2 * slot)
    return t.Get(flatbuffers.number_types.Uint32Flags, o + t.Pos) if o else 0


def _image_size(tin) -> tuple[int, int] | None:
    """(width, height) of an image input's default size, None when not recorded."""
    content = _ref(tin, 3)
    props = _ref(content, 1) if content is not None and _u8(content, 0) == IMAGE_PROPERTIES else None
    size = _ref(props, 1) if props is not None else None
    return None if size is None else (_u32(size, 0), _u32(size, 1))
