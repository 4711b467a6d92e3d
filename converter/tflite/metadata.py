"""Named metadata entries inside a .tflite file (the flatbuffer's `metadata` table).

edgeconv stores what it knows about a model next to the weights, under `edgeconv`: the
preprocessing spec and the Keras output names, so any later command applies the same
preprocessing and matches outputs by name.
"""
from __future__ import annotations

import json

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .reader import read_model

EDGECONV = "edgeconv"


def add_metadata(model: bytes, name: str, data: bytes) -> bytes:
    """Return `model` with metadata `name` set to `data` (replacing an entry of that name)."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    m.metadata = [e for e in (m.metadata or []) if _name(e.name) != name]
    buf = schema.BufferT()
    buf.data = np.frombuffer(data, dtype=np.uint8)
    m.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(m.buffers) - 1
    m.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + len(data) + 1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_metadata(model: bytes, name: str) -> bytes | None:
    read_model(model)  # validates the file first: clear errors for non-models
    m = schema.Model.GetRootAs(model, 0)
    for i in range(m.MetadataLength()):
        entry = m.Metadata(i)
        if _name(entry.Name()) == name:
            return m.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def set_edgeconv_info(model: bytes, info: dict) -> bytes:
    return add_metadata(model, EDGECONV, json.dumps(info, sort_keys=True).encode())


def edgeconv_info(model: bytes) -> dict:
    raw = read_metadata(model, EDGECONV)
    return json.loads(raw) if raw else {}


def _name(n) -> str:
    return n.decode() if isinstance(n, bytes) else (n or "")
